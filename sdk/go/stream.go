package inlet

import (
	"errors"
	"io"
	"iter"
)

// DocStream is a sync in progress. The host calls NextBatch each time it is ready for more
// (that is the backpressure: fetch the next page from the source only when asked).
//
// NextBatch returns the next batch. Return a nil slice (or io.EOF) when the sync is complete; a
// non-nil empty slice means "nothing in this page, ask again" and the SDK calls NextBatch again
// without bothering the host. Any error ends the sync as failed (see [AsError] for the kind).
//
// Cursor is read once NextBatch has reported the end: the cursor to resume from in the next
// incremental sync, if any. A stream that also implements io.Closer is closed when the host
// drops the sync (finished or not).
type DocStream interface {
	NextBatch() ([]Document, error)
	Cursor() (string, bool)
}

// DefaultBatchSize is the batch size of [FromSlice], [FromSeq] and [Generate] when given 0.
const DefaultBatchSize = 100

// maxBatchBytes bounds a batch built by the helpers (bodies + ids), whatever the count.
const maxBatchBytes = 4 << 20

// FromSlice streams documents already in memory, DefaultBatchSize at a time.
func FromSlice(docs []Document) *SliceStream { return &SliceStream{docs: docs} }

// SliceStream is the stream of [FromSlice].
type SliceStream struct {
	docs      []Document
	cursor    string
	hasCursor bool
}

// WithCursor sets the cursor to report at the end.
func (s *SliceStream) WithCursor(c string) *SliceStream { s.cursor, s.hasCursor = c, true; return s }

func (s *SliceStream) NextBatch() ([]Document, error) {
	if len(s.docs) == 0 {
		return nil, nil
	}
	n := min(DefaultBatchSize, len(s.docs))
	batch := s.docs[:n:n]
	s.docs = s.docs[n:]
	return batch, nil
}

func (s *SliceStream) Cursor() (string, bool) { return s.cursor, s.hasCursor }

// Emitter is handed to a [Generate] function.
type Emitter struct {
	yield     func(Document) bool
	cursor    string
	hasCursor bool
}

// Emit sends one document. It returns false when the host dropped the sync: return then.
// The generator is paused inside Emit while the host is not asking for more.
func (e *Emitter) Emit(d Document) bool { return e.yield(d) }

// SetCursor sets the cursor for the next incremental sync (the last call wins).
func (e *Emitter) SetCursor(c string) { e.cursor, e.hasCursor = c, true }

// Generate turns a generator function into a stream: gen runs only while the host asks for a
// batch and is paused (inside Emit) once batchSize documents (or 4 MiB) are ready, so it can
// page through its source lazily. Its error, if any, fails the sync after the documents
// emitted before it. batchSize 0 means DefaultBatchSize.
func Generate(batchSize int, gen func(e *Emitter) error) *GenStream {
	e := &Emitter{}
	g := &GenStream{emitter: e, batchSize: batchSize}
	if g.batchSize <= 0 {
		g.batchSize = DefaultBatchSize
	}
	seq := func(yield func(Document, error) bool) {
		e.yield = func(d Document) bool { return yield(d, nil) }
		if err := gen(e); err != nil {
			yield(Document{}, err)
		}
	}
	g.next, g.stop = iter.Pull2(seq)
	return g
}

// FromSeq streams a Go iterator of (document, error) pairs; an error ends the sync.
// cursor, if not nil, is called at the end for the next incremental sync's cursor.
func FromSeq(batchSize int, seq iter.Seq2[Document, error], cursor func() (string, bool)) *GenStream {
	g := Generate(batchSize, func(e *Emitter) error {
		for d, err := range seq {
			if err != nil {
				return err
			}
			if !e.Emit(d) {
				return nil
			}
		}
		return nil
	})
	g.cursorFn = cursor
	return g
}

// GenStream is the stream of [Generate] and [FromSeq].
type GenStream struct {
	emitter   *Emitter
	batchSize int
	next      func() (Document, error, bool)
	stop      func()
	done      bool
	cursorFn  func() (string, bool)
}

func (g *GenStream) NextBatch() ([]Document, error) {
	if g.done {
		return nil, nil
	}
	batch := make([]Document, 0, g.batchSize)
	bytes := 0
	for len(batch) < g.batchSize && bytes < maxBatchBytes {
		d, err, ok := g.next()
		if !ok {
			g.done = true
			g.stop()
			break
		}
		if err != nil {
			g.done = true
			g.stop()
			return nil, err
		}
		batch = append(batch, d)
		bytes += len(d.Body) + len(d.ID)
	}
	if len(batch) == 0 {
		return nil, nil
	}
	return batch, nil
}

func (g *GenStream) Cursor() (string, bool) {
	if g.cursorFn != nil {
		return g.cursorFn()
	}
	return g.emitter.cursor, g.emitter.hasCursor
}

// Close stops the generator (called when the host drops the sync).
func (g *GenStream) Close() error { g.stop(); return nil }

// nextBatch calls s.NextBatch until it has documents, the end, or an error; nil means the end.
func nextBatch(s DocStream) ([]Document, *Error) {
	for {
		batch, err := s.NextBatch()
		if errors.Is(err, io.EOF) || (err == nil && batch == nil) {
			return nil, nil
		}
		if err != nil {
			return nil, AsError(err)
		}
		if len(batch) == 0 {
			continue
		}
		for i := range batch {
			if batch[i].err != nil {
				return nil, AsError(batch[i].err)
			}
		}
		return batch, nil
	}
}
