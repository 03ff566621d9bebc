package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"inlet.dev/plugins/shared/atlassian"
	inlet "inlet.dev/sdk"
)

// fakeJira answers the connector's requests natively (through inlet.SetTransport): projects
// ENG and OPS, four issues (ENG-1 with two attachments, one of them a type Elastic does not
// extract), search pages of 2 issues, Cloud's redirect of attachment downloads.
type fakeJira struct {
	requests []string
	// status429: requests whose URL contains a key get that many 429s first.
	status429 map[string]int
	timeZone  string
	// extra issue fields by key (DLS tests).
	extra map[string]map[string]any
	// permissions: project key -> users of the BROWSE permission search.
	permissions map[string][]map[string]any
	levels      map[string][]map[string]any // security level id -> holders
	roles       map[string][]map[string]any // "<project>/<role>" -> actors
}

const fakeBase = "https://acme.atlassian.net"

func (f *fakeJira) install(t *testing.T) {
	t.Helper()
	atlassian.RetryBase = time.Millisecond
	inlet.SetTransport(f.serve)
	t.Cleanup(func() { inlet.SetTransport(nil); atlassian.RetryBase = time.Second })
}

func jsonResp(v any) *inlet.Response {
	b, _ := json.Marshal(v)
	return &inlet.Response{Status: 200, Body: b}
}

func (f *fakeJira) issues() []map[string]any {
	var out []map[string]any
	for i, key := range []string{"ENG-1", "ENG-2", "OPS-1", "OPS-2"} {
		proj := map[string]any{"id": "10000", "key": "ENG", "name": "Engineering"}
		if strings.HasPrefix(key, "OPS") {
			proj = map[string]any{"id": "10001", "key": "OPS", "name": "Operations"}
		}
		fields := map[string]any{
			"summary":           "Issue " + key,
			"description":       "Plain *wiki* text of " + key,
			"issuetype":         map[string]any{"name": []string{"Bug", "Task"}[i%2]},
			"project":           proj,
			"updated":           fmt.Sprintf("2024-01-0%dT10:00:00.000+0100", i+1),
			"customfield_10010": float64(i + 1),
			"customfield_10020": nil,
			"attachment":        []any{},
		}
		if key == "ENG-1" {
			fields["attachment"] = []any{
				map[string]any{"id": "501", "filename": "notes.txt", "size": 5, "created": "2024-01-01T09:00:00.000+0000"},
				map[string]any{"id": "502", "filename": "photo.png", "size": 7, "created": "2024-01-01T09:30:00.000+0000"},
			}
		}
		for k, v := range f.extra[key] {
			fields[k] = v
		}
		out = append(out, map[string]any{"id": strconv.Itoa(20000 + i), "key": key, "fields": fields})
	}
	return out
}

func (f *fakeJira) serve(req *inlet.Request) (*inlet.Response, error) {
	f.requests = append(f.requests, req.URL)
	for k, n := range f.status429 {
		if strings.Contains(req.URL, k) && n > 0 {
			f.status429[k] = n - 1
			return &inlet.Response{Status: 429, Header: inlet.Header{"retry-after": {"0"}}}, nil
		}
	}
	u, _ := url.Parse(req.URL)
	q := u.Query()
	switch p := u.Path; {
	case p == "/rest/api/2/myself":
		return jsonResp(map[string]any{"accountId": "me", "timeZone": f.timeZone}), nil
	case p == "/rest/api/2/field":
		return jsonResp([]any{
			map[string]any{"id": "summary", "name": "Summary", "custom": false},
			map[string]any{"id": "customfield_10010", "name": "Story Points", "custom": true},
			map[string]any{"id": "customfield_10020", "name": "Team", "custom": true},
		}), nil
	case p == "/rest/api/2/project":
		return jsonResp([]any{
			map[string]any{"id": "10000", "key": "ENG", "name": "Engineering", "description": "builds"},
			map[string]any{"id": "10001", "key": "OPS", "name": "Operations"},
		}), nil
	case p == "/rest/api/2/project/ENG":
		return jsonResp(map[string]any{"id": "10000", "key": "ENG", "name": "Engineering"}), nil
	case p == "/rest/api/2/search/jql" || p == "/rest/api/2/search":
		all := f.issues()
		if jql := q.Get("jql"); strings.Contains(jql, `project = OPS`) {
			all = all[2:]
		}
		start := 0
		if p == "/rest/api/2/search" {
			start, _ = strconv.Atoi(q.Get("startAt"))
		} else if tok := q.Get("nextPageToken"); tok != "" {
			b, _ := base64.StdEncoding.DecodeString(tok)
			start, _ = strconv.Atoi(string(b))
		}
		end := min(start+2, len(all))
		page := map[string]any{"issues": all[start:end]}
		if p == "/rest/api/2/search" {
			page["startAt"], page["total"], page["maxResults"] = start, len(all), 2
		} else if end < len(all) {
			page["nextPageToken"] = base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(end)))
		}
		return jsonResp(page), nil
	case strings.HasPrefix(p, "/rest/api/2/attachment/content/"):
		id := strings.TrimPrefix(p, "/rest/api/2/attachment/content/")
		return &inlet.Response{Status: 303, Header: inlet.Header{"location": {"https://api.media.atlassian.com/file/" + id + "/binary?token=x"}}}, nil
	case strings.HasPrefix(p, "/file/") || strings.HasPrefix(p, "/secure/attachment/"):
		return &inlet.Response{Status: 200, Body: []byte("hello")}, nil
	case p == "/rest/api/2/user/permission/search":
		users := f.permissions[q.Get("projectKey")]
		start, _ := strconv.Atoi(q.Get("startAt"))
		return jsonResp(users[min(start, len(users)):min(start+1, len(users))]), nil // pages of 1
	case p == "/rest/api/3/issuesecurityschemes/level/member":
		holders := f.levels[q.Get("levelId")]
		var values []any
		for _, h := range holders {
			values = append(values, map[string]any{"holder": h})
		}
		return jsonResp(map[string]any{"values": values, "total": len(values), "isLast": true}), nil
	case strings.HasPrefix(p, "/rest/api/3/project/"):
		rest := strings.TrimPrefix(p, "/rest/api/3/project/")
		actors, ok := f.roles[strings.Replace(rest, "/role/", "/", 1)]
		if !ok {
			return &inlet.Response{Status: 404, Body: []byte(`{"errorMessages":["no role"]}`)}, nil
		}
		return jsonResp(map[string]any{"actors": actors}), nil
	}
	return &inlet.Response{Status: 404, Body: []byte(`{"errorMessages":["not found"]}`)}, nil
}

func config(extra map[string]any) map[string]any {
	c := map[string]any{"data_source": cloud, "jira_url": fakeBase + "/", "projects": []string{"*"}}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func byID(docs []inlet.Document) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, d := range docs {
		var body map[string]any
		if err := json.Unmarshal([]byte(d.Body), &body); err != nil {
			panic(err)
		}
		body["@timestamp"] = d.Timestamp
		if d.Attachment != nil {
			body["@attachment"] = string(d.Attachment.Bytes)
		}
		out[d.ID] = body
	}
	return out
}

func TestFullSyncCloud(t *testing.T) {
	f := &fakeJira{status429: map[string]int{"/rest/api/2/search/jql": 1}}
	f.install(t)
	res, err := inlet.RunSync(jira{}, inlet.RunOptions{Config: config(nil)})
	if err != nil {
		t.Fatal(err)
	}
	docs := byID(res.Documents)
	var ids []string
	for _, d := range res.Documents {
		ids = append(ids, d.ID)
	}
	want := []string{"project-10000", "project-10001", "Engineering-ENG-1", "Engineering-ENG-2", "ENG-1-501", "ENG-1-502", "Operations-OPS-1", "Operations-OPS-2"}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	p := docs["project-10000"]
	if p["Key"] != "ENG" || p["Type"] != "Project" || p["Project"].(map[string]any)["description"] != "builds" {
		t.Errorf("project %v", p)
	}
	is := docs["Engineering-ENG-1"]
	issueFields := is["Issue"].(map[string]any)
	custom := is["Custom_Fields"].(map[string]any)
	if is["Key"] != "ENG-1" || is["Type"] != "Bug" || issueFields["summary"] != "Issue ENG-1" ||
		issueFields["description"] != "Plain *wiki* text of ENG-1" {
		t.Errorf("issue %v", is)
	}
	if _, ok := issueFields["customfield_10010"]; ok {
		t.Errorf("custom fields are not under Issue: %v", issueFields)
	}
	if custom["Story Points"] != float64(1) || len(custom) != 2 {
		t.Errorf("Custom_Fields by name, nulls kept as Elastic does: %v", custom)
	}
	if is["@timestamp"] != "2024-01-01T10:00:00.000+01:00" {
		t.Errorf("Jira's `updated` as RFC 3339: %v", is["@timestamp"])
	}
	att := docs["ENG-1-501"]
	if att["title"] != "notes.txt" || att["Type"] != "Attachment" || att["issue"] != "ENG-1" || att["size"] != float64(5) ||
		att["@attachment"] != "hello" || att["@timestamp"] != "2024-01-01T09:00:00.000Z" {
		t.Errorf("attachment %v", att)
	}
	if _, ok := docs["ENG-1-502"]["@attachment"]; ok {
		t.Errorf("a .png is not downloaded (Elastic's extensions): %v", docs["ENG-1-502"])
	}
	var searches, downloads []string
	for _, r := range f.requests {
		if strings.Contains(r, "/search/jql") {
			searches = append(searches, r)
		}
		if strings.Contains(r, "/attachment/content/") || strings.Contains(r, "api.media") {
			downloads = append(downloads, r)
		}
	}
	// 2 pages, the first one twice (429).
	if len(searches) != 3 || searches[0] != searches[1] || !strings.Contains(searches[0], "jql=key+IS+NOT+EMPTY") ||
		!strings.Contains(searches[0], "fields=%2Aall") || !strings.Contains(searches[2], "nextPageToken=") {
		t.Errorf("searches %v", searches)
	}
	if fmt.Sprint(downloads) != "[https://acme.atlassian.net/rest/api/2/attachment/content/501 https://api.media.atlassian.com/file/501/binary?token=x]" {
		t.Errorf("downloads %v: the content API, then its redirect", downloads)
	}
	if c, _ := parseCursor(res.Cursor); c.IsZero() {
		t.Errorf("cursor %q", res.Cursor)
	}
}

func TestServerPagesByStartAtAndDownloadsFromTheServlet(t *testing.T) {
	f := &fakeJira{}
	f.install(t)
	res, err := inlet.RunSync(jira{}, inlet.RunOptions{Config: config(map[string]any{"data_source": server, "projects": "ENG"})})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Documents) != 1+4+2 {
		t.Errorf("%d documents: project ENG, 4 issues, 2 attachments", len(res.Documents))
	}
	var starts []string
	for _, r := range f.requests {
		u, _ := url.Parse(r)
		if u.Path == "/rest/api/2/search" {
			starts = append(starts, u.Query().Get("startAt"))
			if u.Query().Get("jql") != `project in ("ENG")` {
				t.Errorf("jql %q", u.Query().Get("jql"))
			}
		}
		if strings.Contains(r, "/secure/attachment/") && r != fakeBase+"/secure/attachment/501/notes.txt" {
			t.Errorf("download %s", r)
		}
	}
	// Jira answered 2 per page although 100 were asked for: advance by what came back.
	if fmt.Sprint(starts) != "[0 2]" {
		t.Errorf("startAt %v", starts)
	}
}

func TestUnknownProjectIsAConfigError(t *testing.T) {
	f := &fakeJira{}
	f.install(t)
	_, err := inlet.RunSync(jira{}, inlet.RunOptions{Config: config(map[string]any{"projects": []string{"ENG", "NOPE"}})})
	if inlet.AsError(err).Kind != inlet.KindConfig || !strings.Contains(err.Error(), "NOPE") {
		t.Fatalf("%v", err)
	}
	for _, r := range f.requests {
		if strings.Contains(r, "/search") {
			t.Errorf("nothing is searched before the projects are known: %s", r)
		}
	}
}

func TestIncrementalWritesTheCursorInTheAccountsTimeZone(t *testing.T) {
	f := &fakeJira{timeZone: "Europe/Berlin"}
	f.install(t)
	since := time.Date(2024, 1, 2, 23, 30, 45, 0, time.UTC)
	res, err := inlet.RunSync(jira{}, inlet.RunOptions{Kind: "incremental", Cursor: formatCursor(since), HasCursor: true, Config: config(nil)})
	if err != nil {
		t.Fatal(err)
	}
	var jql []string
	for _, r := range f.requests {
		u, _ := url.Parse(r)
		if j := u.Query().Get("jql"); j != "" && u.Query().Get("nextPageToken") == "" {
			jql = append(jql, j)
		}
		if strings.Contains(u.Path, "/project") {
			t.Errorf("an incremental sync indexes no projects: %s", r)
		}
	}
	// 23:30 UTC is 00:30 the next day in Berlin (UTC+1 in January).
	if fmt.Sprint(jql) != `[(key IS NOT EMPTY) and updated >= "2024/01/03 00:30"]` {
		t.Errorf("jql %q", jql)
	}
	if len(res.Documents) != 6 {
		t.Errorf("%d documents (the fake ignores the date): issues and their attachments", len(res.Documents))
	}
}

func TestAdvancedRules(t *testing.T) {
	f := &fakeJira{}
	f.install(t)
	rules := `[{"query": "project = OPS ORDER BY key ASC"}]`
	res, err := inlet.RunSync(jira{}, inlet.RunOptions{Config: config(map[string]any{"projects": "ENG"}), AdvancedRules: rules})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range res.Documents {
		ids = append(ids, d.ID)
	}
	if fmt.Sprint(ids) != "[Operations-OPS-1 Operations-OPS-2]" {
		t.Errorf("exactly the rule's issues, no projects: %v", ids)
	}
	f.requests = nil
	_, err = inlet.RunSync(jira{}, inlet.RunOptions{Kind: "incremental", Cursor: formatCursor(time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)), HasCursor: true,
		Config: config(nil), AdvancedRules: rules})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.requests {
		u, _ := url.Parse(r)
		if j := u.Query().Get("jql"); j != "" && j != `(project = OPS) and updated >= "2024/05/01 08:00" ORDER BY key ASC` {
			t.Errorf("jql %q", j)
		}
	}
	v, _ := jira{}.ValidateAdvancedRules(inlet.NewConfig(nil), `[{"jql": "x"}]`)
	if v.Valid || len(v.Messages) != 2 || !strings.Contains(v.Messages[1], "a JQL query") {
		t.Errorf("%+v", v)
	}
}

func TestDLSNeedsCloud(t *testing.T) {
	_, err := readSettings(inlet.NewConfig(map[string]any{"data_source": server, "jira_url": "https://j", "projects": "*",
		"retry_count": 3, "concurrent_downloads": 10, "use_document_level_security": true}))
	if inlet.AsError(err).Kind != inlet.KindConfig || !strings.Contains(err.Error(), "use_document_level_security") {
		t.Errorf("%v", err)
	}
}
