package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"inlet.dev/plugins/shared/atlassian"
	inlet "inlet.dev/sdk"
)

// fakeConfluence answers the connector's requests natively (through inlet.SetTransport): two
// spaces, three pages (one with an attachment), pages of 2 results with `_links.next`.
type fakeConfluence struct {
	requests []string
	// status429 / status503: requests whose URL contains the key get that many such answers.
	status429 map[string]int
	status503 map[string]int
	// missing: requests whose URL contains a key answer 404.
	missing map[string]bool
}

const fakeBase = "https://acme.atlassian.net/wiki"

func (f *fakeConfluence) install(t *testing.T) {
	t.Helper()
	atlassian.RetryBase = time.Millisecond
	inlet.SetTransport(f.serve)
	t.Cleanup(func() { inlet.SetTransport(nil); atlassian.RetryBase = time.Second })
}

func (f *fakeConfluence) serve(req *inlet.Request) (*inlet.Response, error) {
	f.requests = append(f.requests, req.URL)
	for k, n := range f.status429 {
		if strings.Contains(req.URL, k) && n > 0 {
			f.status429[k] = n - 1
			return &inlet.Response{Status: 429, Header: inlet.Header{"retry-after": {"0"}}}, nil
		}
	}
	for k, n := range f.status503 {
		if strings.Contains(req.URL, k) && n > 0 {
			f.status503[k] = n - 1
			return &inlet.Response{Status: 503, Body: []byte("unavailable")}, nil
		}
	}
	for k := range f.missing {
		if strings.Contains(req.URL, k) {
			return &inlet.Response{Status: 404, Body: []byte(`{"message":"gone"}`)}, nil
		}
	}
	u, _ := url.Parse(req.URL)
	path := strings.TrimPrefix(u.Path, "/wiki")
	switch {
	case path == "/rest/api/space":
		return page(u, []any{
			map[string]any{"id": 1, "key": "ENG", "name": "Engineering", "_links": map[string]any{"webui": "/spaces/ENG"}},
			map[string]any{"id": 2, "key": "OPS", "name": "Operations", "_links": map[string]any{"webui": "/spaces/OPS"}},
		}), nil
	case path == "/rest/api/content/search":
		var items []any
		for i := 1; i <= 3; i++ {
			kind := "page"
			if i == 3 {
				kind = "blogpost"
			}
			attachments := 0
			if i == 1 {
				attachments = 1
			}
			items = append(items, map[string]any{
				"id": fmt.Sprint(10 + i), "type": kind, "title": fmt.Sprintf("Item %d", i),
				"space":    map[string]any{"key": "ENG", "name": "Engineering"},
				"version":  map[string]any{"when": fmt.Sprintf("2024-01-0%dT00:00:00.000Z", i)},
				"history":  map[string]any{"createdDate": "2023-12-31T00:00:00.000Z", "createdBy": map[string]any{"publicName": "Ada"}},
				"body":     map[string]any{"storage": map[string]any{"value": fmt.Sprintf("<h1>Item %d</h1><p>a &lt;b&gt;  c</p>", i)}},
				"children": map[string]any{"attachment": map[string]any{"size": attachments}},
				"metadata": map[string]any{"labels": map[string]any{"results": []any{map[string]any{"name": "x"}}}},
				"_links":   map[string]any{"webui": fmt.Sprintf("/spaces/ENG/pages/%d", 10+i)},
			})
		}
		return page(u, items), nil
	case path == "/rest/api/content/11/child/attachment":
		return page(u, []any{map[string]any{
			"id": "att11", "type": "attachment", "title": "a.txt",
			"extensions": map[string]any{"fileSize": 5},
			"version":    map[string]any{"when": "2024-01-05T00:00:00.000Z"},
			"_links":     map[string]any{"webui": "/pages/11/a.txt", "download": "/download/attachments/11/a.txt?version=1"},
		}}), nil
	case path == "/download/attachments/11/a.txt":
		return &inlet.Response{Status: 200, Body: []byte("hello")}, nil
	}
	return &inlet.Response{Status: 404, Body: []byte(`{"message":"not found"}`)}, nil
}

// page answers one page of 2 items with Confluence's envelope; `_links.next` is relative to
// the API base (`/wiki` on Cloud), as Confluence writes it.
func page(u *url.URL, items []any) *inlet.Response {
	start := 0
	fmt.Sscan(u.Query().Get("start"), &start)
	end := min(start+2, len(items))
	links := map[string]any{"base": fakeBase}
	if end < len(items) {
		q := u.Query()
		q.Set("start", fmt.Sprint(end))
		links["next"] = strings.TrimPrefix(u.Path, "/wiki") + "?" + q.Encode()
	}
	body, _ := json.Marshal(map[string]any{"results": items[start:end], "start": start, "limit": 2, "size": end - start, "_links": links})
	return &inlet.Response{Status: 200, Body: body}
}

func config(extra map[string]any) map[string]any {
	c := map[string]any{"data_source": cloud, "confluence_url": "https://acme.atlassian.net/"}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func bodies(t *testing.T, docs []inlet.Document) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, d := range docs {
		var m map[string]any
		if err := json.Unmarshal([]byte(d.Body), &m); err != nil {
			t.Fatal(err)
		}
		out[d.ID] = m
	}
	return out
}

func TestFullSync(t *testing.T) {
	f := &fakeConfluence{status429: map[string]int{"start=2": 1}}
	f.install(t)
	res, err := inlet.RunSync(confluence{}, inlet.RunOptions{Config: config(map[string]any{"index_labels": true})})
	if err != nil {
		t.Fatal(err)
	}
	docs := bodies(t, res.Documents)
	if len(docs) != 6 {
		t.Fatalf("%d docs: %v", len(docs), docs)
	}
	if d := docs["11"]; d["title"] != "Item 1" || d["body"] != "Item 1\na <b> c" || d["author"] != "Ada" ||
		d["url"] != fakeBase+"/spaces/ENG/pages/11" || fmt.Sprint(d["labels"]) != "[x]" {
		t.Errorf("page: %v", d)
	}
	if d := docs["att11"]; d["page"] != "Item 1" || d["size"] != 5.0 || d["space"] != "Engineering" {
		t.Errorf("attachment: %v", d)
	}
	for _, d := range res.Documents {
		if d.ID == "att11" && (d.Attachment == nil || string(d.Attachment.Bytes) != "hello") {
			t.Errorf("attachment bytes: %+v", d.Attachment)
		}
		if d.ID == "13" && d.Timestamp != "2024-01-03T00:00:00.000Z" {
			t.Errorf("timestamp %q", d.Timestamp)
		}
	}
	if docs["ENG"]["type"] != "Space" || docs["OPS"]["key"] != "OPS" {
		t.Errorf("spaces: %v %v", docs["ENG"], docs["OPS"])
	}
	// Cloud: the REST API is under /wiki; the throttled page was asked twice; the cursor is set.
	var throttled int
	for _, r := range f.requests {
		if !strings.HasPrefix(r, fakeBase+"/") {
			t.Errorf("request outside the API base: %s", r)
		}
		if strings.Contains(r, "/content/search") && strings.Contains(r, "start=2") {
			throttled++
		}
	}
	if throttled != 2 {
		t.Errorf("the 429'd page was requested %d times, want 2: %v", throttled, f.requests)
	}
	if _, err := parseCursor(res.Cursor); err != nil || !res.HasCursor {
		t.Errorf("cursor %q: %v", res.Cursor, err)
	}
}

func TestIncrementalSyncAsksCQLForChangesOnly(t *testing.T) {
	f := &fakeConfluence{}
	f.install(t)
	since := time.Date(2024, 1, 2, 9, 30, 59, 0, time.UTC)
	_, err := inlet.RunSync(confluence{}, inlet.RunOptions{
		Kind: "incremental", Cursor: formatCursor(since), HasCursor: true,
		Config: config(map[string]any{"spaces": []string{"ENG", `we"ird`}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(f.requests[0])
	want := `type in (page,blogpost) and lastmodified >= "2024/01/02 09:30" and space in ("ENG","we\"ird")`
	if got := u.Query().Get("cql"); got != want {
		t.Errorf("cql %q, want %q", got, want)
	}
	for _, r := range f.requests {
		if strings.Contains(r, "/rest/api/space") {
			t.Errorf("an incremental sync lists no spaces: %s", r)
		}
	}
}

func TestPersistent503FailsAfterTheRetries(t *testing.T) {
	f := &fakeConfluence{status503: map[string]int{"/content/search": 99}}
	f.install(t)
	_, err := inlet.RunSync(confluence{}, inlet.RunOptions{Config: config(map[string]any{"retry_count": 2})})
	if err == nil || inlet.AsError(err).Kind != inlet.KindNetwork || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want a network error naming the 503", err)
	}
	var n int
	for _, r := range f.requests {
		if strings.Contains(r, "/content/search") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d search requests, want 1 + 2 retries", n)
	}
}

func TestUnauthorizedIsAnAuthErrorWithoutRetries(t *testing.T) {
	inlet.SetTransport(func(*inlet.Request) (*inlet.Response, error) {
		return &inlet.Response{Status: 401, Body: []byte("no")}, nil
	})
	defer inlet.SetTransport(nil)
	err := confluence{}.Ping(inlet.NewConfig(withSchemaDefaults(config(nil))))
	if inlet.AsError(err).Kind != inlet.KindAuth {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []map[string]any{
		{"data_source": "confluence_moon"},
		{"confluence_url": "acme.atlassian.net"},
		// DLS is Cloud's only (see atlassian.Product.ReadLimits).
		{"data_source": server, "use_document_level_security": true},
		{"data_source": dataCenter, "use_document_level_security": true},
		{"concurrent_downloads": 51},
		{"retry_count": -1},
	}
	for _, b := range bad {
		err := confluence{}.ValidateConfig(inlet.NewConfig(withSchemaDefaults(config(b))))
		if inlet.AsError(err).Kind != inlet.KindConfig {
			t.Errorf("%v: %v, want a config error", b, err)
		}
	}
	s, err := readSettings(inlet.NewConfig(withSchemaDefaults(map[string]any{
		"data_source": server, "confluence_url": "http://wiki.local:8090/", "spaces": "ENG, OPS,ENG",
	})))
	if err != nil || s.baseURL != "http://wiki.local:8090" || fmt.Sprint(s.spaces) != "[ENG OPS]" || s.allSpaces {
		t.Errorf("%+v %v", s, err)
	}
}

// withSchemaDefaults adds the schema's defaults, as the host does before calling the plugin.
func withSchemaDefaults(c map[string]any) map[string]any {
	for _, f := range (confluence{}).Configuration() {
		if _, ok := c[f.Key]; !ok && f.DefaultValue != nil {
			var v any
			_ = json.Unmarshal([]byte(*f.DefaultValue), &v)
			c[f.Key] = v
		}
	}
	return c
}

func TestSchemaFollowsElastic(t *testing.T) {
	var keys []string
	for _, f := range (confluence{}).Configuration() {
		keys = append(keys, fmt.Sprintf("%s@%d", f.Key, f.Order))
	}
	want := "data_source@1 confluence_url@10 spaces@11 index_labels@12 ssl_enabled@13 ssl_ca@14 retry_count@15 concurrent_downloads@16 use_document_level_security@17 use_text_extraction_service@18"
	if strings.Join(keys, " ") != want {
		t.Errorf("fields %v", keys)
	}
}

func TestHTMLToText(t *testing.T) {
	cases := map[string]string{
		"<p>One</p><p>Two &amp; <b>three</b></p>":                   "One\nTwo & three",
		`<ac:structured-macro ac:name="code"><ac:plain-text-body>x`: "x",
		"plain":              "plain",
		"a<br/>b<br />c":     "a\nb\nc",
		"  lots   of\tspace": "lots of space",
		"<p>broken <b":       "broken",
	}
	for in, want := range cases {
		if got := htmlToText(in); got != want {
			t.Errorf("htmlToText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestContentDeletedDuringTheSyncIsSkipped(t *testing.T) {
	f := &fakeConfluence{missing: map[string]bool{"/download/attachments/11/": true}}
	f.install(t)
	res, err := inlet.RunSync(confluence{}, inlet.RunOptions{Config: config(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Documents {
		if d.ID == "att11" && d.Attachment != nil {
			t.Error("a vanished file is indexed without content")
		}
	}
	if len(res.Documents) != 6 {
		t.Errorf("%d documents, want 6", len(res.Documents))
	}

	f = &fakeConfluence{missing: map[string]bool{"/child/attachment": true}}
	f.install(t)
	res, err = inlet.RunSync(confluence{}, inlet.RunOptions{Config: config(nil)})
	if err != nil || len(res.Documents) != 5 {
		t.Fatalf("%d documents, %v; want 5 (no attachment), no error", len(res.Documents), err)
	}
}

func TestIncrementalSyncFindsNewAttachmentsByCQL(t *testing.T) {
	f := &fakeConfluence{}
	f.install(t)
	_, err := inlet.RunSync(confluence{}, inlet.RunOptions{
		Kind: "incremental", Cursor: formatCursor(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)), HasCursor: true,
		Config: config(nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	var cqls []string
	for _, r := range f.requests {
		if u, _ := url.Parse(r); u.Query().Get("cql") != "" && !u.Query().Has("start") { // first pages
			cqls = append(cqls, u.Query().Get("cql"))
		}
		if strings.Contains(r, "/child/attachment") {
			t.Errorf("incremental syncs find attachments by CQL, not per page: %s", r)
		}
	}
	want := []string{
		`type in (page,blogpost) and lastmodified >= "2024/01/02 00:00"`,
		`type = attachment and lastmodified >= "2024/01/02 00:00"`,
	}
	if fmt.Sprint(cqls) != fmt.Sprint(want) {
		t.Errorf("cql %q, want %q", cqls, want)
	}
}
