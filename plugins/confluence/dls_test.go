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

// fakeDLS answers a Cloud site with permissions and restrictions (through inlet.SetTransport):
//
//	space ENG: readers group g-eng and user acc-carol (plus an app, which does not count)
//	space OPS: only an app may read it, so nobody
//	page 21 (ENG):                   unrestricted                      -> ENG's readers
//	page 22 (ENG, under 21):         acc-bob + g-eng                   -> its own
//	page 23 (ENG, under 21 and 30):  unrestricted; 30 is g-eng+alice   -> 30's; one attachment
//	page 24 (ENG, under 30):         acc-alice                         -> alice (both agree)
//	page 25 (ENG, under 30):         acc-bob                           -> nobody; one attachment
//	blog 26 (OPS):                   unrestricted                      -> nobody (OPS)
//	page 27 (ENG, under 99):         99 is gone (404)                  -> ENG's readers
type fakeDLS struct {
	requests []string
	// fail: requests whose URL contains the key answer 500.
	fail string
}

func (f *fakeDLS) install(t *testing.T) {
	t.Helper()
	atlassian.RetryBase = time.Millisecond
	inlet.SetTransport(f.serve)
	t.Cleanup(func() { inlet.SetTransport(nil); atlassian.RetryBase = time.Second })
}

func user(id string) map[string]any {
	return map[string]any{"type": "known", "accountId": id, "accountType": "atlassian", "displayName": id}
}

func group(id string) map[string]any {
	return map[string]any{"type": "group", "id": id, "name": "name of " + id}
}

func subjectsJSON(users, groups []any) map[string]any {
	return map[string]any{
		"user":  map[string]any{"results": users, "size": len(users)},
		"group": map[string]any{"results": groups, "size": len(groups)},
	}
}

func permission(op, target string, users, groups []any) map[string]any {
	return map[string]any{"operation": map[string]any{"operation": op, "targetType": target}, "subjects": subjectsJSON(users, groups)}
}

var app = map[string]any{"type": "known", "accountId": "app-1", "accountType": "app"}

var spacePerms = map[string][]any{
	"ENG": {
		permission("read", "space", []any{user("acc-carol"), app}, []any{group("g-eng")}),
		permission("create", "page", nil, []any{group("g-eng")}),
		permission("read", "space", []any{map[string]any{"type": "anonymous"}}, nil),
	},
	"OPS": {permission("read", "space", []any{app}, nil)},
}

// restricted: content id -> its read restrictions (users, groups); absent is unrestricted.
var restricted = map[string][2][]any{
	"22": {{user("acc-bob")}, {group("g-eng")}},
	"24": {{user("acc-alice")}, nil},
	"25": {{user("acc-bob")}, nil},
	"30": {{user("acc-alice")}, {group("g-eng")}},
}

func (f *fakeDLS) item(id, kind, spaceKey string, ancestors []string, files int, expand string) map[string]any {
	anc := []any{}
	for _, a := range ancestors {
		anc = append(anc, map[string]any{"id": a, "title": "Page " + a})
	}
	sp := map[string]any{"key": spaceKey, "name": spaceKey + " space"}
	if strings.Contains(expand, "space.permissions") {
		sp["permissions"] = spacePerms[spaceKey]
	}
	doc := map[string]any{
		"id": id, "type": kind, "title": "Page " + id, "space": sp, "ancestors": anc,
		"children": map[string]any{"attachment": map[string]any{"size": files}},
		"_links":   map[string]any{"webui": "/x/" + id},
	}
	if strings.Contains(expand, "restrictions.read.restrictions.user") {
		r := restricted[id]
		doc["restrictions"] = map[string]any{"read": map[string]any{"operation": "read", "restrictions": subjectsJSON(r[0], r[1])}}
	}
	return doc
}

func (f *fakeDLS) serve(req *inlet.Request) (*inlet.Response, error) {
	f.requests = append(f.requests, req.URL)
	if f.fail != "" && strings.Contains(req.URL, f.fail) {
		return &inlet.Response{Status: 500, Body: []byte("boom")}, nil
	}
	u, _ := url.Parse(req.URL)
	q := u.Query()
	expand := q.Get("expand")
	jsonResp := func(v any) (*inlet.Response, error) {
		b, _ := json.Marshal(v)
		return &inlet.Response{Status: 200, Body: b}, nil
	}
	switch path := u.Path; {
	case path == "/wiki/rest/api/space":
		var items []any
		for _, k := range []string{"ENG", "OPS"} {
			sp := map[string]any{"key": k, "name": k + " space", "_links": map[string]any{"webui": "/spaces/" + k}}
			if strings.Contains(expand, "permissions") {
				sp["permissions"] = spacePerms[k]
			}
			items = append(items, sp)
		}
		return page(u, items), nil
	case path == "/wiki/rest/api/content/search" && strings.Contains(q.Get("cql"), "attachment"):
		return page(u, []any{map[string]any{
			"id": "att23", "type": "attachment", "title": "f.txt",
			"container": map[string]any{"id": "23", "type": "page", "title": "Page 23"},
			"space":     map[string]any{"key": "ENG", "name": "ENG space"},
		}}), nil
	case path == "/wiki/rest/api/content/search":
		return page(u, []any{
			f.item("21", "page", "ENG", nil, 0, expand),
			f.item("22", "page", "ENG", []string{"21"}, 0, expand),
			f.item("23", "page", "ENG", []string{"21", "30"}, 1, expand),
			f.item("24", "page", "ENG", []string{"30"}, 0, expand),
			f.item("25", "page", "ENG", []string{"30"}, 1, expand),
			f.item("26", "blogpost", "OPS", nil, 0, expand),
			f.item("27", "page", "ENG", []string{"99"}, 0, expand),
		}), nil
	case path == "/wiki/rest/api/content/23":
		return jsonResp(f.item("23", "page", "ENG", []string{"21", "30"}, 1, expand))
	case strings.HasSuffix(path, "/restriction/byOperation/read"):
		id := strings.Split(strings.TrimPrefix(path, "/wiki/rest/api/content/"), "/")[0]
		if id == "99" {
			return &inlet.Response{Status: 404, Body: []byte(`{"message":"no content"}`)}, nil
		}
		r := restricted[id]
		return jsonResp(map[string]any{"operation": "read", "restrictions": subjectsJSON(r[0], r[1])})
	case strings.HasSuffix(path, "/child/attachment"):
		id := strings.Split(strings.TrimPrefix(path, "/wiki/rest/api/content/"), "/")[0]
		return page(u, []any{map[string]any{"id": "att" + id, "type": "attachment", "title": "f.txt"}}), nil
	case path == "/rest/api/3/users/search":
		// Pages of 2, whatever maxResults says (a site may answer fewer than asked).
		all := []any{
			map[string]any{"self": "https://acme.atlassian.net/rest/api/3/user?accountId=acc-alice", "accountId": "acc-alice", "accountType": "atlassian", "active": true, "displayName": "Alice Adams"},
			map[string]any{"self": "https://acme.atlassian.net/rest/api/3/user?accountId=app-1", "accountId": "app-1", "accountType": "app", "active": true, "displayName": "Bot"},
			map[string]any{"self": "https://acme.atlassian.net/rest/api/3/user?accountId=acc-dave", "accountId": "acc-dave", "accountType": "atlassian", "active": false, "displayName": "Dave"},
			map[string]any{"self": "https://acme.atlassian.net/rest/api/3/user?accountId=acc-bob", "accountId": "acc-bob", "accountType": "atlassian", "active": true, "displayName": "Bob"},
			map[string]any{"self": "https://acme.atlassian.net/rest/api/3/user?accountId=cust-1", "accountId": "cust-1", "accountType": "customer", "active": true, "displayName": "Customer"},
		}
		start := 0
		fmt.Sscan(q.Get("startAt"), &start)
		return jsonResp(all[min(start, len(all)):min(start+2, len(all))])
	case path == "/rest/api/3/user":
		id := q.Get("accountId")
		if expand != "groups,applicationRoles" {
			return &inlet.Response{Status: 400, Body: []byte("expand groups and roles")}, nil
		}
		switch id {
		case "acc-alice":
			return jsonResp(map[string]any{
				"accountId": id, "accountType": "atlassian", "active": true, "displayName": "Alice  Adams",
				"emailAddress": "alice@example.com", "locale": "en_US",
				"groups": map[string]any{"size": 2, "items": []any{
					map[string]any{"name": "eng", "groupId": "g-eng"}, map[string]any{"name": "all", "groupId": "g-all"}}},
				"applicationRoles": map[string]any{"size": 1, "items": []any{map[string]any{"key": "confluence"}}},
			})
		case "acc-bob":
			return &inlet.Response{Status: 404, Body: []byte(`{"errorMessages":["gone"]}`)}, nil
		}
	}
	return &inlet.Response{Status: 404, Body: []byte(`{"message":"not found"}`)}, nil
}

// dlsConfig is a Cloud configuration with DLS on; 2 concurrent requests, so that prefetching
// restrictions takes several groups.
func dlsConfig(extra map[string]any) map[string]any {
	c := config(map[string]any{"use_document_level_security": true, "concurrent_downloads": 2})
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func acl(t *testing.T, d map[string]any) string {
	t.Helper()
	v, ok := d[atlassian.ACLField]
	if !ok {
		return "absent"
	}
	return fmt.Sprint(v)
}

func TestFullSyncWithDLS(t *testing.T) {
	f := &fakeDLS{}
	f.install(t)
	res, err := inlet.RunSync(confluence{}, inlet.RunOptions{Config: dlsConfig(nil)})
	if err != nil {
		t.Fatal(err)
	}
	docs := bodies(t, res.Documents)
	eng := "[account_id:acc-carol group_id:g-eng]"
	want := map[string]string{
		"ENG":   eng,
		"21":    eng,
		"22":    "[account_id:acc-bob group_id:g-eng]",
		"23":    "[account_id:acc-alice group_id:g-eng]",
		"att23": "[account_id:acc-alice group_id:g-eng]",
		"24":    "[account_id:acc-alice]",
		"27":    eng,
	}
	for id, w := range want {
		if d, ok := docs[id]; !ok {
			t.Errorf("%s not indexed", id)
		} else if got := acl(t, d); got != w {
			t.Errorf("%s: _allow_access_control %s, want %s", id, got, w)
		}
	}
	// Nobody may read them: an empty list would make them public, so they are left out.
	for _, id := range []string{"OPS", "25", "att25", "26"} {
		if _, ok := docs[id]; ok {
			t.Errorf("%s is indexed (%v), but nobody may read it", id, docs[id])
		}
	}
	if len(docs) != len(want) {
		t.Errorf("%d docs, want %d: %v", len(docs), len(want), docs)
	}
	// Each ancestor's restrictions are read once per sync; restrictions come expanded with the
	// content, and space permissions with the spaces.
	count := map[string]int{}
	for _, r := range f.requests {
		u, _ := url.Parse(r)
		count[u.Path]++
		if strings.Contains(u.Path, "/content/search") && !strings.Contains(u.Query().Get("expand"), dlsExpand) {
			t.Errorf("content asked for without its restrictions: %s", r)
		}
		if u.Path == "/wiki/rest/api/space" && u.Query().Get("expand") != "permissions,history" {
			t.Errorf("spaces asked for without permissions: %s", r)
		}
	}
	for _, id := range []string{"21", "30", "99"} {
		if n := count["/wiki/rest/api/content/"+id+"/restriction/byOperation/read"]; n != 1 {
			t.Errorf("restrictions of %s read %d times, want 1", id, n)
		}
	}
	if n := count["/wiki/rest/api/content/22/restriction/byOperation/read"]; n != 0 {
		t.Errorf("restrictions of 22 (expanded in the search) read again %d times", n)
	}
}

func TestWithoutDLSNoACLAndNoPermissionRequests(t *testing.T) {
	f := &fakeDLS{}
	f.install(t)
	res, err := inlet.RunSync(confluence{}, inlet.RunOptions{Config: config(nil)})
	if err != nil {
		t.Fatal(err)
	}
	docs := bodies(t, res.Documents)
	for id, d := range docs {
		if _, ok := d[atlassian.ACLField]; ok {
			t.Errorf("%s has %s without DLS", id, atlassian.ACLField)
		}
	}
	if _, ok := docs["25"]; !ok {
		t.Error("without DLS every page is indexed")
	}
	for _, r := range f.requests {
		if strings.Contains(r, "restriction") || strings.Contains(r, "permissions") {
			t.Errorf("permission request without DLS: %s", r)
		}
	}
	if _, err := (confluence{}).AccessControlSync(inlet.SyncRequest{Config: inlet.NewConfig(withSchemaDefaults(config(nil)))}); inlet.AsError(err).Kind != inlet.KindConfig {
		t.Errorf("access-control sync with DLS off: %v, want a config error", err)
	}
}

func TestUnreadableRestrictionsFailTheSync(t *testing.T) {
	f := &fakeDLS{fail: "/content/30/restriction"}
	f.install(t)
	_, err := inlet.RunSync(confluence{}, inlet.RunOptions{Config: dlsConfig(map[string]any{"retry_count": 1})})
	if err == nil || !strings.Contains(err.Error(), "content 30") {
		t.Fatalf("err = %v, want the sync to fail on content 30's restrictions", err)
	}
}

func TestIncrementalAttachmentsGetTheirPagesACL(t *testing.T) {
	f := &fakeDLS{}
	f.install(t)
	res, err := inlet.RunSync(confluence{}, inlet.RunOptions{
		Kind: "incremental", Cursor: formatCursor(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)), HasCursor: true,
		Config: dlsConfig(nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	docs := bodies(t, res.Documents)
	if got := acl(t, docs["att23"]); got != "[account_id:acc-alice group_id:g-eng]" {
		t.Errorf("att23: %s", got)
	}
	if got := acl(t, docs["22"]); got != "[account_id:acc-bob group_id:g-eng]" {
		t.Errorf("22: %s", got)
	}
}

func TestAccessControlSyncWritesElasticIdentities(t *testing.T) {
	f := &fakeDLS{}
	f.install(t)
	res, err := inlet.RunSync(confluence{}, inlet.RunOptions{Kind: "access-control", Config: dlsConfig(nil)})
	if err != nil {
		t.Fatal(err)
	}
	// Only alice: the app, the inactive account and the customer have no identity, and bob's
	// account went away between the search and the lookup.
	if len(res.Documents) != 1 || res.Documents[0].ID != "acc-alice" {
		t.Fatalf("documents %v", res.Documents)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(res.Documents[0].Body), &doc); err != nil {
		t.Fatal(err)
	}
	created, _ := doc["created_at"].(string)
	if _, err := time.Parse(time.RFC3339Nano, created); err != nil {
		t.Errorf("created_at %q: %v", created, err)
	}
	delete(doc, "created_at")
	got, _ := json.Marshal(doc)
	want := `{"identity":{"account_id":"account_id:acc-alice","display_name":"name:Alice--Adams","email_address":"email_address:alice@example.com","locale":"locale:en_US"},` +
		`"query":{"template":{"params":{"access_control":["account_id:acc-alice","group_id:g-all","group_id:g-eng","role_key:confluence"]},"source":` + string(mustJSON(atlassian.DLSQuery)) + `}}}`
	if string(got) != want {
		t.Errorf("identity\n got %s\nwant %s", got, want)
	}
	// Users are at the site's root (not /wiki), and every page of the search was read.
	var starts []string
	for _, r := range f.requests {
		u, _ := url.Parse(r)
		if u.Path == "/rest/api/3/users/search" {
			starts = append(starts, u.Query().Get("startAt"))
		} else if u.Path != "/rest/api/3/user" {
			t.Errorf("unexpected request %s", r)
		}
	}
	if fmt.Sprint(starts) != "[0 2 4 5]" {
		t.Errorf("user search startAt %v, want [0 2 4 5]", starts)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// The SDK advertises document-level security for connectors implementing this interface.
var _ inlet.AccessControlSyncer = confluence{}
