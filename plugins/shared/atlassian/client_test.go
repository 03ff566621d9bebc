package atlassian

import (
	"errors"
	"strings"
	"testing"
	"time"

	inlet "inlet.dev/sdk"
)

// fake answers by URL suffix: a 429 (Retry-After 0) once for /b, 503 forever for /c, 404 for
// /d, a redirect chain for /e, an endless redirect loop for /loop, 200 "hello" otherwise.
type fake struct{ requests []string }

func (f *fake) serve(req *inlet.Request) (*inlet.Response, error) {
	f.requests = append(f.requests, req.URL)
	n := 0
	for _, r := range f.requests {
		if r == req.URL {
			n++
		}
	}
	switch {
	case strings.HasSuffix(req.URL, "/b") && n == 1:
		return &inlet.Response{Status: 429, Header: inlet.Header{"retry-after": {"0"}}}, nil
	case strings.HasSuffix(req.URL, "/c"):
		return &inlet.Response{Status: 503, Body: []byte("unavailable")}, nil
	case strings.HasSuffix(req.URL, "/d"):
		return &inlet.Response{Status: 404, Body: []byte(`{"message":"gone"}`)}, nil
	case strings.HasSuffix(req.URL, "/e"):
		// Relative to the request, like Jira Cloud's redirect to the media service.
		return &inlet.Response{Status: 303, Header: inlet.Header{"location": {"../media/e?token=t"}}}, nil
	case strings.HasSuffix(req.URL, "/loop"):
		return &inlet.Response{Status: 302, Header: inlet.Header{"location": {"/x/loop"}}}, nil
	}
	return &inlet.Response{Status: 200, Body: []byte("hello " + req.URL)}, nil
}

func install(t *testing.T) *fake {
	t.Helper()
	f := &fake{}
	inlet.SetTransport(f.serve)
	t.Cleanup(func() { inlet.SetTransport(nil) })
	return f
}

func TestGetAllRetriesOnlyWhatFailedAndFollowsRedirects(t *testing.T) {
	f := install(t)
	var slept []time.Duration
	c := &Client{Retries: 2, Sleep: func(d time.Duration) { slept = append(slept, d) }}
	urls := []string{"https://x/api/a", "https://x/api/b", "https://x/api/c", "https://x/api/d", "https://x/api/e", "https://x/loop"}
	resps, errs := c.GetAll(urls)
	if errs[0] != nil || string(resps[0].Body) != "hello https://x/api/a" {
		t.Errorf("a: %v", errs[0])
	}
	if errs[1] != nil || string(resps[1].Body) != "hello https://x/api/b" {
		t.Errorf("b: after its 429, the answer: %v", errs[1])
	}
	if inlet.AsError(errs[2]).Kind != inlet.KindNetwork || !strings.Contains(errs[2].Error(), "still failing after 2 retries") {
		t.Errorf("c: %v", errs[2])
	}
	if !errors.Is(errs[3], ErrNotFound) {
		t.Errorf("d: %v", errs[3])
	}
	if errs[4] != nil || string(resps[4].Body) != "hello https://x/media/e?token=t" {
		t.Errorf("e: the redirect's target, resolved against the request: %v %v", errs[4], resps[4])
	}
	if errs[5] == nil || !strings.Contains(errs[5].Error(), "more than 5 redirects") {
		t.Errorf("loop: %v", errs[5])
	}
	count := map[string]int{}
	for _, r := range f.requests {
		count[r]++
	}
	want := map[string]int{
		"https://x/api/a": 1, "https://x/api/b": 2, "https://x/api/c": 3, "https://x/api/d": 1,
		"https://x/api/e": 1, "https://x/media/e?token=t": 1, "https://x/loop": 1, "https://x/x/loop": 5,
	}
	for u, n := range want {
		if count[u] != n {
			t.Errorf("%s requested %d times, want %d (only the failed ones are sent again): %v", u, count[u], n, count)
		}
	}
	// One wait per round that retried something: Retry-After 0 beats nothing, the 503's
	// backoff (RetryBase, then doubled) is the longest.
	if len(slept) != 2 || slept[0] != RetryBase || slept[1] != 2*RetryBase {
		t.Errorf("waits %v", slept)
	}
}

func TestAuthErrorsAreNotRetried(t *testing.T) {
	f := &fake{}
	inlet.SetTransport(func(req *inlet.Request) (*inlet.Response, error) {
		f.requests = append(f.requests, req.URL)
		return &inlet.Response{Status: 401, Body: []byte("no")}, nil
	})
	t.Cleanup(func() { inlet.SetTransport(nil) })
	c := &Client{Retries: 3, Sleep: func(time.Duration) {}}
	_, err := c.Get("https://x/api/a")
	if inlet.AsError(err).Kind != inlet.KindAuth || len(f.requests) != 1 {
		t.Errorf("%v after %d requests", err, len(f.requests))
	}
}

func TestNarrowKeepsOrderByLast(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"project = A", `(project = A) and updated >= "x"`},
		{"project = A or type = Bug ORDER BY created DESC", `(project = A or type = Bug) and updated >= "x" ORDER BY created DESC`},
		{` summary ~ "order by" `, `(summary ~ "order by") and updated >= "x"`},
	} {
		if got := Narrow(tc.in, `updated >= "x"`); got != tc.want {
			t.Errorf("Narrow(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseQueryRules(t *testing.T) {
	q, problems := ParseQueryRules(`[{"query": "project = A"}, {"query": "type = Bug"}]`, "JQL")
	if len(problems) != 0 || len(q) != 2 || q[1] != "type = Bug" {
		t.Errorf("%q %q", q, problems)
	}
	for _, text := range []string{"", "null", "[]"} {
		if q, p := ParseQueryRules(text, "JQL"); q != nil || p != nil {
			t.Errorf("%q: no rules, got %q %q", text, q, p)
		}
	}
	_, problems = ParseQueryRules(`[{"jql": "x"}, {"query": " "}, {"query": 3}, 7]`, "JQL")
	want := []string{
		`rule 0 has unknown keys "jql" (only "query" is allowed)`,
		`rule 0 must contain "query" (a JQL query)`,
		`rule 1: "query" must not be empty`,
		`rule 2: "query" must be a string, not 3`,
		`rule 3 must be an object {"query": "<JQL>"}, not 7`,
	}
	if strings.Join(problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
}

func TestIdentityDocument(t *testing.T) {
	var u User
	u.AccountID, u.DisplayName, u.Locale = "acc-1", "Ada Lovelace", "en_GB"
	d := IdentityDocument(u, "2024-01-01T00:00:00Z")
	for _, want := range []string{`"account_id":"account_id:acc-1"`, `"display_name":"name:Ada-Lovelace"`,
		`"email_address":null`, `"locale":"locale:en_GB"`, `"access_control":["account_id:acc-1"]`} {
		if !strings.Contains(d.Body, want) {
			t.Errorf("%s lacks %s", d.Body, want)
		}
	}
}
