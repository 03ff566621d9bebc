package main

import (
	"encoding/json"
	"path"
	"strings"
	"time"

	"inlet.dev/plugins/shared/atlassian"
	inlet "inlet.dev/sdk"
)

// issue is one result of a JQL search with `fields=*all`: the same `key` and `fields` as
// `GET /rest/api/2/issue/{key}`, from which Elastic builds its documents.
type issue struct {
	ID     string                     `json:"id"`
	Key    string                     `json:"key"`
	Fields map[string]json.RawMessage `json:"fields"`
}

// decodeField reads fields[name] into v; false when it is absent, null or not that shape.
func (is issue) decodeField(name string, v any) bool {
	raw, ok := is.Fields[name]
	if !ok || string(raw) == "null" {
		return false
	}
	return json.Unmarshal(raw, v) == nil
}

// projectRef is an issue's `project` field.
type projectRef struct {
	ID   string `json:"id"`
	Key  string `json:"key"`
	Name string `json:"name"`
}

func (is issue) project() projectRef {
	var p projectRef
	is.decodeField("project", &p)
	return p
}

// attachmentMeta is one entry of an issue's `attachment` field.
type attachmentMeta struct {
	ID       string `json:"id"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
	Created  string `json:"created"`
}

func (is issue) attachments() []attachmentMeta {
	var out []attachmentMeta
	is.decodeField("attachment", &out)
	return out
}

// project is a project as Jira lists it, kept whole for the document's `Project`.
type project struct {
	raw json.RawMessage
	ID  string `json:"id"`
	Key string `json:"key"`
}

func (p *project) UnmarshalJSON(b []byte) error {
	type plain project
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = project(v)
	p.raw = append(json.RawMessage(nil), b...)
	return nil
}

// projectDocument is Elastic's: `_id` `project-<id>`, the project under `Project`, stamped
// with the sync's time (Jira keeps no modification time for projects).
func projectDocument(p project, now time.Time, acl []string) inlet.Document {
	body := map[string]any{"Key": p.Key, "Type": "Project", "Project": p.raw}
	return inlet.Index("project-"+p.ID, atlassian.WithACL(body, acl)).WithTimestamp(now)
}

// issueDocument is Elastic's: `_id` `<project name>-<issue key>`, the issue's fields under
// `Issue` except custom ones, which go to `Custom_Fields` under their names.
func issueDocument(is issue, custom map[string]string, acl []string) inlet.Document {
	fields := make(map[string]json.RawMessage, len(is.Fields))
	named := map[string]json.RawMessage{}
	for k, v := range is.Fields {
		if name, ok := custom[k]; ok {
			named[name] = v
		} else {
			fields[k] = v
		}
	}
	var kind struct {
		Name *string `json:"name"`
	}
	is.decodeField("issuetype", &kind)
	var updated string
	is.decodeField("updated", &updated)
	body := map[string]any{
		"Key":           is.Key,
		"Type":          kind.Name,
		"Issue":         fields,
		"Custom_Fields": named,
	}
	return withTimestamp(inlet.Index(issueID(is), atlassian.WithACL(body, acl)), updated)
}

// issueID is Elastic's `_id` of an issue: its project's name (Python's "None" when Jira did not
// say), a dash, its key.
func issueID(is issue) string {
	name := is.project().Name
	if name == "" {
		name = "None"
	}
	return name + "-" + is.Key
}

// attachmentDocument is Elastic's: `_id` `<issue key>-<attachment id>`.
func attachmentDocument(issueKey string, a attachmentMeta, acl []string) inlet.Document {
	body := map[string]any{
		"title": a.Filename,
		"Type":  "Attachment",
		"issue": issueKey,
		"size":  a.Size,
	}
	return withTimestamp(inlet.Index(issueKey+"-"+a.ID, atlassian.WithACL(body, acl)), a.Created)
}

// Jira writes times as `2024-01-02T03:04:05.000+0000`; the host takes RFC 3339, so the offset
// gains its colon (the same instant).
func withTimestamp(d inlet.Document, when string) inlet.Document {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, when); err == nil {
			return d.WithTimestampString(t.Format("2006-01-02T15:04:05.000Z07:00"))
		}
	}
	if when != "" {
		inlet.Debugf("%s: unreadable time %q; the host stamps the document", d.ID, when)
	}
	return d
}

// Files downloaded into `_attachment`: Elastic's (connectors_sdk TIKA_SUPPORTED_FILETYPES and
// the framework's 10 MiB max_file_size); others are indexed without their content.
var supportedExtensions = map[string]bool{
	".txt": true, ".py": true, ".rst": true, ".html": true, ".markdown": true, ".json": true,
	".xml": true, ".csv": true, ".md": true, ".ppt": true, ".rtf": true, ".docx": true,
	".odt": true, ".xls": true, ".xlsx": true, ".rb": true, ".paper": true, ".sh": true,
	".pptx": true, ".pdf": true, ".doc": true, ".aspx": true, ".xlsb": true, ".xlsm": true,
	".tsv": true, ".svg": true, ".msg": true, ".potx": true, ".vsd": true, ".vsdx": true,
	".vsdm": true,
}

const maxDownloadBytes = 10 << 20

func downloadable(a attachmentMeta) bool {
	return a.Size > 0 && a.Size <= maxDownloadBytes && supportedExtensions[strings.ToLower(path.Ext(a.Filename))]
}
