package main

import (
	"errors"
	"strconv"
	"strings"
	"time"

	inlet "inlet.dev/sdk"
)

// Waits between retries of a failed request: doubled each time, from retryBase to retryMax.
// A 429 waits what its Retry-After says (defaultThrottle without one, as Elastic does), capped.
var (
	retryBase       = 1 * time.Second
	retryMax        = 30 * time.Second
	defaultThrottle = 30 * time.Second
	maxThrottle     = 5 * time.Minute
)

// client sends GETs to Confluence with the connector's retry policy. The credential is the
// host's business: nothing here sets Authorization.
type client struct {
	baseURL string
	retries int
	sleep   func(time.Duration)
}

func newClient(s *settings) *client {
	return &client{baseURL: s.baseURL, retries: s.retries, sleep: inlet.Sleep}
}

// get fetches url, retrying (up to retry_count times) on 429 (after Retry-After), 5xx, and
// connection failures. It fails with an auth error on 401/403 (no retry), a network error when
// the retries are exhausted or the host refused the origin, and a source error on other 4xx
// (errNotFound in the chain for a 404).
func (c *client) get(url string) (*inlet.Response, error) {
	resps, errs := c.getAll([]string{url})
	return resps[0], errs[0]
}

// getAll fetches the URLs concurrently (inlet.HTTPDoAll), each with get's retry policy; the
// ones to retry are sent again together after the longest wait any of them asks for.
func (c *client) getAll(urls []string) ([]*inlet.Response, []error) {
	resps := make([]*inlet.Response, len(urls))
	errs := make([]error, len(urls))
	pending := make([]int, len(urls))
	for i := range urls {
		pending[i] = i
	}
	backoff := retryBase
	for attempt := 0; len(pending) > 0; attempt++ {
		reqs := make([]*inlet.Request, len(pending))
		for j, i := range pending {
			reqs[j] = &inlet.Request{Method: "GET", URL: urls[i], Header: inlet.Header{"accept": {"application/json"}}}
		}
		got, gotErrs := inlet.HTTPDoAll(reqs)
		var again []int
		wait := time.Duration(0)
		for j, i := range pending {
			w, retry := c.verdict(got[j], gotErrs[j])
			if retry && attempt < c.retries {
				again = append(again, i)
				if w == useBackoff {
					w = backoff
				}
				wait = max(wait, w)
				inlet.Warnf("GET %s: %s; retrying in %s (%d/%d)", urls[i], describe(got[j], gotErrs[j]), w, attempt+1, c.retries)
				continue
			}
			resps[i], errs[i] = outcome(got[j], gotErrs[j], retry, c.retries)
		}
		if len(again) > 0 {
			c.sleep(wait)
			backoff = min(backoff*2, retryMax)
		}
		pending = again
	}
	return resps, errs
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
		return resp, inlet.Errorf(inlet.KindSource, "%s (%w)", inlet.AsError(resp.Err()).Message, errNotFound)
	}
	return resp, resp.Err()
}

// errNotFound is in the chain of a 404's error: content deleted while a sync runs is skipped,
// not a failure.
var errNotFound = errors.New("not found")

// useBackoff as a wait means "the next exponential backoff step".
const useBackoff time.Duration = -1

// verdict says whether a response or error is worth retrying, and how long to wait first.
func (c *client) verdict(resp *inlet.Response, err error) (time.Duration, bool) {
	switch {
	case err != nil:
		// A refused origin or a refused credential stays refused; a broken connection may not.
		var e *inlet.Error
		if errors.Is(err, inlet.ErrRequestDenied) || (errors.As(err, &e) && e.Kind != inlet.KindNetwork) {
			return 0, false
		}
		return useBackoff, true
	case resp.Status == 429:
		return min(resp.RetryAfter(defaultThrottle), maxThrottle), true
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

// getJSON fetches url and decodes its JSON body into v.
func (c *client) getJSON(url string, v any) error {
	resp, err := c.get(url)
	if err != nil {
		return err
	}
	return resp.JSON(v)
}

// resolve makes a link from Confluence's `_links` (relative to the API's base, e.g.
// `/rest/api/content/search?cursor=...`) absolute. Like Elastic's connector it joins it to the
// configured URL rather than `_links.base`: the granted origin is the configured one, and a
// server behind a proxy may not know its public address.
func (c *client) resolve(link string) string {
	if strings.HasPrefix(link, "http://") || strings.HasPrefix(link, "https://") {
		return link
	}
	return c.baseURL + "/" + strings.TrimPrefix(link, "/")
}
