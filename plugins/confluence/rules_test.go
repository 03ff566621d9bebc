package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"inlet.dev/plugins/shared/atlassian"
	inlet "inlet.dev/sdk"
)

func TestValidateAdvancedRules(t *testing.T) {
	for _, tc := range []struct {
		rules string
		valid bool
		want  string // in the messages
	}{
		{`[{"query": "space = DEV and type = page"}]`, true, ""},
		{`[{"query": "type = page"}, {"query": "type = blogpost order by created"}]`, true, ""},
		{`[]`, true, ""},
		{`{"query": "type = page"}`, false, "JSON list"},
		{`[{"cql": "type = page"}]`, false, `rule 0 must contain "query"`},
		{`[{"query": "type = page", "spaces": ["A"]}]`, false, `unknown keys "spaces"`},
		{`[{"query": "type = page"}, {"query": ""}]`, false, `rule 1: "query" must not be empty`},
		{`[{"query": 7}]`, false, `"query" must be a string`},
		{`["type = page"]`, false, "rule 0 must be an object"},
		{`[{"query": "x"`, false, "JSON list"},
	} {
		v, err := confluence{}.ValidateAdvancedRules(inlet.Config{}, tc.rules)
		if err != nil {
			t.Fatalf("%s: %v", tc.rules, err)
		}
		if v.Valid != tc.valid || !strings.Contains(strings.Join(v.Messages, "\n"), tc.want) || (tc.valid && len(v.Messages) > 0) {
			t.Errorf("%s: %+v, want valid=%v with %q", tc.rules, v, tc.valid, tc.want)
		}
	}
}

// fakeCQL answers content searches by their exact CQL (pages of 2), and attachment downloads.
type fakeCQL struct {
	results  map[string][]any
	requests []string
	cqls     []string
}

func (f *fakeCQL) install(t *testing.T) {
	t.Helper()
	atlassian.RetryBase = time.Millisecond
	inlet.SetTransport(f.serve)
	t.Cleanup(func() { inlet.SetTransport(nil); atlassian.RetryBase = time.Second })
}

func (f *fakeCQL) serve(req *inlet.Request) (*inlet.Response, error) {
	f.requests = append(f.requests, req.URL)
	u, _ := url.Parse(req.URL)
	switch strings.TrimPrefix(u.Path, "/wiki") {
	case "/rest/api/content/search":
		cql := u.Query().Get("cql")
		if u.Query().Get("start") == "" {
			f.cqls = append(f.cqls, cql)
		}
		items, ok := f.results[cql]
		if !ok {
			body, _ := json.Marshal(map[string]any{"statusCode": 400, "message": "Could not parse cql : " + cql})
			return &inlet.Response{Status: 400, Body: body}, nil
		}
		return page(u, items), nil
	case "/download/attachments/21/spec.pdf":
		return &inlet.Response{Status: 200, Body: []byte("%PDF")}, nil
	}
	return &inlet.Response{Status: 404, Body: []byte(`{"message":"not found"}`)}, nil
}

func item(id, kind, title string) map[string]any {
	return map[string]any{
		"id": id, "type": kind, "title": title,
		"space":    map[string]any{"key": "DEV", "name": "Development"},
		"version":  map[string]any{"when": "2024-02-01T00:00:00.000Z"},
		"body":     map[string]any{"storage": map[string]any{"value": "<p>" + title + "</p>"}},
		"children": map[string]any{"attachment": map[string]any{"size": 1}},
		"_links":   map[string]any{"webui": "/pages/" + id},
	}
}

func TestFullSyncWithRulesIndexesExactlyWhatTheQueriesFind(t *testing.T) {
	att := map[string]any{
		"id": "att21", "type": "attachment", "title": "spec.pdf",
		"space":      map[string]any{"key": "DEV", "name": "Development"},
		"container":  map[string]any{"id": "21", "type": "page", "title": "Design"},
		"extensions": map[string]any{"fileSize": 4},
		"version":    map[string]any{"when": "2024-02-02T00:00:00.000Z"},
		"_links":     map[string]any{"webui": "/pages/21/spec.pdf", "download": "/download/attachments/21/spec.pdf"},
	}
	orphan := map[string]any{"id": "att99", "type": "attachment", "title": "lost.txt", "_links": map[string]any{}}
	f := &fakeCQL{results: map[string][]any{
		"space = DEV and type = page":          {item("21", "page", "Design"), item("22", "page", "Notes"), item("23", "page", "Plans")},
		`type = attachment and title ~ "spec"`: {att, orphan},
	}}
	f.install(t)
	res, err := inlet.RunSync(confluence{}, inlet.RunOptions{
		// `spaces` is ignored when rules are present (Elastic's field tooltip says so).
		Config:        config(map[string]any{"spaces": []string{"OPS"}}),
		AdvancedRules: `[{"query": "space = DEV and type = page"}, {"query": "type = attachment and title ~ \"spec\""}]`,
	})
	if err != nil {
		t.Fatal(err)
	}
	docs := bodies(t, res.Documents)
	if len(docs) != 4 || docs["21"]["title"] != "Design" || docs["23"]["type"] != "page" {
		t.Fatalf("docs: %v", docs)
	}
	if d := docs["att21"]; d["page"] != "Design" || d["space"] != "Development" || d["type"] != "attachment" {
		t.Errorf("attachment: %v", d)
	}
	for _, d := range res.Documents {
		if d.ID == "att21" && (d.Attachment == nil || string(d.Attachment.Bytes) != "%PDF") {
			t.Errorf("attachment bytes: %+v", d.Attachment)
		}
	}
	// Only the rules' searches (both pages of the first) and the one download: no spaces, no
	// attachment lists of the matched pages.
	for _, r := range f.requests {
		if !strings.Contains(r, "/content/search") && !strings.Contains(r, "/download/") {
			t.Errorf("unexpected request %s", r)
		}
		if strings.Contains(r, "/content/search") && !strings.Contains(r, "container") {
			t.Errorf("a rule's search must expand container: %s", r)
		}
	}
	if len(f.requests) != 4 || !res.HasCursor {
		t.Errorf("requests %v, cursor %q", f.requests, res.Cursor)
	}
}

func TestIncrementalSyncWithRulesNarrowsEachRule(t *testing.T) {
	since := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	f := &fakeCQL{results: map[string][]any{
		`(space = DEV or type = blogpost) and lastmodified >= "2024/03/04 05:06"`:                      {item("21", "page", "Design")},
		`(type = page and title ~ "order by") and lastmodified >= "2024/03/04 05:06" ORDER BY created`: {},
	}}
	f.install(t)
	res, err := inlet.RunSync(confluence{}, inlet.RunOptions{
		Kind: "incremental", Cursor: formatCursor(since), HasCursor: true, Config: config(nil),
		AdvancedRules: `[{"query": "space = DEV or type = blogpost"}, {"query": "type = page and title ~ \"order by\" ORDER BY created"}]`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Documents) != 1 || res.Documents[0].ID != "21" || len(f.cqls) != 2 {
		t.Errorf("docs %v, cql %q", res.Documents, f.cqls)
	}
}

func TestRuleConfluenceCannotParseFailsTheSync(t *testing.T) {
	f := &fakeCQL{}
	f.install(t)
	_, err := inlet.RunSync(confluence{}, inlet.RunOptions{Config: config(nil), AdvancedRules: `[{"query": "type == page"}]`})
	if err == nil || !strings.Contains(err.Error(), "Could not parse cql") {
		t.Errorf("err %v", err)
	}
	if len(f.requests) != 1 {
		t.Errorf("a 400 is not retried: %v", f.requests)
	}
}

func TestEmptyRulesRunTheNormalSync(t *testing.T) {
	f := &fakeConfluence{}
	f.install(t)
	res, err := inlet.RunSync(confluence{}, inlet.RunOptions{Config: config(nil), AdvancedRules: `[]`})
	if err != nil || len(res.Documents) != 6 {
		t.Errorf("%d docs, %v", len(res.Documents), err)
	}
}

func TestMetadataAdvertisesAdvancedRules(t *testing.T) {
	var c inlet.Connector = confluence{}
	if _, ok := c.(inlet.AdvancedRulesValidator); !ok {
		t.Error("confluence does not implement inlet.AdvancedRulesValidator")
	}
}

func TestRulesWithDLSKeepTheACLs(t *testing.T) {
	f := &fakeDLS{}
	f.install(t)
	res, err := inlet.RunSync(confluence{}, inlet.RunOptions{
		Config:        dlsConfig(nil),
		AdvancedRules: `[{"query": "type in (page, blogpost)"}, {"query": "type = attachment"}]`,
	})
	if err != nil {
		t.Fatal(err)
	}
	docs := bodies(t, res.Documents)
	eng := "[account_id:acc-carol group_id:g-eng]"
	want := map[string]string{
		"21": eng, "22": "[account_id:acc-bob group_id:g-eng]", "23": "[account_id:acc-alice group_id:g-eng]",
		"att23": "[account_id:acc-alice group_id:g-eng]", "24": "[account_id:acc-alice]", "27": eng,
	}
	for id, w := range want {
		if got := acl(t, docs[id]); got != w {
			t.Errorf("%s: _allow_access_control %s, want %s", id, got, w)
		}
	}
	// 25 and 26 nobody may read (left out, not public); no spaces without a rule for them.
	if len(docs) != len(want) {
		t.Errorf("%d docs, want %d: %v", len(docs), len(want), docs)
	}
	for _, r := range f.requests {
		u, _ := url.Parse(r)
		if strings.Contains(r, "/content/search") && !strings.Contains(u.Query().Get("expand"), dlsExpand) {
			t.Errorf("a rule's search without the DLS expansions: %s", r)
		}
		if strings.Contains(r, "/child/attachment") || strings.Contains(r, "/rest/api/space") {
			t.Errorf("unexpected request %s", r)
		}
	}
}
