package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	inlet "inlet.dev/sdk"
)

const endpoint = "https://inletdocs.blob.core.windows.net"

// fakeBlob is one blob of the fake service.
type fakeBlob struct {
	name     string
	body     []byte
	modified time.Time
	tier     string // "" leaves AccessTier out
	ctype    *string
	meta     [][2]string
	leased   bool
	// gone: listed, but deleted before its download (404).
	gone bool
}

type fakeContainer struct {
	name string
	meta [][2]string // nil: no <Metadata> element (as Azurite answers for none)
}

// fakeAzure answers the connector's requests natively (inlet.SetTransport) in the Blob
// service's XML shapes: containers with metadata, List Blobs pages by `marker` (opaque markers
// holding `+` and `/`, as Azure's base64 ones do), Get Blob, Get Account Information, Azure's
// error documents, and failures on demand.
type fakeAzure struct {
	containers []fakeContainer
	blobs      map[string][]fakeBlob // by container, sorted by name
	date       time.Time
	requests   []*inlet.Request
	// fail: requests whose path contains the key get these statuses first, in turn.
	fail map[string][]int
}

func newFake() *fakeAzure {
	return &fakeAzure{blobs: map[string][]fakeBlob{}, date: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), fail: map[string][]int{}}
}

func (f *fakeAzure) install(t *testing.T) {
	t.Helper()
	retryBase = time.Millisecond
	inlet.SetTransport(f.serve)
	t.Cleanup(func() { inlet.SetTransport(nil); retryBase = time.Second })
}

func (f *fakeAzure) add(container string, b fakeBlob) {
	list := append(f.blobs[container], b)
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	f.blobs[container] = list
}

func rfc1123(t time.Time) string { return t.UTC().Format(time.RFC1123) }

func xmlText(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
	return r.Replace(s)
}

func metaXML(meta [][2]string) string {
	if meta == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("<Metadata>")
	for _, kv := range meta {
		fmt.Fprintf(&b, "<%s>%s</%s>", kv[0], xmlText(kv[1]), kv[0])
	}
	b.WriteString("</Metadata>")
	return b.String()
}

func azureError(status int, code string) *inlet.Response {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>%s
RequestId:1</Message></Error>`, code, code+" happened")
	return &inlet.Response{Status: status, Body: []byte(body), Header: inlet.Header{}}
}

// markerFor is an opaque marker naming the blob a page starts at.
func markerFor(name string) string { return "2!+/" + url.PathEscape(name) }

func (f *fakeAzure) serve(req *inlet.Request) (*inlet.Response, error) {
	f.requests = append(f.requests, req)
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, err
	}
	for key, statuses := range f.fail {
		if strings.Contains(u.Path+"?"+u.RawQuery, key) && len(statuses) > 0 {
			f.fail[key] = statuses[1:]
			r := azureError(statuses[0], map[int]string{403: "AuthenticationFailed", 500: "InternalError", 503: "ServerBusy"}[statuses[0]])
			if statuses[0] == 503 {
				r.Header.Add("retry-after", "0")
			}
			return r, nil
		}
	}
	q := u.Query()
	ok := func(body string) *inlet.Response {
		return &inlet.Response{Status: 200, Body: []byte(body), Header: inlet.Header{"date": {rfc1123(f.date)}}}
	}
	parts := strings.SplitN(strings.TrimPrefix(u.Path, "/"), "/", 2)
	switch {
	case u.Path == "/" && q.Get("restype") == "account":
		return ok(""), nil
	case u.Path == "/" && q.Get("comp") == "list":
		var b strings.Builder
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="` + endpoint + `/"><Containers>`)
		for _, c := range f.containers {
			fmt.Fprintf(&b, "<Container><Name>%s</Name><Properties/>%s</Container>", c.name, metaXML(c.meta))
		}
		b.WriteString("</Containers><NextMarker/></EnumerationResults>")
		return ok(b.String()), nil
	case len(parts) == 1 && q.Get("comp") == "list" && q.Get("restype") == "container":
		blobs, found := f.blobs[parts[0]]
		if !found {
			return azureError(404, "ContainerNotFound"), nil
		}
		size, _ := strconv.Atoi(q.Get("maxresults"))
		if size <= 0 {
			size = 5000
		}
		start := 0
		if m := q.Get("marker"); m != "" {
			start = len(blobs)
			for i, b := range blobs {
				if markerFor(b.name) == m {
					start = i
				}
			}
		}
		end := min(start+size, len(blobs))
		var b strings.Builder
		fmt.Fprintf(&b, `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="%s/" ContainerName="%s"><MaxResults>%d</MaxResults><Blobs>`, endpoint, parts[0], size)
		for _, bl := range blobs[start:end] {
			name := "<Name>" + xmlText(bl.name) + "</Name>"
			if strings.ContainsRune(bl.name, '\x01') {
				name = `<Name Encoded="true">` + url.PathEscape(bl.name) + "</Name>"
			}
			props := fmt.Sprintf("<Creation-Time>%s</Creation-Time><Last-Modified>%s</Last-Modified><Content-Length>%d</Content-Length>",
				rfc1123(bl.modified.Add(-time.Hour)), rfc1123(bl.modified), len(bl.body))
			if bl.ctype != nil {
				props += "<Content-Type>" + xmlText(*bl.ctype) + "</Content-Type>"
			}
			props += "<BlobType>BlockBlob</BlobType>"
			if bl.leased {
				props += "<LeaseStatus>locked</LeaseStatus><LeaseState>leased</LeaseState><LeaseDuration>infinite</LeaseDuration>"
			} else {
				props += "<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>"
			}
			if bl.tier != "" {
				props += "<AccessTier>" + bl.tier + "</AccessTier>"
			}
			fmt.Fprintf(&b, "<Blob>%s<Properties>%s</Properties>%s</Blob>", name, props, metaXML(append([][2]string{}, bl.meta...)))
		}
		b.WriteString("</Blobs>")
		if end < len(blobs) {
			b.WriteString("<NextMarker>" + xmlText(markerFor(blobs[end].name)) + "</NextMarker>")
		} else {
			b.WriteString("<NextMarker/>")
		}
		b.WriteString("</EnumerationResults>")
		return ok(b.String()), nil
	case len(parts) == 2:
		name, err := url.PathUnescape(parts[1])
		if err != nil {
			return nil, err
		}
		for _, bl := range f.blobs[parts[0]] {
			if bl.name == name && !bl.gone {
				return &inlet.Response{Status: 200, Body: bl.body, Header: inlet.Header{}}, nil
			}
		}
		return azureError(404, "BlobNotFound"), nil
	}
	return azureError(400, "UnsupportedHttpVerb"), nil
}

func text(s string) *string { return &s }

// standard is two containers: `docs` (metadata, several kinds of blobs) and `archive` (no
// metadata element).
func standard() *fakeAzure {
	f := newFake()
	f.containers = []fakeContainer{{name: "archive"}, {name: "docs", meta: [][2]string{{"team", "search"}}}, {name: "other"}}
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	f.add("docs", fakeBlob{name: "notes/a b.txt", body: []byte("hello notes"), modified: t0, tier: "Hot", ctype: text("text/plain"),
		meta: [][2]string{{"owner", "inlet"}, {"note", "it's"}}})
	f.add("docs", fakeBlob{name: "scan.bin", body: []byte{0xff, 0, 1}, modified: t0.Add(time.Hour), tier: "Hot", ctype: text("application/octet-stream")})
	f.add("docs", fakeBlob{name: "Report.PDF", body: []byte("%PDF-1.4"), modified: t0.Add(2 * time.Hour), tier: "Cool", leased: true})
	f.add("docs", fakeBlob{name: "cold.txt", body: []byte("frozen"), modified: t0.Add(3 * time.Hour), tier: "Archive"})
	f.add("docs", fakeBlob{name: "empty.txt", body: nil, modified: t0.Add(4 * time.Hour), tier: "Hot"})
	f.add("docs", fakeBlob{name: ".profile", body: []byte("x"), modified: t0.Add(5 * time.Hour)})
	f.add("docs", fakeBlob{name: "odd\x01name.md", body: []byte("# odd"), modified: t0.Add(6 * time.Hour), tier: "Hot"})
	f.add("archive", fakeBlob{name: "2023/old.csv", body: []byte("a,b\n1,2\n"), modified: t0.Add(-24 * time.Hour), tier: "Hot"})
	f.add("other", fakeBlob{name: "skip.txt", body: []byte("not configured"), modified: t0})
	return f
}

func config(extra map[string]any) map[string]any {
	c := map[string]any{
		"account_name":  "inletdocs",
		"blob_endpoint": endpoint + "/",
		"containers":    []string{"docs", "archive"},
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func byID(t *testing.T, res inlet.RunResult) map[string]inlet.Document {
	t.Helper()
	out := map[string]inlet.Document{}
	for _, d := range res.Documents {
		if _, dup := out[d.ID]; dup {
			t.Fatalf("document %s emitted twice", d.ID)
		}
		out[d.ID] = d
	}
	return out
}

func body(t *testing.T, d inlet.Document) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(d.Body), &m); err != nil {
		t.Fatalf("%s: %v", d.ID, err)
	}
	return m
}

func TestFullSyncBuildsElasticsDocuments(t *testing.T) {
	f := standard()
	f.install(t)
	res, err := inlet.RunSync(azureBlobStorage{}, inlet.RunOptions{Config: config(nil)})
	if err != nil {
		t.Fatal(err)
	}
	docs := byID(t, res)
	if len(docs) != 8 {
		t.Fatalf("want the 7 blobs of docs and 1 of archive, got %d: %v", len(docs), keys(docs))
	}
	d := docs["docs/notes/a b.txt"]
	want := map[string]any{
		"title":              "notes/a b.txt",
		"tier":               "Hot",
		"size":               float64(11),
		"container":          "docs",
		"content type":       "text/plain",
		"container metadata": "{'team': 'search'}",
		"metadata":           `{'owner': 'inlet', 'note': "it's"}`,
		"leasedata":          "{'status': 'unlocked', 'state': 'available', 'duration': None}",
		"created at":         "2024-01-02T02:04:05+00:00",
	}
	got := body(t, d)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q = %#v, want %#v", d.ID, k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("fields %v, want exactly %v", keys(got), keys(want))
	}
	if d.Timestamp != "2024-01-02T03:04:05+00:00" {
		t.Errorf("_timestamp %q", d.Timestamp)
	}
	if d.Attachment == nil || string(d.Attachment.Bytes) != "hello notes" {
		t.Errorf("text blob content: %+v", d.Attachment)
	}
	// A container without <Metadata> is Python's None; a blob's, an empty dict; a lease, as
	// the SDK prints it; no content type, null.
	old := body(t, docs["archive/2023/old.csv"])
	if old["container metadata"] != "None" || old["metadata"] != "{}" || old["content type"] != nil {
		t.Errorf("archive/2023/old.csv: %v", old)
	}
	pdf := body(t, docs["docs/Report.PDF"])
	if pdf["leasedata"] != "{'status': 'locked', 'state': 'leased', 'duration': 'infinite'}" || pdf["tier"] != "Cool" {
		t.Errorf("docs/Report.PDF: %v", pdf)
	}
	if docs["docs/Report.PDF"].Attachment == nil {
		t.Error("the extension is compared lower-cased: .PDF is downloaded")
	}
	// Not downloaded: an extension Elastic does not extract, the Archive tier, an empty blob, a
	// dot file (no extension, as os.path.splitext says).
	for _, id := range []string{"docs/scan.bin", "docs/cold.txt", "docs/empty.txt", "docs/.profile"} {
		if docs[id].Attachment != nil {
			t.Errorf("%s has content", id)
		}
	}
	if odd := docs["docs/odd\x01name.md"]; odd.Attachment == nil || string(odd.Attachment.Bytes) != "# odd" {
		t.Errorf("an encoded name is decoded and downloaded: %+v", odd)
	}
	if _, ok := docs["other/skip.txt"]; ok {
		t.Error("a container that is not configured was synced")
	}
	if res.Cursor != `{"since":"2024-05-06T07:08:09Z"}` {
		t.Errorf("cursor %q: the service's Date", res.Cursor)
	}
	for _, r := range f.requests {
		if r.Header.Get("x-ms-version") != apiVersion || r.Header.Get("authorization") != "" {
			t.Errorf("%s: headers %v", r.URL, r.Header)
		}
	}
	gets := 0
	for _, r := range f.requests {
		if strings.Contains(r.URL, "/docs/notes/a%20b.txt") {
			gets++
		}
	}
	if gets != 1 {
		t.Errorf("the name is escaped in the path once: %d requests", gets)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestListingPagesByMarkerAndStarMeansEveryContainer(t *testing.T) {
	f := newFake()
	f.containers = []fakeContainer{{name: "alpha"}, {name: "beta"}}
	for i := range 5 {
		f.add("alpha", fakeBlob{name: fmt.Sprintf("f%d.bin", i), body: []byte("x"), modified: f.date})
	}
	f.add("beta", fakeBlob{name: "only.bin", body: []byte("y"), modified: f.date})
	f.install(t)
	res, err := inlet.RunSync(azureBlobStorage{}, inlet.RunOptions{Config: config(map[string]any{"containers": "*", "page_size": 2})})
	if err != nil {
		t.Fatal(err)
	}
	if docs := byID(t, res); len(docs) != 6 {
		t.Fatalf("got %v", keys(docs))
	}
	var lists []string
	for _, r := range f.requests {
		if strings.Contains(r.URL, "/alpha?") {
			lists = append(lists, r.URL)
		}
	}
	if len(lists) != 3 || !strings.Contains(lists[0], "maxresults=2") || strings.Contains(lists[0], "marker=") ||
		!strings.Contains(lists[1], "marker=2%21%2B/f2.bin") {
		t.Errorf("pages: %v", lists)
	}
}

func TestMissingConfiguredContainersAreLoggedNotFatal(t *testing.T) {
	f := standard()
	f.install(t)
	res, err := inlet.RunSync(azureBlobStorage{}, inlet.RunOptions{Config: config(map[string]any{"containers": "archive,nope"})})
	if err != nil {
		t.Fatal(err)
	}
	if docs := byID(t, res); len(docs) != 1 {
		t.Fatalf("got %v", keys(docs))
	}
}

func TestIncrementalSyncIndexesWhatChangedSinceTheCursor(t *testing.T) {
	f := standard()
	f.install(t)
	since := time.Date(2024, 1, 2, 7, 4, 5, 0, time.UTC) // empty.txt's Last-Modified
	res, err := inlet.RunSync(azureBlobStorage{}, inlet.RunOptions{Kind: "incremental", Config: config(nil),
		Cursor: formatCursor(since), HasCursor: true})
	if err != nil {
		t.Fatal(err)
	}
	got := keys(byID(t, res))
	want := []string{"docs/.profile", "docs/empty.txt", "docs/odd\x01name.md"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// Without a cursor: everything.
	res, err = inlet.RunSync(azureBlobStorage{}, inlet.RunOptions{Kind: "incremental", Config: config(nil)})
	if err != nil || len(res.Documents) != 8 {
		t.Fatalf("%v, %d documents", err, len(res.Documents))
	}
	if _, err := inlet.RunSync(azureBlobStorage{}, inlet.RunOptions{Kind: "incremental", Config: config(nil), Cursor: "junk", HasCursor: true}); err == nil {
		t.Error("an unreadable cursor was accepted")
	}
}

func TestContentLimitAndTheExtractionService(t *testing.T) {
	f := newFake()
	f.containers = []fakeContainer{{name: "docs"}}
	big := make([]byte, maxDownloadBytes+1)
	f.add("docs", fakeBlob{name: "big.txt", body: big, modified: f.date})
	f.add("docs", fakeBlob{name: "edge.txt", body: big[:maxDownloadBytes], modified: f.date})
	f.install(t)
	res, err := inlet.RunSync(azureBlobStorage{}, inlet.RunOptions{Config: config(map[string]any{"containers": "docs"})})
	if err != nil {
		t.Fatal(err)
	}
	docs := byID(t, res)
	if docs["docs/big.txt"].Attachment != nil || docs["docs/edge.txt"].Attachment == nil {
		t.Error("10 MiB is the limit, inclusive")
	}
	res, err = inlet.RunSync(azureBlobStorage{}, inlet.RunOptions{Config: config(map[string]any{"containers": "docs", "use_text_extraction_service": true})})
	if err != nil {
		t.Fatal(err)
	}
	if byID(t, res)["docs/big.txt"].Attachment == nil {
		t.Error("use_text_extraction_service lifts the limit")
	}
}

func TestRetriesAndErrors(t *testing.T) {
	// 503 (with Retry-After) and 500 are retried, then succeed.
	f := standard()
	f.fail["/docs?"] = []int{503, 500}
	f.fail["/docs/scan"] = []int{503}
	f.install(t)
	res, err := inlet.RunSync(azureBlobStorage{}, inlet.RunOptions{Config: config(nil)})
	if err != nil || len(res.Documents) != 8 {
		t.Fatalf("%v, %d documents", err, len(res.Documents))
	}

	// A failure that outlasts retry_count fails the sync as a network error.
	f = standard()
	f.fail["/archive?"] = []int{500, 500, 500}
	f.install(t)
	_, err = inlet.RunSync(azureBlobStorage{}, inlet.RunOptions{Config: config(map[string]any{"retry_count": 2})})
	if e := inlet.AsError(err); e == nil || e.Kind != inlet.KindNetwork || !strings.Contains(e.Message, "retry_count") || !strings.Contains(e.Message, "InternalError") {
		t.Fatalf("want a network error naming retry_count: %v", err)
	}
	if n := countRequests(f, "/archive?"); n != 3 {
		t.Errorf("%d attempts, want 1 + retry_count", n)
	}

	// A refused signature is not retried and fails as an auth error with Azure's code.
	f = standard()
	f.fail["comp=list"] = []int{403}
	f.install(t)
	_, err = inlet.RunSync(azureBlobStorage{}, inlet.RunOptions{Config: config(nil)})
	if e := inlet.AsError(err); e == nil || e.Kind != inlet.KindAuth || !strings.Contains(e.Message, "AuthenticationFailed") {
		t.Fatalf("want an auth error: %v", err)
	}
	if len(f.requests) != 1 {
		t.Errorf("%d requests, want 1", len(f.requests))
	}

	// A blob deleted between listing and download is indexed without content.
	f = standard()
	list := f.blobs["docs"]
	for i := range list {
		if list[i].name == "notes/a b.txt" {
			list[i].gone = true
		}
	}
	f.install(t)
	res, err = inlet.RunSync(azureBlobStorage{}, inlet.RunOptions{Config: config(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if d := byID(t, res)["docs/notes/a b.txt"]; d.ID == "" || d.Attachment != nil {
		t.Errorf("vanished blob: %+v", d)
	}

	// A container deleted while listing fails the sync (Elastic logs and skips it, and its full
	// sync then deletes the container's documents).
	f = standard()
	delete(f.blobs, "archive")
	f.install(t)
	_, err = inlet.RunSync(azureBlobStorage{}, inlet.RunOptions{Config: config(nil)})
	if e := inlet.AsError(err); e == nil || e.Kind != inlet.KindSource || !strings.Contains(e.Message, "ContainerNotFound") {
		t.Fatalf("want a source error: %v", err)
	}
}

func countRequests(f *fakeAzure, part string) int {
	n := 0
	for _, r := range f.requests {
		if strings.Contains(r.URL, part) {
			n++
		}
	}
	return n
}

func TestDownloadsInGroupsOfConcurrentDownloads(t *testing.T) {
	f := newFake()
	f.containers = []fakeContainer{{name: "docs"}}
	for i := range 7 {
		f.add("docs", fakeBlob{name: fmt.Sprintf("n%d.txt", i), body: []byte(strconv.Itoa(i)), modified: f.date})
	}
	f.install(t)
	res, err := inlet.RunSync(azureBlobStorage{}, inlet.RunOptions{Config: config(map[string]any{"containers": "docs", "concurrent_downloads": 3})})
	if err != nil {
		t.Fatal(err)
	}
	docs := byID(t, res)
	for i := range 7 {
		d := docs[fmt.Sprintf("docs/n%d.txt", i)]
		if d.Attachment == nil || string(d.Attachment.Bytes) != strconv.Itoa(i) {
			t.Errorf("n%d: %+v", i, d.Attachment)
		}
	}
}

func TestPing(t *testing.T) {
	f := standard()
	f.install(t)
	if err := (azureBlobStorage{}).Ping(configOf(t, config(nil))); err != nil {
		t.Fatal(err)
	}
	if u := f.requests[0].URL; u != endpoint+"/?restype=account&comp=properties" {
		t.Errorf("ping asked %s", u)
	}
	f.fail["restype=account"] = []int{403}
	if e := inlet.AsError((azureBlobStorage{}).Ping(configOf(t, config(nil)))); e == nil || e.Kind != inlet.KindAuth {
		t.Errorf("want an auth error: %v", e)
	}
}

// configOf is the Config the host hands over: the values, and the schema's defaults.
func configOf(t *testing.T, values map[string]any) inlet.Config {
	t.Helper()
	for _, f := range (azureBlobStorage{}).Configuration() {
		if _, ok := values[f.Key]; !ok && f.DefaultValue != nil {
			var v any
			if err := json.Unmarshal([]byte(*f.DefaultValue), &v); err != nil {
				t.Fatal(err)
			}
			values[f.Key] = v
		}
	}
	return inlet.NewConfig(values)
}

func TestConfigurationChecks(t *testing.T) {
	for _, tc := range []struct {
		values map[string]any
		key    string
	}{
		{map[string]any{"containers": ""}, "containers"},
		{map[string]any{"blob_endpoint": "inletdocs.blob.core.windows.net"}, "blob_endpoint"},
		{map[string]any{"blob_endpoint": endpoint + "?sv=2024&sig=x"}, "blob_endpoint"},
		{map[string]any{"concurrent_downloads": 0}, "concurrent_downloads"},
		{map[string]any{"page_size": 5001}, "page_size"},
		{map[string]any{"retry_count": -1}, "retry_count"},
	} {
		err := (azureBlobStorage{}).ValidateConfig(configOf(t, config(tc.values)))
		if e := inlet.AsError(err); e == nil || e.Kind != inlet.KindConfig || !strings.Contains(e.Message, tc.key) {
			t.Errorf("%v: want a config error naming %s, got %v", tc.values, tc.key, err)
		}
	}
	if err := (azureBlobStorage{}).ValidateConfig(configOf(t, config(nil))); err != nil {
		t.Errorf("valid: %v", err)
	}
}

func TestTheFormIsElasticsWithTheKeySecret(t *testing.T) {
	var got []string
	for _, f := range (azureBlobStorage{}).Configuration() {
		got = append(got, fmt.Sprintf("%s@%d", f.Key, f.Order))
		if (f.Key == "account_key") != f.Sensitive {
			t.Errorf("%s: sensitive=%v", f.Key, f.Sensitive)
		}
		if f.Key == "account_key" && f.Required {
			t.Error("account_key must be optional: a config.yml credential may sign instead")
		}
	}
	want := "account_name@1 account_key@2 blob_endpoint@3 containers@4 retry_count@5 concurrent_downloads@6 use_text_extraction_service@7 page_size@8"
	if strings.Join(got, " ") != want {
		t.Errorf("fields %s", strings.Join(got, " "))
	}
}

func TestPythonReprAndExtensions(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        "'plain'",
		"it's":         `"it's"`,
		`both ' and "`: `'both \' and "'`,
		"tab\tnl\n":    `'tab\tnl\n'`,
		`back\slash`:   `'back\\slash'`,
		"ctl\x01":      `'ctl\x01'`,
		"café ☕":       "'café ☕'",
		"zero\u200bw":  `'zero\u200bw'`,
	} {
		if got := pyStr(in); got != want {
			t.Errorf("pyStr(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"a/b.txt": ".txt", "a.b/c": "", ".profile": "", "dir/.env.json": ".json", "x.tar.gz": ".gz", "noext": "", "a/..": "",
	} {
		if got := extension(in); got != want {
			t.Errorf("extension(%q) = %q, want %q", in, got, want)
		}
	}
	if got := escapePath("a b/c+d%e?f#g~h"); got != "a%20b/c%2Bd%25e%3Ff%23g~h" {
		t.Errorf("escapePath: %s", got)
	}
}
