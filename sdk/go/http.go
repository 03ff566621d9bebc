package inlet

// Outbound HTTP through the host's broker (wasi:http/outgoing-handler).
//
// Each call blocks until the whole response body has arrived, which fits the pull model of a
// sync: a connector fetches the next page only when the host asks for more documents. Every
// request passes the host's policy (the origin is declared in plugin.toml `[permissions] http`
// and granted in config.yml `grants.http`); credentials are injected by the host
// (`grants.credentials`), so a connector never sets Authorization itself.
//
// A project using this must declare `[permissions] http` in plugin.toml: build.sh then embeds
// the `connector-http` world, which imports wasi:http.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Header holds HTTP header fields under lower-case names.
type Header map[string][]string

// Get returns the first value of name (any case), or "".
func (h Header) Get(name string) string {
	if v := h[strings.ToLower(name)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Add appends a value to name (stored lower-case).
func (h Header) Add(name, value string) {
	k := strings.ToLower(name)
	h[k] = append(h[k], value)
}

// Request is one outbound HTTP request.
type Request struct {
	Method string // default GET
	URL    string // absolute http(s) URL
	Header Header
	Body   []byte
}

// Response is a complete HTTP response.
type Response struct {
	Status int
	Header Header
	Body   []byte
	URL    string // the URL that was requested
}

// JSON decodes the body into v; a body that is not the expected JSON is a source error.
func (r *Response) JSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return Errorf(KindSource, "%s answered %d with a body that is not the expected JSON: %v", r.URL, r.Status, err)
	}
	return nil
}

// OK reports a 2xx status.
func (r *Response) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Err returns nil for a 2xx status, else an error whose kind fits the status: 401/403 auth,
// 408/429/5xx network (worth retrying later), other statuses source.
func (r *Response) Err() error {
	if r.OK() {
		return nil
	}
	msg := fmt.Sprintf("%s answered HTTP %d: %s", r.URL, r.Status, snippet(r.Body))
	switch {
	case r.Status == 401 || r.Status == 403:
		return AuthError(msg)
	case r.Status == 408 || r.Status == 429 || r.Status >= 500:
		return NetworkError(msg)
	}
	return SourceError(msg)
}

// RetryAfter returns the delay a 429/503 asks for (Retry-After in seconds or as an HTTP date),
// or fallback when the header is absent or unreadable.
func (r *Response) RetryAfter(fallback time.Duration) time.Duration {
	return parseRetryAfter(r.Header.Get("retry-after"), time.Now(), fallback)
}

func parseRetryAfter(v string, now time.Time, fallback time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return fallback
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil {
		return max(t.Sub(now), 0)
	}
	return fallback
}

func snippet(b []byte) string {
	const n = 200
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// HTTPGet sends a GET with these extra headers (may be nil).
func HTTPGet(rawURL string, headers map[string]string) (*Response, error) {
	h := Header{}
	for k, v := range headers {
		h.Add(k, v)
	}
	return HTTPDo(&Request{Method: "GET", URL: rawURL, Header: h})
}

// HTTPDo sends req and reads the whole response. Errors: a request the host refused (origin not
// granted) or a connection failure is a NetworkError naming the cause; a 401 or 403 answer is
// an AuthError (returned with the response). Other statuses are not errors: check
// Response.Status or call Response.Err.
func HTTPDo(req *Request) (*Response, error) {
	resps, errs := HTTPDoAll([]*Request{req})
	return resps[0], errs[0]
}

// HTTPDoAll sends all the requests at once and returns their responses and errors in the same
// order, each as HTTPDo would. The host runs them concurrently (at most the connector's
// grants.http_limits.max_concurrent_requests at a time; the others wait there), so N
// downloads take about as long as the slowest few rather than their sum. All the bodies are
// held in memory together: bound the batch.
func HTTPDoAll(reqs []*Request) ([]*Response, []error) {
	resps := make([]*Response, len(reqs))
	errs := make([]error, len(reqs))
	var ready []outgoing
	var index []int
	for i, req := range reqs {
		o, err := prepare(req)
		if err != nil {
			errs[i] = err
			continue
		}
		ready = append(ready, o)
		index = append(index, i)
	}
	got, gotErrs := send(ready)
	for j, i := range index {
		resps[i], errs[i] = got[j], gotErrs[j]
		if errs[i] != nil {
			continue
		}
		resps[i].URL = reqs[i].URL
		if s := resps[i].Status; s == 401 || s == 403 {
			errs[i] = resps[i].Err()
		}
	}
	return resps, errs
}

// outgoing is a checked request, as the host gets it.
type outgoing struct {
	method  string
	u       urlParts
	headers [][2]string
	body    []byte
}

func prepare(req *Request) (outgoing, error) {
	parts, err := splitURL(req.URL)
	if err != nil {
		return outgoing{}, err
	}
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = "GET"
	}
	headers := outgoingHeaders(req.Header)
	if len(req.Body) > 0 {
		// Without it the body goes chunked, which some servers (HTTP/1.0 ones) cannot read.
		headers = append(headers, [2]string{"content-length", strconv.Itoa(len(req.Body))})
	}
	return outgoing{method, parts, headers, req.Body}, nil
}

// ErrRequestDenied is in the chain of the error HTTPDo returns when the host's policy refused
// the request (origin not declared or not granted): retrying will not help.
var ErrRequestDenied = errors.New("the host refused the request")

// Sleep pauses the component for d (through wasi:clocks inside a component), e.g. to honour
// Retry-After.
func Sleep(d time.Duration) {
	if d > 0 {
		hostSleep(d)
	}
}

// Transport is what sends a request: the host's broker inside a component. SetTransport
// replaces it, so connectors can be unit-tested natively against a fake source.
type Transport func(req *Request) (*Response, error)

var testTransport Transport

// SetTransport makes HTTPDo use t (nil restores the default); for tests.
func SetTransport(t Transport) { testTransport = t }

func send(reqs []outgoing) ([]*Response, []error) {
	if testTransport == nil {
		return hostHTTPAll(reqs)
	}
	resps := make([]*Response, len(reqs))
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		hdr := Header{}
		for _, kv := range r.headers {
			hdr.Add(kv[0], kv[1])
		}
		resps[i], errs[i] = testTransport(&Request{Method: r.method, URL: r.u.String(), Header: hdr, Body: r.body})
	}
	return resps, errs
}

// urlParts is a URL split the way wasi:http's outgoing-request wants it.
type urlParts struct {
	Scheme    string // "http" or "https"
	Authority string // host[:port]
	PathQuery string // "/path?query"
}

func (u urlParts) String() string { return u.Scheme + "://" + u.Authority + u.PathQuery }

func splitURL(raw string) (urlParts, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return urlParts{}, Errorf(KindConfig, "invalid URL %q: %v", raw, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return urlParts{}, Errorf(KindConfig, "URL %q: only http and https are supported", raw)
	}
	if u.Host == "" {
		return urlParts{}, Errorf(KindConfig, "URL %q has no host", raw)
	}
	pq := u.EscapedPath()
	if pq == "" {
		pq = "/"
	}
	if u.RawQuery != "" {
		pq += "?" + u.RawQuery
	}
	return urlParts{Scheme: scheme, Authority: u.Host, PathQuery: pq}, nil
}

// Headers the host owns (credentials) or the HTTP layer sets itself; the broker would refuse a
// request carrying them.
var droppedHeaders = map[string]bool{
	"authorization": true, "host": true, "connection": true, "content-length": true,
	"transfer-encoding": true, "keep-alive": true, "upgrade": true,
}

func outgoingHeaders(h Header) [][2]string {
	var out [][2]string
	for k, vs := range h {
		k = strings.ToLower(k)
		if droppedHeaders[k] {
			continue
		}
		for _, v := range vs {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}
