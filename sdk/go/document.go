package inlet

import (
	"encoding/json"
	"time"
)

// Attachment is binary content for the ingest attachment pipeline, or text the connector
// already extracted.
type Attachment struct {
	Bytes  []byte
	Text   string
	IsText bool
}

// Document is one document of a batch.
type Document struct {
	// ID becomes _id (and the id field) in the index.
	ID string
	// Timestamp (RFC 3339) is when the source last changed the item; "" lets the host use now.
	Timestamp string
	// Body is the document as a JSON object, in text.
	Body       string
	Op         Operation
	Attachment *Attachment

	err error // a body that failed to encode; reported when the batch is sent
}

// Index makes a document to index; body is any JSON-encodable value (a map, a struct with json
// tags, ...). An encoding error fails the sync when the document is sent.
func Index(id string, body any) Document {
	b, err := json.Marshal(body)
	if err != nil {
		return Document{ID: id, Body: "{}", err: Errorf(KindInternal, "document %s: %v", id, err)}
	}
	return Document{ID: id, Body: string(b)}
}

// IndexJSON makes a document to index from JSON text (an object), sent as is; the host
// validates it.
func IndexJSON(id, body string) Document { return Document{ID: id, Body: body} }

// Delete makes a deletion of the document with this id.
func Delete(id string) Document { return Document{ID: id, Body: "{}", Op: OpDelete} }

// WithTimestamp sets when the source last changed the item.
func (d Document) WithTimestamp(t time.Time) Document {
	d.Timestamp = t.UTC().Format(time.RFC3339Nano)
	return d
}

// WithTimestampString sets the timestamp as RFC 3339 text.
func (d Document) WithTimestampString(rfc3339 string) Document { d.Timestamp = rfc3339; return d }

// WithAttachment attaches raw bytes (the host base64-encodes them into _attachment).
func (d Document) WithAttachment(b []byte) Document { d.Attachment = &Attachment{Bytes: b}; return d }

// WithText attaches already-extracted text (the host stores it as body).
func (d Document) WithText(text string) Document {
	d.Attachment = &Attachment{Text: text, IsText: true}
	return d
}

// Err is the error from encoding the body in [Index], if any.
func (d Document) Err() error { return d.err }
