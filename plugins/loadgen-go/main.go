// Command loadgen-go is the load generator in Go: synthetic documents with deterministic ids
// (`doc-<n>`) and bodies of about `doc_bytes`, for tests and benchmarks. Incremental syncs emit
// the documents past the last count (the cursor), so raising `count` and syncing incrementally
// adds exactly the new ones. Same documents as plugins/loadgen (Rust).
package main

import (
	"encoding/json"
	"strconv"
	"strings"

	inlet "inlet.dev/sdk"
)

type loadGen struct{ inlet.Base }

func (loadGen) Metadata() inlet.Metadata {
	return inlet.NewMetadata("loadgen_go", "Load generator (Go)", "0.1.0")
}

func (loadGen) Configuration() []inlet.ConfigField {
	return []inlet.ConfigField{
		inlet.Field("count", "Number of documents").Int().Default(1000),
		inlet.Field("doc_bytes", "Approximate document size (bytes)").Int().Default(1024),
		inlet.Field("batch_size", "Documents per batch").Int().Default(500).Advanced(),
		inlet.Field("seed", "Seed (part of every document)").Default("inlet"),
	}
}

func (loadGen) ValidateConfig(cfg inlet.Config) error {
	for _, key := range []string{"count", "doc_bytes", "batch_size"} {
		n, err := cfg.Int(key)
		if err != nil {
			return err
		}
		if n < 0 {
			return inlet.ConfigError(key + " must not be negative")
		}
	}
	return nil
}

// generator is a DocStream written directly (no helper): each NextBatch builds one batch.
type generator struct {
	next, end int64
	batchSize int64
	seedJSON  string
	padding   string
}

func newGenerator(cfg inlet.Config, start int64) (*generator, error) {
	count, err := cfg.Int("count")
	if err != nil {
		return nil, err
	}
	docBytes, err := cfg.Int("doc_bytes")
	if err != nil {
		return nil, err
	}
	batchSize, err := cfg.Int("batch_size")
	if err != nil {
		return nil, err
	}
	seed, err := cfg.Str("seed")
	if err != nil {
		return nil, err
	}
	count, docBytes = max(count, 0), max(docBytes, 0)
	// The fixed part of a body is about 90 bytes; pad the text field to reach doc_bytes.
	pad := strings.Repeat("lorem ipsum dolor sit amet ", int(docBytes/27+1))
	pad = pad[:min(max(docBytes-90, 0), int64(len(pad)))]
	seedJSON, _ := json.Marshal(seed)
	return &generator{
		next:      min(max(start, 0), count),
		end:       count,
		batchSize: min(max(batchSize, 1), 10_000),
		seedJSON:  string(seedJSON),
		padding:   pad,
	}, nil
}

func (g *generator) NextBatch() ([]inlet.Document, error) {
	if g.next >= g.end {
		return nil, nil
	}
	stop := min(g.next+g.batchSize, g.end)
	batch := make([]inlet.Document, 0, stop-g.next)
	var b strings.Builder
	for n := g.next; n < stop; n++ {
		b.Reset()
		ns := strconv.FormatInt(n, 10)
		b.Grow(len(g.padding) + 96)
		b.WriteString(`{"title":"Document `)
		b.WriteString(ns)
		b.WriteString(`","n":`)
		b.WriteString(ns)
		b.WriteString(`,"seed":`)
		b.WriteString(g.seedJSON)
		b.WriteString(`,"even":`)
		b.WriteString(strconv.FormatBool(n%2 == 0))
		b.WriteString(`,"text":"`)
		b.WriteString(g.padding)
		b.WriteString(`"}`)
		batch = append(batch, inlet.IndexJSON("doc-"+ns, b.String()))
	}
	g.next = stop
	return batch, nil
}

func (g *generator) Cursor() (string, bool) { return strconv.FormatInt(g.end, 10), true }

func (loadGen) FullSync(req inlet.SyncRequest) (inlet.DocStream, error) {
	return newGenerator(req.Config, 0)
}

func (loadGen) IncrementalSync(req inlet.SyncRequest) (inlet.DocStream, error) {
	var start int64
	if req.HasCursor {
		start, _ = strconv.ParseInt(strings.TrimSpace(req.Cursor), 10, 64)
	}
	return newGenerator(req.Config, start)
}

func init() { inlet.Register(loadGen{}) }

func main() {}
