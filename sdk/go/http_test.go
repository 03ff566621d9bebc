package inlet

import (
	"errors"
	"reflect"
	"sort"
	"testing"
	"time"
)

func TestSplitURL(t *testing.T) {
	cases := []struct {
		in   string
		want urlParts
	}{
		{"https://x.atlassian.net/wiki/rest/api/space?limit=1", urlParts{"https", "x.atlassian.net", "/wiki/rest/api/space?limit=1"}},
		{"http://127.0.0.1:8090", urlParts{"http", "127.0.0.1:8090", "/"}},
		{"HTTP://h/a%20b?q=%22x%22", urlParts{"http", "h", "/a%20b?q=%22x%22"}},
	}
	for _, c := range cases {
		got, err := splitURL(c.in)
		if err != nil || got != c.want {
			t.Errorf("splitURL(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"ftp://h/x", "/relative", "http://", "://x"} {
		if _, err := splitURL(bad); err == nil {
			t.Errorf("splitURL(%q): no error", bad)
		} else if AsError(err).Kind != KindConfig {
			t.Errorf("splitURL(%q): kind %v, want config", bad, AsError(err).Kind)
		}
	}
}

func TestOutgoingHeadersDropHostOwnedOnes(t *testing.T) {
	h := Header{}
	h.Add("Accept", "application/json")
	h.Add("Authorization", "Basic c2VjcmV0")
	h.Add("Host", "evil")
	h.Add("X-Multi", "1")
	h.Add("x-multi", "2")
	got := outgoingHeaders(h)
	sort.Slice(got, func(i, j int) bool { return got[i][0]+got[i][1] < got[j][0]+got[j][1] })
	want := [][2]string{{"accept", "application/json"}, {"x-multi", "1"}, {"x-multi", "2"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	fb := 7 * time.Second
	cases := map[string]time.Duration{
		"":                              fb,
		"3":                             3 * time.Second,
		" 0 ":                           0,
		"soon":                          fb,
		"-4":                            fb,
		"Wed, 01 May 2024 10:00:05 GMT": 5 * time.Second,
		"Wed, 01 May 2024 09:00:00 GMT": 0, // in the past: no wait
	}
	for in, want := range cases {
		if got := parseRetryAfter(in, now, fb); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestResponseErrKinds(t *testing.T) {
	cases := map[int]ErrorKind{401: KindAuth, 403: KindAuth, 404: KindSource, 400: KindSource, 429: KindNetwork, 408: KindNetwork, 500: KindNetwork, 503: KindNetwork}
	for status, kind := range cases {
		r := &Response{Status: status, URL: "http://h/x", Body: []byte(`{"message":"no"}`)}
		if err := r.Err(); err == nil || AsError(err).Kind != kind {
			t.Errorf("status %d: %v, want kind %v", status, err, kind)
		}
	}
	if err := (&Response{Status: 204}).Err(); err != nil {
		t.Errorf("204: %v", err)
	}
}

func TestHTTPDoThroughATransport(t *testing.T) {
	var seen *Request
	SetTransport(func(req *Request) (*Response, error) {
		seen = req
		status := 200
		if req.URL == "http://h/private" {
			status = 403
		}
		return &Response{Status: status, Header: Header{"content-type": {"application/json"}}, Body: []byte(`{"n":1}`)}, nil
	})
	defer SetTransport(nil)

	resp, err := HTTPDo(&Request{Method: "post", URL: "http://h/items?x=1", Header: Header{"authorization": {"mine"}}, Body: []byte("abc")})
	if err != nil {
		t.Fatal(err)
	}
	if seen.Method != "POST" || seen.URL != "http://h/items?x=1" {
		t.Errorf("sent %s %s", seen.Method, seen.URL)
	}
	if seen.Header.Get("authorization") != "" {
		t.Error("the connector's Authorization must not reach the host (credentials are injected there)")
	}
	if seen.Header.Get("content-length") != "3" {
		t.Errorf("content-length %q, want 3", seen.Header.Get("content-length"))
	}
	var v struct{ N int }
	if err := resp.JSON(&v); err != nil || v.N != 1 || resp.URL != "http://h/items?x=1" {
		t.Errorf("JSON: %v %+v %q", err, v, resp.URL)
	}
	if err := (&Response{Status: 200, URL: "u", Body: []byte("<html>")}).JSON(&v); AsError(err).Kind != KindSource {
		t.Errorf("a non-JSON body: %v", err)
	}

	resp, err = HTTPGet("http://h/private", nil)
	if AsError(err).Kind != KindAuth || resp == nil || resp.Status != 403 {
		t.Errorf("403: %v %v", resp, err)
	}
}

func TestHTTPOutsideAComponent(t *testing.T) {
	_, err := HTTPGet("https://example.com/", nil)
	if AsError(err).Kind != KindNetwork {
		t.Errorf("without a transport: %v", err)
	}
	if errors.Is(err, ErrRequestDenied) {
		t.Error("not a policy denial")
	}
}

func TestHTTPDoAllKeepsOrderAndPerRequestErrors(t *testing.T) {
	var sent []string
	SetTransport(func(req *Request) (*Response, error) {
		sent = append(sent, req.URL)
		if req.URL == "http://h/down" {
			return nil, NetworkError("connection refused")
		}
		return &Response{Status: 200, Body: []byte(req.URL)}, nil
	})
	defer SetTransport(nil)
	reqs := []*Request{{URL: "http://h/a"}, {URL: "not a url"}, {URL: "http://h/down"}, {URL: "http://h/b"}}
	resps, errs := HTTPDoAll(reqs)
	if len(resps) != 4 || len(errs) != 4 {
		t.Fatalf("%d responses, %d errors", len(resps), len(errs))
	}
	if errs[0] != nil || string(resps[0].Body) != "http://h/a" || resps[0].URL != "http://h/a" {
		t.Errorf("0: %v %v", resps[0], errs[0])
	}
	if AsError(errs[1]).Kind != KindConfig || resps[1] != nil {
		t.Errorf("1: %v %v", resps[1], errs[1])
	}
	if AsError(errs[2]).Kind != KindNetwork {
		t.Errorf("2: %v", errs[2])
	}
	if errs[3] != nil || string(resps[3].Body) != "http://h/b" {
		t.Errorf("3: %v %v", resps[3], errs[3])
	}
	if !reflect.DeepEqual(sent, []string{"http://h/a", "http://h/down", "http://h/b"}) {
		t.Errorf("sent %v: an invalid request is not sent", sent)
	}
}
