package main

import (
	"html"
	"strings"

	"inlet.dev/plugins/shared/atlassian"
	inlet "inlet.dev/sdk"
)

// listPage is Confluence's list envelope (REST API v1).
type listPage[T any] struct {
	Results []T `json:"results"`
	Start   int `json:"start"`
	Limit   int `json:"limit"`
	Size    int `json:"size"`
	Links   struct {
		Next string `json:"next"`
		Base string `json:"base"`
	} `json:"_links"`
}

type links struct {
	WebUI    string `json:"webui"`
	Download string `json:"download"`
}

type person struct {
	DisplayName string `json:"displayName"`
	PublicName  string `json:"publicName"`
	Username    string `json:"username"`
}

// name is what Elastic's connector stores as `author`: the public name on Cloud, the display
// name on Server / Data Center.
func (p *person) name() string {
	if p == nil {
		return ""
	}
	for _, n := range []string{p.PublicName, p.DisplayName, p.Username} {
		if n != "" {
			return n
		}
	}
	return ""
}

type history struct {
	CreatedDate string  `json:"createdDate"`
	CreatedBy   *person `json:"createdBy"`
	LastUpdated *struct {
		When string `json:"when"`
	} `json:"lastUpdated"`
}

type space struct {
	Key     string   `json:"key"`
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	History *history `json:"history"`
	Links   links    `json:"_links"`
	// Cloud, expand=permissions (DLS only).
	Permissions []spacePermission `json:"permissions"`
}

// content is a page, blog post or attachment, with the expansions the sync asks for.
type content struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Status  string `json:"status"`
	Title   string `json:"title"`
	Space   *space `json:"space"`
	Version *struct {
		When   string `json:"when"`
		Number int    `json:"number"`
	} `json:"version"`
	History *history `json:"history"`
	Body    *struct {
		Storage *struct {
			Value string `json:"value"`
		} `json:"storage"`
	} `json:"body"`
	Ancestors []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"ancestors"`
	Children *struct {
		Attachment *struct {
			Size int `json:"size"`
		} `json:"attachment"`
	} `json:"children"`
	Metadata *struct {
		Labels *struct {
			Results []struct {
				Name string `json:"name"`
			} `json:"results"`
		} `json:"labels"`
	} `json:"metadata"`
	// restrictions.read.restrictions.user/group (DLS only); nil when not expanded.
	Restrictions *struct {
		Read *readRestrictions `json:"read"`
	} `json:"restrictions"`
	// The page or blog post an attachment belongs to (expand=container).
	Container *struct {
		ID    string `json:"id"`
		Type  string `json:"type"`
		Title string `json:"title"`
	} `json:"container"`
	Extensions *struct {
		FileSize  int64  `json:"fileSize"`
		MediaType string `json:"mediaType"`
	} `json:"extensions"`
	Links links `json:"_links"`
}

// modified is when the content last changed: version.when, else history.lastUpdated.when.
func (c content) modified() string {
	if c.Version != nil && c.Version.When != "" {
		return c.Version.When
	}
	if c.History != nil && c.History.LastUpdated != nil {
		return c.History.LastUpdated.When
	}
	return ""
}

func (c content) fileSize() int64 {
	if c.Extensions == nil {
		return 0
	}
	return c.Extensions.FileSize
}

func webURL(base, webui string) string {
	if webui == "" {
		return ""
	}
	return base + "/" + strings.TrimPrefix(webui, "/")
}

func withTimestamp(d inlet.Document, when string) inlet.Document {
	if when != "" {
		return d.WithTimestampString(when)
	}
	return d
}

// Field names follow Elastic's connector, so its mappings and search UIs apply unchanged.
// Deviation: a space's `_id` is its key (stable and readable) rather than its numeric id.
// acl is `_allow_access_control` (nil without DLS) in these three.
func spaceDocument(base string, sp space, acl []string) inlet.Document {
	body := map[string]any{
		"type":  "Space",
		"title": sp.Name,
		"url":   webURL(base, sp.Links.WebUI),
		"key":   sp.Key,
	}
	if sp.History != nil {
		body["createdDate"] = sp.History.CreatedDate
		body["author"] = sp.History.CreatedBy.name()
	}
	return inlet.Index(sp.Key, atlassian.WithACL(body, acl))
}

func contentDocument(s *settings, c content, acl []string) inlet.Document {
	ancestors := make([]map[string]string, 0, len(c.Ancestors))
	for _, a := range c.Ancestors {
		ancestors = append(ancestors, map[string]string{"title": a.Title})
	}
	body := map[string]any{
		"type":      c.Type,
		"title":     c.Title,
		"ancestors": ancestors,
		"url":       webURL(s.baseURL, c.Links.WebUI),
	}
	if c.Space != nil {
		body["space"] = c.Space.Name
	}
	if c.Body != nil && c.Body.Storage != nil {
		body["body"] = htmlToText(c.Body.Storage.Value)
	}
	if c.History != nil {
		body["author"] = c.History.CreatedBy.name()
		body["createdDate"] = c.History.CreatedDate
	}
	if s.indexLabels {
		labels := []string{}
		if c.Metadata != nil && c.Metadata.Labels != nil {
			for _, l := range c.Metadata.Labels.Results {
				labels = append(labels, l.Name)
			}
		}
		body["labels"] = labels
	}
	return withTimestamp(inlet.Index(c.ID, atlassian.WithACL(body, acl)), c.modified())
}

// attachmentDocument describes an attachment; its parent's type is the key of its title
// (`"page": "Title"` or `"blogpost": "Title"`), as in Elastic's connector.
func attachmentDocument(base string, parent, a content, acl []string) inlet.Document {
	body := map[string]any{
		"type":  "attachment",
		"title": a.Title,
		"size":  a.fileSize(),
		"url":   webURL(base, a.Links.WebUI),
	}
	if parent.Space != nil {
		body["space"] = parent.Space.Name
	}
	if parent.Type != "" {
		body[parent.Type] = parent.Title
	}
	if a.History != nil {
		body["createdDate"] = a.History.CreatedDate
	}
	return withTimestamp(inlet.Index(a.ID, atlassian.WithACL(body, acl)), a.modified())
}

// Tags after which text continues on a new line, so words of adjacent blocks do not merge.
var blockTags = map[string]bool{
	"p": true, "div": true, "br": true, "li": true, "tr": true, "td": true, "th": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "table": true,
	"ul": true, "ol": true, "pre": true, "blockquote": true, "hr": true,
}

// htmlToText turns Confluence storage format (XHTML) into plain text: tags dropped (block tags
// become line breaks), entities decoded, runs of spaces collapsed.
func htmlToText(s string) string {
	var out strings.Builder
	for len(s) > 0 {
		lt := strings.IndexByte(s, '<')
		if lt < 0 {
			out.WriteString(s)
			break
		}
		out.WriteString(s[:lt])
		gt := strings.IndexByte(s[lt:], '>')
		if gt < 0 {
			break // an unterminated tag: drop the rest
		}
		if blockTags[tagName(s[lt+1:lt+gt])] {
			out.WriteByte('\n')
		}
		s = s[lt+gt+1:]
	}
	return collapseSpaces(html.UnescapeString(out.String()))
}

func tagName(tag string) string {
	tag = strings.TrimLeft(tag, "/")
	if i := strings.IndexAny(tag, " \t\n/"); i >= 0 {
		tag = tag[:i]
	}
	return strings.ToLower(tag)
}

func collapseSpaces(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
