package main

import (
	"encoding/json"
	"testing"

	inlet "inlet.dev/sdk"
)

func TestFullAndIncremental(t *testing.T) {
	res, err := inlet.RunSync(loadGen{}, inlet.RunOptions{Config: map[string]any{"count": 1200}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Documents) != 1200 || res.Batches != 3 || res.Cursor != "1200" {
		t.Fatalf("%d docs, %d batches, cursor %q", len(res.Documents), res.Batches, res.Cursor)
	}
	d := res.Documents[7]
	var body map[string]any
	if err := json.Unmarshal([]byte(d.Body), &body); err != nil {
		t.Fatal(err)
	}
	if d.ID != "doc-7" || body["n"] != 7.0 || body["seed"] != "inlet" || body["even"] != false {
		t.Errorf("doc 7: %s %s", d.ID, d.Body)
	}
	if n := len(d.Body); n < 1000 || n > 1050 {
		t.Errorf("body is %d bytes, want about 1024", n)
	}
	inc, err := inlet.RunSync(loadGen{}, inlet.RunOptions{Kind: "incremental", Config: map[string]any{"count": 1500}, Cursor: "1200", HasCursor: true})
	if err != nil || len(inc.Documents) != 300 || inc.Documents[0].ID != "doc-1200" || inc.Cursor != "1500" {
		t.Fatalf("incremental: %v, %d docs", err, len(inc.Documents))
	}
	if _, err := inlet.RunSync(loadGen{}, inlet.RunOptions{Config: map[string]any{"count": -1}}); err == nil {
		t.Error("negative count accepted")
	}
}
