package atlassian

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	inlet "inlet.dev/sdk"
)

var jiraLike = Product{Cloud: "x_cloud", Server: "x_server", DataCenter: "x_data_center", MaxDownloads: 50}

func TestReadDataSource(t *testing.T) {
	for _, v := range []string{"x_cloud", "x_server", "x_data_center"} {
		got, err := jiraLike.ReadDataSource(inlet.NewConfig(map[string]any{"data_source": v}))
		if err != nil || got != v {
			t.Errorf("%s: %q %v", v, got, err)
		}
	}
	_, err := jiraLike.ReadDataSource(inlet.NewConfig(map[string]any{"data_source": "x_moon"}))
	if inlet.AsError(err).Kind != inlet.KindConfig || inlet.AsError(err).Message != `data_source "x_moon": expected x_cloud, x_server or x_data_center` {
		t.Errorf("%v", err)
	}
	_, err = jiraLike.ReadDataSource(inlet.NewConfig(nil))
	if inlet.AsError(err).Kind != inlet.KindConfig || !strings.Contains(err.Error(), "`data_source` is missing") {
		t.Errorf("missing: %v", err)
	}
}

func limitsConfig(over map[string]any) inlet.Config {
	c := map[string]any{"retry_count": 3, "concurrent_downloads": 50, "use_document_level_security": false}
	for k, v := range over {
		c[k] = v
	}
	return inlet.NewConfig(c)
}

func TestReadLimits(t *testing.T) {
	l, err := jiraLike.ReadLimits(limitsConfig(map[string]any{"retry_count": "0", "concurrent_downloads": 1, "use_document_level_security": true}), "x_cloud")
	if err != nil || l != (Limits{Retries: 0, Downloads: 1, DLS: true}) {
		t.Errorf("%+v %v", l, err)
	}
	l, err = jiraLike.ReadLimits(limitsConfig(map[string]any{"retry_count": 100}), "x_server")
	if err != nil || l != (Limits{Retries: 100, Downloads: 50}) {
		t.Errorf("%+v %v", l, err)
	}
	// A missing use_document_level_security is off (Config.Bool).
	l, err = jiraLike.ReadLimits(inlet.NewConfig(map[string]any{"retry_count": 1, "concurrent_downloads": 2}), "x_server")
	if err != nil || l.DLS {
		t.Errorf("%+v %v", l, err)
	}
	bad := []struct {
		over   map[string]any
		source string
		msg    string
	}{
		{map[string]any{"retry_count": -1}, "x_cloud", "retry_count -1: expected 0 to 100"},
		{map[string]any{"retry_count": 101}, "x_cloud", "retry_count 101: expected 0 to 100"},
		{map[string]any{"retry_count": "many"}, "x_cloud", "configuration field `retry_count` must be an integer, not \"many\""},
		{map[string]any{"concurrent_downloads": 0}, "x_cloud", "concurrent_downloads 0: expected 1 to 50"},
		{map[string]any{"concurrent_downloads": 51}, "x_cloud", "concurrent_downloads 51: expected 1 to 50"},
		{map[string]any{"use_document_level_security": "maybe"}, "x_cloud", "configuration field `use_document_level_security` must be true or false, not \"maybe\""},
		{map[string]any{"use_document_level_security": true}, "x_server",
			"use_document_level_security: document-level security is supported on x_cloud only, not x_server; turn it off"},
		{map[string]any{"use_document_level_security": true}, "x_data_center",
			"use_document_level_security: document-level security is supported on x_cloud only, not x_data_center; turn it off"},
		// Fields are read in the forms' order: the first bad one is the one reported.
		{map[string]any{"retry_count": -1, "concurrent_downloads": 0}, "x_cloud", "retry_count -1: expected 0 to 100"},
	}
	for _, b := range bad {
		_, err := jiraLike.ReadLimits(limitsConfig(b.over), b.source)
		if e := inlet.AsError(err); e.Kind != inlet.KindConfig || e.Message != b.msg {
			t.Errorf("%v on %s: %v, want %q", b.over, b.source, err, b.msg)
		}
	}
	if _, err := jiraLike.ReadLimits(inlet.NewConfig(map[string]any{"concurrent_downloads": 1}), "x_cloud"); !strings.Contains(fmt.Sprint(err), "`retry_count` is missing") {
		t.Errorf("missing retry_count: %v", err)
	}
}

func TestTrimURL(t *testing.T) {
	cases := []struct {
		in, out string
		ok      bool
	}{
		{"https://acme.atlassian.net", "https://acme.atlassian.net", true},
		{" http://wiki.local:8090/// ", "http://wiki.local:8090", true},
		{"https://acme.atlassian.net/wiki/", "https://acme.atlassian.net/wiki", true},
		{"acme.atlassian.net/", "acme.atlassian.net", false},
		{"ftp://x", "ftp://x", false},
		{"", "", false},
	}
	for _, c := range cases {
		out, ok := TrimURL(c.in)
		if out != c.out || ok != c.ok {
			t.Errorf("TrimURL(%q) = %q, %v; want %q, %v", c.in, out, ok, c.out, c.ok)
		}
	}
}

func TestKeys(t *testing.T) {
	cases := []struct {
		in   []string
		keys string
		all  bool
	}{
		{[]string{"ENG", " OPS ", "ENG", "", "HR"}, "[ENG OPS HR]", false},
		{[]string{"ENG", " * "}, "[]", true},
		{nil, "[]", false},
		{[]string{" ", ""}, "[]", false},
	}
	for _, c := range cases {
		keys, all := Keys(c.in)
		if fmt.Sprint(keys) != c.keys || all != c.all {
			t.Errorf("Keys(%q) = %v, %v", c.in, keys, all)
		}
		if all && keys != nil {
			t.Errorf("Keys(%q): keys with all", c.in)
		}
	}
}

// stderr runs f and returns what it wrote to os.Stderr (where inlet.Warnf goes outside a
// component).
func stderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	defer func() { os.Stderr = saved }()
	f()
	w.Close()
	out, _ := io.ReadAll(r)
	return string(out)
}

func TestWarnUnusedCA(t *testing.T) {
	cases := []struct {
		cfg  map[string]any
		warn bool
	}{
		{map[string]any{"ssl_enabled": true, "ssl_ca": "-----BEGIN CERTIFICATE-----"}, true},
		{map[string]any{"ssl_enabled": "true", "ssl_ca": "pem"}, true},
		{map[string]any{"ssl_enabled": true, "ssl_ca": "  "}, false},
		{map[string]any{"ssl_enabled": true}, false},
		{map[string]any{"ssl_enabled": false, "ssl_ca": "pem"}, false},
		{map[string]any{"ssl_ca": "pem"}, false},
	}
	for _, c := range cases {
		got := stderr(t, func() { WarnUnusedCA(inlet.NewConfig(c.cfg)) })
		if warned := strings.Contains(got, "ssl_ca is not used"); warned != c.warn {
			t.Errorf("%v: %q", c.cfg, got)
		}
	}
}
