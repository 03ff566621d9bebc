package inlet

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"reflect"
	"strings"
	"testing"
)

type fakeTimeout struct{}

func (fakeTimeout) Error() string { return "i/o timeout" }
func (fakeTimeout) Timeout() bool { return true }

func TestAsError(t *testing.T) {
	cases := []struct {
		err  error
		kind ErrorKind
	}{
		{AuthError("no"), KindAuth},
		{fmt.Errorf("wrapped: %w", SourceError("bad page")), KindSource},
		{Errorf(KindNetwork, "down: %w", io.EOF), KindNetwork},
		{fakeTimeout{}, KindNetwork},
		{errors.New("oops"), KindInternal},
	}
	for _, c := range cases {
		if got := AsError(c.err); got.Kind != c.kind {
			t.Errorf("AsError(%v).Kind = %v, want %v", c.err, got.Kind, c.kind)
		}
	}
	if !errors.Is(Errorf(KindNetwork, "down: %w", io.EOF), io.EOF) {
		t.Error("Errorf lost the cause")
	}
	if AsError(nil) != nil {
		t.Error("AsError(nil) != nil")
	}
}

var schema = []ConfigField{
	Field("count", "Count").Int().Default(10),
	Field("name", "Name").Default("x"),
	Field("tags", "Tags").List().Optional(),
	Field("on", "On").Toggle().Default(true),
	Field("token", "Token").Secret(),
}

func TestConfig(t *testing.T) {
	cfg := configFrom([][2]string{{"count", `"42"`}, {"tags", `"a, b,,c"`}, {"on", "null"}, {"token", "not json"}}, schema)
	if n, err := cfg.Int("count"); err != nil || n != 42 {
		t.Errorf("count = %v, %v", n, err)
	}
	if s, _ := cfg.Str("name"); s != "x" {
		t.Errorf("default name = %q", s)
	}
	if l, _ := cfg.List("tags"); !reflect.DeepEqual(l, []string{"a", "b", "c"}) {
		t.Errorf("tags = %q", l)
	}
	if b, err := cfg.Bool("on"); err != nil || !b {
		t.Errorf("on = %v, %v (null takes the default)", b, err)
	}
	if s, _ := cfg.Str("token"); s != "not json" {
		t.Errorf("token = %q", s)
	}
	if _, err := cfg.Int("missing"); AsError(err).Kind != KindConfig {
		t.Errorf("missing key: %v", err)
	}
	if _, err := configFrom([][2]string{{"count", `1.5`}}, schema).Int("count"); err == nil {
		t.Error("1.5 accepted as int")
	}
	if l, _ := NewConfig(map[string]any{"l": []any{"a", 1}}).List("l"); !reflect.DeepEqual(l, []string{"a", "1"}) {
		t.Errorf("list = %q", l)
	}
}

func TestFields(t *testing.T) {
	f := numbered(schema)
	if f[0].Order != 1 || f[4].Order != 5 {
		t.Errorf("orders %d %d", f[0].Order, f[4].Order)
	}
	if *f[0].DefaultValue != "10" || f[0].Required || !f[4].Required || !f[4].Sensitive {
		t.Errorf("field flags wrong: %+v", f[0])
	}
	d := Field("mode", "Mode").Dropdown(Option("Fast", "fast")).ShownWhen("on", true).LessThan(5).Advanced().Help("tip").Position(7)
	if d.Options[0].Value != `"fast"` || d.DependsOn[0].Value != "true" || d.Validations[0] != (Validation{"less_than", "5"}) ||
		d.UIRestrictions[0] != "advanced" || *d.Tooltip != "tip" || d.Order != 7 || d.Display != DisplayDropdown {
		t.Errorf("builder: %+v", d)
	}
}

func TestDocuments(t *testing.T) {
	d := Index("1", map[string]any{"a": 1})
	if d.Body != `{"a":1}` || d.Op != OpIndex || d.Err() != nil {
		t.Errorf("%+v", d)
	}
	if bad := Index("2", map[string]any{"f": func() {}}); bad.Err() == nil {
		t.Error("unencodable body accepted")
	}
	if del := Delete("3"); del.Op != OpDelete {
		t.Error("delete")
	}
	if a := IndexJSON("4", "{}").WithText("t").Attachment; !a.IsText || a.Text != "t" {
		t.Error("text attachment")
	}
	if a := IndexJSON("5", "{}").WithAttachment([]byte{1}).Attachment; a.IsText || len(a.Bytes) != 1 {
		t.Error("bytes attachment")
	}
}

type conn struct {
	Base
	n int
}

func (conn) Metadata() Metadata { return NewMetadata("t", "T", "1") }
func (conn) Configuration() []ConfigField {
	return []ConfigField{Field("count", "Count").Int().Default(250)}
}
func (conn) ValidateConfig(cfg Config) error {
	if n, err := cfg.Int("count"); err != nil || n < 0 {
		return ConfigError("bad count")
	}
	return nil
}
func (conn) FullSync(req SyncRequest) (DocStream, error) {
	n, _ := req.Config.Int("count")
	return Generate(100, func(e *Emitter) error {
		for i := range n {
			if !e.Emit(Index(fmt.Sprint(i), map[string]int64{"i": i})) {
				return nil
			}
		}
		e.SetCursor(fmt.Sprint(n))
		return nil
	}), nil
}
func (conn) IncrementalSync(req SyncRequest) (DocStream, error) {
	if !req.HasCursor {
		return nil, SourceError("no cursor")
	}
	seq := func(yield func(Document, error) bool) {
		if !yield(Delete("0"), nil) {
			return
		}
		yield(Document{}, NetworkError("gone"))
	}
	return FromSeq(0, iter.Seq2[Document, error](seq), nil), nil
}

func TestRunSync(t *testing.T) {
	res, err := RunSync(conn{}, RunOptions{})
	if err != nil || len(res.Documents) != 250 || res.Batches != 3 || res.Cursor != "250" || !res.HasCursor {
		t.Fatalf("full: %v %d docs %d batches cursor %q", err, len(res.Documents), res.Batches, res.Cursor)
	}
	if _, err := RunSync(conn{}, RunOptions{Config: map[string]any{"count": -1}}); AsError(err).Kind != KindConfig {
		t.Errorf("validation: %v", err)
	}
	_, err = RunSync(conn{}, RunOptions{Kind: "incremental", Cursor: "1", HasCursor: true})
	if e := AsError(err); e.Kind != KindNetwork || !strings.Contains(e.Message, "gone") {
		t.Errorf("incremental error: %v", err)
	}
	if _, err := RunSync(conn{}, RunOptions{Kind: "access-control"}); AsError(err).Kind != KindConfig {
		t.Errorf("access control unsupported: %v", err)
	}
}

type emptyThenDocs struct{ calls int }

func (s *emptyThenDocs) NextBatch() ([]Document, error) {
	s.calls++
	switch s.calls {
	case 1:
		return []Document{}, nil
	case 2:
		return []Document{Delete("x")}, nil
	}
	return nil, io.EOF
}
func (s *emptyThenDocs) Cursor() (string, bool) { return "", false }

func TestNextBatchSkipsEmpty(t *testing.T) {
	s := &emptyThenDocs{}
	if b, err := nextBatch(s); err != nil || len(b) != 1 {
		t.Fatalf("%v %v", b, err)
	}
	if b, err := nextBatch(s); err != nil || b != nil {
		t.Fatalf("end: %v %v", b, err)
	}
}

type panicky struct{ conn }

func (panicky) FullSync(SyncRequest) (DocStream, error) { panic("boom") }

func TestDispatch(t *testing.T) {
	registered = conn{}
	defer func() { registered = nil }()
	m := doMetadata()
	if !m.Features.IncrementalSync || m.Features.DocumentLevelSecurity || !m.Features.BasicRules {
		t.Errorf("features: %+v", m.Features)
	}
	rep, err := doSync(kindFull, [][2]string{{"count", "150"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := doNextBatch(rep)
	b2, _ := doNextBatch(rep)
	b3, _ := doNextBatch(rep)
	if len(b1) != 100 || len(b2) != 50 || b3 != nil {
		t.Errorf("batches %d %d %v", len(b1), len(b2), b3)
	}
	if c, ok := doCursor(rep); c != "150" || !ok {
		t.Errorf("cursor %q %v", c, ok)
	}
	doDrop(rep)
	if len(streams) != 0 {
		t.Error("stream not dropped")
	}
	// A stream dropped half-way stops its generator.
	rep, _ = doSync(kindFull, nil, nil, nil)
	doNextBatch(rep)
	doDrop(rep)
	registered = panicky{}
	if _, err := doSync(kindFull, nil, nil, nil); err == nil || err.Kind != KindInternal || !strings.Contains(err.Message, "boom") {
		t.Errorf("panic: %v", err)
	}
}
