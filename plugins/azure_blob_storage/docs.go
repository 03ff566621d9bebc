package main

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	inlet "inlet.dev/sdk"
)

// metadata is a `<Metadata>` element: its children, in the service's order (Elastic writes
// the Python dict the SDK builds from them, which keeps that order).
type metadata struct {
	Items []struct {
		XMLName xml.Name
		Value   string `xml:",chardata"`
	} `xml:",any"`
}

// containerList is List Containers' answer.
type containerList struct {
	Containers []struct {
		Name     string    `xml:"Name"`
		Metadata *metadata `xml:"Metadata"`
	} `xml:"Containers>Container"`
	NextMarker string `xml:"NextMarker"`
}

// blobList is List Blobs' answer (flat listing, `include=metadata`).
type blobList struct {
	Blobs      []blobItem `xml:"Blobs>Blob"`
	NextMarker string     `xml:"NextMarker"`
}

type blobItem struct {
	Name struct {
		// Set when the service percent-encoded a name XML cannot hold.
		Encoded bool   `xml:"Encoded,attr"`
		Value   string `xml:",chardata"`
	} `xml:"Name"`
	Properties struct {
		CreationTime  string  `xml:"Creation-Time"`
		LastModified  string  `xml:"Last-Modified"`
		ContentLength int64   `xml:"Content-Length"`
		ContentType   *string `xml:"Content-Type"`
		AccessTier    *string `xml:"AccessTier"`
		LeaseStatus   *string `xml:"LeaseStatus"`
		LeaseState    *string `xml:"LeaseState"`
		LeaseDuration *string `xml:"LeaseDuration"`
	} `xml:"Properties"`
	Metadata *metadata `xml:"Metadata"`
}

// name is the blob's name, decoded when the service encoded it.
func (b blobItem) name() string {
	if b.Name.Encoded {
		if n, err := url.PathUnescape(b.Name.Value); err == nil {
			return n
		}
	}
	return b.Name.Value
}

func parseXML(body []byte, v any, what string) error {
	if err := xml.Unmarshal(body, v); err != nil {
		return inlet.Errorf(inlet.KindSource, "%s: the answer is not the expected XML: %v", what, err)
	}
	return nil
}

// serviceTime reads the service's RFC 1123 times (`Mon, 02 Jan 2024 03:04:05 GMT`).
func serviceTime(v string) (time.Time, bool) {
	t, err := time.Parse(time.RFC1123, strings.TrimSpace(v))
	return t.UTC(), err == nil
}

// isoformat is Python's `datetime.isoformat()` of the SDK's UTC datetimes, as Elastic writes
// them: `2024-01-02T03:04:05+00:00` (the service gives whole seconds).
func isoformat(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-07:00") }

// blobDocument is Elastic's `prepare_blob_doc`: `_id` `<container>/<name>`, `_timestamp`
// Last-Modified, and the fields below; values Python would write as `str()` of a dict (the
// metadata, the lease) are written the same way.
func blobDocument(container string, containerMeta *metadata, b blobItem) (inlet.Document, time.Time) {
	name := b.name()
	p := b.Properties
	body := map[string]any{
		"title":              name,
		"tier":               p.AccessTier,
		"size":               p.ContentLength,
		"container":          container,
		"content type":       p.ContentType,
		"container metadata": containerMetaRepr(containerMeta),
		"metadata":           blobMetaRepr(b.Metadata),
		"leasedata":          leaseRepr(p.LeaseStatus, p.LeaseState, p.LeaseDuration),
		"created at":         nil,
	}
	if t, ok := serviceTime(p.CreationTime); ok {
		body["created at"] = isoformat(t)
	}
	doc := inlet.Index(container+"/"+name, body)
	modified, ok := serviceTime(p.LastModified)
	if ok {
		doc = doc.WithTimestampString(isoformat(modified))
	}
	return doc, modified
}

// containerMetaRepr is `str(container["metadata"])`: the SDK's dict, or `None` when the service
// sent no `<Metadata>` for the container.
func containerMetaRepr(m *metadata) string {
	if m == nil {
		return "None"
	}
	return m.repr()
}

// blobMetaRepr is `str(blob["metadata"])`: the SDK makes a missing `<Metadata>` an empty dict.
func blobMetaRepr(m *metadata) string {
	if m == nil {
		return "{}"
	}
	return m.repr()
}

func (m *metadata) repr() string {
	parts := make([]string, len(m.Items))
	for i, it := range m.Items {
		parts[i] = pyStr(it.XMLName.Local) + ": " + pyStr(it.Value)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// leaseRepr is `str(blob["lease"])`, the SDK's LeaseProperties printed as a dict.
func leaseRepr(status, state, duration *string) string {
	opt := func(s *string) string {
		if s == nil {
			return "None"
		}
		return pyStr(*s)
	}
	return fmt.Sprintf("{'status': %s, 'state': %s, 'duration': %s}", opt(status), opt(state), opt(duration))
}

// pyStr is Python 3's `repr()` of a str: single quotes unless the text holds `'` and no `"`,
// backslash escapes for the quote, `\`, `\t`, `\n`, `\r` and unprintable characters.
func pyStr(s string) string {
	quote := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == rune(quote) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x80 || unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

// Files downloaded into `_attachment`: Elastic's (connectors_sdk TIKA_SUPPORTED_FILETYPES and
// the framework's 10 MiB max_file_size, lifted by use_text_extraction_service); others are
// indexed without their content.
var supportedExtensions = map[string]bool{
	".txt": true, ".py": true, ".rst": true, ".html": true, ".markdown": true, ".json": true,
	".xml": true, ".csv": true, ".md": true, ".ppt": true, ".rtf": true, ".docx": true,
	".odt": true, ".xls": true, ".xlsx": true, ".rb": true, ".paper": true, ".sh": true,
	".pptx": true, ".pdf": true, ".doc": true, ".aspx": true, ".xlsb": true, ".xlsm": true,
	".tsv": true, ".svg": true, ".msg": true, ".potx": true, ".vsd": true, ".vsdx": true,
	".vsdm": true,
}

// extension is Python's `os.path.splitext(name)[1]`: leading dots of the last segment do not
// start an extension (`.profile` has none).
func extension(name string) string {
	base := path.Base("/" + name)
	trimmed := strings.TrimLeft(base, ".")
	if i := strings.LastIndexByte(trimmed, '.'); i >= 0 {
		return trimmed[i:]
	}
	return ""
}

// Why a blob's content is not downloaded ("" when it is).
func skipContent(b blobItem, sizeLimit bool) string {
	size := b.Properties.ContentLength
	switch {
	case size <= 0:
		return "empty"
	case b.Properties.AccessTier != nil && *b.Properties.AccessTier == "Archive":
		return "archive"
	case !supportedExtensions[strings.ToLower(extension(b.name()))]:
		return "extension"
	case sizeLimit && size > maxDownloadBytes:
		return "size"
	}
	return ""
}
