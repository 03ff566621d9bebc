package atlassian

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	inlet "inlet.dev/sdk"
)

// Waits between retries of a failed request: doubled each time, from RetryBase to RetryMax.
// A 429 waits what its Retry-After says (DefaultThrottle without one, as Elastic does), capped
// at MaxThrottle. Variables so that tests can shorten them.
var (
	RetryBase       = 1 * time.Second
	RetryMax        = 30 * time.Second
	DefaultThrottle = 30 * time.Second
	MaxThrottle     = 5 * time.Minute
)

// MaxRedirects is how many redirects one request follows (Atlassian Cloud answers attachment
// downloads with a redirect to its media service).
const MaxRedirects = 5

// MaxInFlight is how many requests one inlet.HTTPDoAll call carries: the host's default cap of
// requests in flight per connector (grants.http_limits.max_concurrent_requests). The SDK
// awaits the responses in order while the host holds a request's slot until its body has been
// read, so a call with more requests than slots can wait forever on one that never got a
// slot (seen with 18 requests for 16 slots); groups larger than this go out in turns.
const MaxInFlight = 16

// Client sends GETs to an Atlassian product with the connectors' retry policy. The credential
// is the host's business: nothing here sets Authorization.
type Client struct {
	// BaseURL is where relative links (`_links.next`, download links) are joined: the
	// configured URL, plus `/wiki` on Confluence Cloud.
	BaseURL string
	// Retries is retry_count: how often a throttled or failing request is sent again.
	Retries int
	Sleep   func(time.Duration)
}

// NewClient is a Client that sleeps through the host's clock.
func NewClient(baseURL string, retries int) *Client {
	return &Client{BaseURL: baseURL, Retries: retries, Sleep: inlet.Sleep}
}

// ErrNotFound is in the chain of a 404's error: content deleted while a sync runs is skipped,
// not a failure.
var ErrNotFound = errors.New("not found")

// Get fetches url, retrying (up to Retries times) on 429 (after Retry-After), 5xx, and
// connection failures, and following redirects. It fails with an auth error on 401/403 (no
// retry), a network error when the retries are exhausted or the host refused the origin, and a
// source error on other 4xx (ErrNotFound in the chain for a 404).
func (c *Client) Get(url string) (*inlet.Response, error) {
	resps, errs := c.GetAll([]string{url})
	return resps[0], errs[0]
}

// GetJSON fetches url and decodes its JSON body into v.
func (c *Client) GetJSON(url string, v any) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	return resp.JSON(v)
}

// GetAll fetches the URLs concurrently (inlet.HTTPDoAll, MaxInFlight at a time), each with
// Get's policy; the ones to retry are sent again together after the longest wait any of them
// asks for, and redirected ones at once.
func (c *Client) GetAll(urls []string) ([]*inlet.Response, []error) {
	resps := make([]*inlet.Response, len(urls))
	errs := make([]error, len(urls))
	current := append([]string(nil), urls...)
	tries := make([]int, len(urls))
	hops := make([]int, len(urls))
	pending := make([]int, len(urls))
	for i := range urls {
		pending[i] = i
	}
	backoff := RetryBase
	for len(pending) > 0 {
		reqs := make([]*inlet.Request, len(pending))
		for j, i := range pending {
			reqs[j] = &inlet.Request{Method: "GET", URL: current[i], Header: inlet.Header{"accept": {"application/json"}}}
		}
		got, gotErrs := doAll(reqs)
		var again []int
		wait, throttled := time.Duration(0), false
		for j, i := range pending {
			if next, ok := redirect(got[j], gotErrs[j], current[i]); ok {
				if hops[i] >= MaxRedirects {
					errs[i] = inlet.Errorf(inlet.KindSource, "GET %s: more than %d redirects", urls[i], MaxRedirects)
					continue
				}
				hops[i]++
				current[i] = next
				again = append(again, i)
				continue
			}
			w, retry := verdict(got[j], gotErrs[j])
			if retry && tries[i] < c.Retries {
				tries[i]++
				again = append(again, i)
				if w == useBackoff {
					w = backoff
				}
				wait, throttled = max(wait, w), true
				inlet.Warnf("GET %s: %s; retrying in %s (%d/%d)", current[i], describe(got[j], gotErrs[j]), w, tries[i], c.Retries)
				continue
			}
			resps[i], errs[i] = outcome(got[j], gotErrs[j], retry, c.Retries)
		}
		if throttled {
			c.Sleep(wait)
			backoff = min(backoff*2, RetryMax)
		}
		pending = again
	}
	return resps, errs
}

// doAll is inlet.HTTPDoAll in turns of at most MaxInFlight requests.
func doAll(reqs []*inlet.Request) ([]*inlet.Response, []error) {
	resps := make([]*inlet.Response, 0, len(reqs))
	errs := make([]error, 0, len(reqs))
	for start := 0; start < len(reqs); start += MaxInFlight {
		r, e := inlet.HTTPDoAll(reqs[start:min(start+MaxInFlight, len(reqs))])
		resps, errs = append(resps, r...), append(errs, e...)
	}
	return resps, errs
}

// redirect is the absolute URL a 3xx answer points to, resolved against the URL asked for.
func redirect(resp *inlet.Response, err error, from string) (string, bool) {
	if err != nil || resp == nil {
		return "", false
	}
	switch resp.Status {
	case 301, 302, 303, 307, 308:
	default:
		return "", false
	}
	loc := strings.TrimSpace(resp.Header.Get("location"))
	if loc == "" {
		return "", false
	}
	base, err := url.Parse(from)
	if err != nil {
		return "", false
	}
	ref, err := url.Parse(loc)
	if err != nil {
		return "", false
	}
	return base.ResolveReference(ref).String(), true
}

// outcome is the final result of one request: gaveUp says it still wanted a retry.
func outcome(resp *inlet.Response, err error, gaveUp bool, retries int) (*inlet.Response, error) {
	switch {
	case gaveUp:
		if err == nil {
			err = resp.Err()
		}
		msg := inlet.AsError(err).Message
		if retries > 0 {
			msg += " (still failing after " + strconv.Itoa(retries) + " retries; retry_count)"
		}
		return nil, inlet.NetworkError(msg)
	case err != nil:
		return nil, err
	case resp.Status == 404:
		return resp, inlet.Errorf(inlet.KindSource, "%s (%w)", inlet.AsError(resp.Err()).Message, ErrNotFound)
	}
	return resp, resp.Err()
}

// useBackoff as a wait means "the next exponential backoff step".
const useBackoff time.Duration = -1

// verdict says whether a response or error is worth retrying, and how long to wait first.
func verdict(resp *inlet.Response, err error) (time.Duration, bool) {
	switch {
	case err != nil:
		// A refused origin or a refused credential stays refused; a broken connection may not.
		var e *inlet.Error
		if errors.Is(err, inlet.ErrRequestDenied) || (errors.As(err, &e) && e.Kind != inlet.KindNetwork) {
			return 0, false
		}
		return useBackoff, true
	case resp.Status == 429:
		return min(resp.RetryAfter(DefaultThrottle), MaxThrottle), true
	case resp.Status >= 500:
		return useBackoff, true
	}
	return 0, false
}

func describe(resp *inlet.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return "HTTP " + strconv.Itoa(resp.Status)
}

// Resolve makes a link relative to the API's base (e.g. Confluence's
// `/rest/api/content/search?cursor=...`) absolute. Like Elastic's connectors it joins it to the
// configured URL rather than a base the server names: the granted origin is the configured
// one, and a server behind a proxy may not know its public address.
func (c *Client) Resolve(link string) string {
	if strings.HasPrefix(link, "http://") || strings.HasPrefix(link, "https://") {
		return link
	}
	return c.BaseURL + "/" + strings.TrimPrefix(link, "/")
}

// ErrStopped ends a walk early because the host dropped the sync (Emit returned false).
var ErrStopped = inlet.CancelledError("the host stopped the sync")

// Emit sends d, or returns ErrStopped when the host dropped the sync.
func Emit(e *inlet.Emitter, d inlet.Document) error {
	if !e.Emit(d) {
		return ErrStopped
	}
	return nil
}
