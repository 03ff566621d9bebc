package main

import (
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
	"time"

	inlet "inlet.dev/sdk"
)

// apiVersion is the Blob service version the plugin asks for (`x-ms-version`), and so the
// shape of the XML it parses.
const apiVersion = "2025-11-05"

// Waits between retries of a failed request: doubled each time, from retryBase to retryMax; a
// `Retry-After` is honoured up to maxThrottle. Variables so that tests can shorten them.
var (
	retryBase   = 1 * time.Second
	retryMax    = 30 * time.Second
	maxThrottle = 5 * time.Minute
)

// maxInFlight is how many requests one inlet.HTTPDoAll call carries: the host's default cap of
// requests in flight per connector (grants.http_limits.max_concurrent_requests); the SDK
// awaits responses in order while the host holds a slot until a body is read, so more
// requests than slots in one call could wait forever.
const maxInFlight = 16

// client sends the connector's requests with its retry policy. The signature is the host's
// business: nothing here sets Authorization or x-ms-date.
type client struct {
	retries int
	sleep   func(time.Duration)
}

func newClient(s *settings) *client { return &client{retries: s.retries, sleep: inlet.Sleep} }

// errNotFound is in the chain of a 404's error (a blob deleted while the sync runs).
var errNotFound = errors.New("not found")

// serviceError is Azure's error document.
type serviceError struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// getAll fetches the URLs (maxInFlight at a time), retrying each on 408, 429, 500, 502, 503,
// 504 and broken connections up to `retries` times, all the waiting ones together after the
// longest wait any of them asks for. `what` names each request in errors.
func (c *client) getAll(urls []string, what []string) ([]*inlet.Response, []error) {
	resps := make([]*inlet.Response, len(urls))
	errs := make([]error, len(urls))
	tries := make([]int, len(urls))
	pending := make([]int, len(urls))
	for i := range urls {
		pending[i] = i
	}
	backoff := retryBase
	for len(pending) > 0 {
		reqs := make([]*inlet.Request, len(pending))
		for j, i := range pending {
			reqs[j] = &inlet.Request{Method: "GET", URL: urls[i], Header: inlet.Header{"x-ms-version": {apiVersion}}}
		}
		got, gotErrs := doAll(reqs)
		var again []int
		wait := time.Duration(-1)
		for j, i := range pending {
			w, retry := verdict(got[j], gotErrs[j], backoff)
			if retry && tries[i] < c.retries {
				tries[i]++
				again = append(again, i)
				wait = max(wait, w)
				inlet.Warnf("%s: %s; retrying in %s (%d/%d)", what[i], describe(got[j], gotErrs[j]), w, tries[i], c.retries)
				continue
			}
			resps[i], errs[i] = outcome(got[j], gotErrs[j], what[i], retry, c.retries)
		}
		if wait >= 0 {
			c.sleep(wait)
			backoff = min(backoff*2, retryMax)
		}
		pending = again
	}
	return resps, errs
}

// get is getAll for one URL.
func (c *client) get(url, what string) (*inlet.Response, error) {
	resps, errs := c.getAll([]string{url}, []string{what})
	return resps[0], errs[0]
}

func doAll(reqs []*inlet.Request) ([]*inlet.Response, []error) {
	resps := make([]*inlet.Response, 0, len(reqs))
	errs := make([]error, 0, len(reqs))
	for start := 0; start < len(reqs); start += maxInFlight {
		r, e := inlet.HTTPDoAll(reqs[start:min(start+maxInFlight, len(reqs))])
		resps, errs = append(resps, r...), append(errs, e...)
	}
	return resps, errs
}

// verdict says whether a response or error is worth another try, and after how long.
func verdict(resp *inlet.Response, err error, backoff time.Duration) (time.Duration, bool) {
	if err != nil {
		// A refused origin or signature stays refused; a broken connection may not.
		var e *inlet.Error
		if errors.Is(err, inlet.ErrRequestDenied) || (errors.As(err, &e) && e.Kind != inlet.KindNetwork) {
			return 0, false
		}
		return backoff, true
	}
	switch resp.Status {
	case 408, 429, 500, 502, 503, 504:
		return min(resp.RetryAfter(backoff), maxThrottle), true
	}
	return 0, false
}

func describe(resp *inlet.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	if e := parseError(resp.Body); e.Code != "" {
		return "HTTP " + strconv.Itoa(resp.Status) + " " + e.Code
	}
	return "HTTP " + strconv.Itoa(resp.Status)
}

func parseError(body []byte) serviceError {
	var e serviceError
	_ = xml.Unmarshal(body, &e)
	e.Message, _, _ = strings.Cut(strings.TrimSpace(e.Message), "\n")
	return e
}

// outcome is the final result of one request; gaveUp says it still wanted a retry. Errors name
// what was asked and Azure's error code: 401/403 are auth errors (a wrong key is
// `AuthenticationFailed`), retries exhausted network errors, 404 a source error with
// errNotFound in its chain, other answers source errors.
func outcome(resp *inlet.Response, err error, what string, gaveUp bool, retries int) (*inlet.Response, error) {
	if err != nil && (resp == nil || resp.Status != 401 && resp.Status != 403) {
		if gaveUp && retries > 0 {
			return nil, inlet.Errorf(inlet.KindNetwork, "%s: %v (still failing after %d retries; retry_count)", what, err, retries)
		}
		return nil, err
	}
	if resp.OK() {
		return resp, nil
	}
	e := parseError(resp.Body)
	msg := what + ": HTTP " + strconv.Itoa(resp.Status)
	if e.Code != "" {
		msg += " " + e.Code + ": " + e.Message
	}
	switch {
	case resp.Status == 401 || resp.Status == 403:
		return nil, inlet.AuthError(msg + " (the host signs with the azure_shared_key credential: config.yml `credentials:` granted to this connector, or the form's account_key; check the account name and key)")
	case gaveUp:
		if retries > 0 {
			msg += " (still failing after " + strconv.Itoa(retries) + " retries; retry_count)"
		}
		return nil, inlet.NetworkError(msg)
	case resp.Status == 404:
		return resp, inlet.Errorf(inlet.KindSource, "%s (%w)", msg, errNotFound)
	}
	return nil, inlet.SourceError(msg)
}

// escapePath percent-encodes a container or blob name for a URL path, as Azure's SDKs do:
// everything but unreserved characters and `/`.
func escapePath(name string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
