package main

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"inlet.dev/plugins/shared/atlassian"
	inlet "inlet.dev/sdk"
)

// Page sizes asked for (Confluence may answer fewer; `_links.next` says when more remain).
const (
	spaceLimit      = 100
	contentLimit    = 50
	attachmentLimit = 100
	// CQL `space in (...)` with at most this many keys per query, to keep URLs short.
	keysPerQuery = 100
	// Attachment bodies larger than this are indexed without content (as Elastic's default
	// framework limit does), so one huge file cannot blow the plugin's memory.
	maxDownloadBytes = 10 << 20
	// Declared bytes downloaded at once, at most (a single larger file goes alone).
	downloadGroupBytes = 32 << 20
)

// The expansions a content search asks for: everything a document is built from, in one call.
const contentExpand = "space,version,history,body.storage,ancestors,children.attachment"

// syncer walks Confluence for one sync. since is zero for a full sync (and a first incremental
// one); otherwise only content modified since then is fetched.
type syncer struct {
	s     *settings
	c     *client
	since time.Time
	full  bool
	acl   *access  // nil without DLS
	rules []string // advanced rules' CQL queries; none: the normal walk
}

func newSync(s *settings, since time.Time, rules []string) *syncer {
	y := &syncer{s: s, c: newClient(s), since: since, full: since.IsZero(), rules: rules}
	if s.dls {
		y.acl = newAccess(s, y.c)
	}
	return y
}

// readable says whether a document with this ACL may be indexed. With DLS on, an empty
// `_allow_access_control` would make it visible to every user (Elastic's DLS query lets through
// documents without values), so content nobody may read is left out instead.
func (y *syncer) readable(what, id string, acl []string) bool {
	if y.acl == nil || len(acl) > 0 {
		return true
	}
	inlet.Warnf("%s %s: no user or group may read it (restrictions that exclude each other, or permissions the credential cannot see): not indexed, so that it is not public", what, id)
	return false
}

// stream runs the walk as a generator: it is paused inside Emit whenever a batch is ready, so
// the next page is fetched only when the host asks for more documents.
func (y *syncer) stream() inlet.DocStream {
	return inlet.Generate(0, func(e *inlet.Emitter) error {
		started := time.Now()
		if len(y.rules) > 0 {
			for _, rule := range y.rules {
				if err := y.emitMatches(e, y.ruleCQL(rule)); err != nil {
					return err
				}
			}
			e.SetCursor(formatCursor(started))
			return nil
		}
		if y.full {
			if err := y.emitSpaces(e); err != nil {
				return err
			}
		}
		for _, cql := range y.queries("type in (page,blogpost)") {
			if err := y.emitContent(e, cql); err != nil {
				return err
			}
		}
		// An upload does not change its page, so an incremental sync asks for attachments
		// by their own modification time (a full sync lists them under each page).
		if !y.full {
			for _, cql := range y.queries("type = attachment") {
				if err := y.emitChangedAttachments(e, cql); err != nil {
					return err
				}
			}
		}
		e.SetCursor(formatCursor(started))
		return nil
	})
}

func (y *syncer) emitSpaces(e *inlet.Emitter) error {
	q := url.Values{"limit": {strconv.Itoa(spaceLimit)}}
	for _, k := range y.s.spaces {
		q.Add("spaceKey", k)
	}
	if y.acl != nil {
		q.Set("expand", "permissions,history")
	} else if y.s.dataSource == cloud {
		q.Set("expand", "history")
	}
	found := map[string]bool{}
	err := paginate(y.c, y.s.baseURL+"/rest/api/space?"+q.Encode(), func(sp space) error {
		found[sp.Key] = true
		var acl []string
		if y.acl != nil {
			y.acl.spaces[sp.Key] = sp.Permissions
			if acl = atlassian.Sorted(spaceACL(sp.Permissions, "space")); !y.readable("space", sp.Key, acl) {
				return nil
			}
		}
		return atlassian.Emit(e, spaceDocument(y.s.baseURL, sp, acl))
	})
	if err != nil {
		return err
	}
	for _, k := range y.s.spaces {
		if !found[k] {
			inlet.Warnf("space %q is not in Confluence (or the credential cannot see it): nothing indexed from it", k)
		}
	}
	return nil
}

// queries builds the CQL searches for content of these types in the configured spaces (all
// when `*`), modified since the cursor for an incremental sync.
func (y *syncer) queries(types string) []string {
	base := types
	if !y.full {
		base += ` and lastmodified >= "` + cqlTime(y.since) + `"`
	}
	if y.s.allSpaces {
		return []string{base}
	}
	var out []string
	for i := 0; i < len(y.s.spaces); i += keysPerQuery {
		keys := y.s.spaces[i:min(i+keysPerQuery, len(y.s.spaces))]
		quoted := make([]string, len(keys))
		for j, k := range keys {
			quoted[j] = cqlString(k)
		}
		out = append(out, base+" and space in ("+strings.Join(quoted, ",")+")")
	}
	return out
}

// cqlString quotes a value for CQL (double quotes; backslash-escaped quotes and backslashes).
func cqlString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func (y *syncer) emitContent(e *inlet.Emitter, cql string) error {
	expand := contentExpand
	if y.s.indexLabels {
		expand += ",metadata.labels"
	}
	if y.acl != nil {
		expand += "," + dlsExpand
	}
	first := y.s.baseURL + "/rest/api/content/search?" + url.Values{
		"cql":    {cql},
		"limit":  {strconv.Itoa(contentLimit)},
		"expand": {expand},
	}.Encode()
	return paginatePages(y.c, first, func(items []content) error {
		if y.acl != nil {
			if err := y.acl.prefetch(items); err != nil {
				return err
			}
		}
		var withFiles []attached
		for _, ct := range items {
			var acl []string
			if y.acl != nil {
				var err error
				if acl, err = y.acl.contentACL(ct); err != nil {
					return err
				}
				if !y.readable(ct.Type, ct.ID, acl) {
					continue // and its attachments, which inherit its ACL
				}
			}
			if err := atlassian.Emit(e, contentDocument(y.s, ct, acl)); err != nil {
				return err
			}
			if y.full && hasAttachments(ct) {
				withFiles = append(withFiles, attached{parent: ct, acl: acl})
			}
		}
		// An incremental sync finds changed attachments with their own query instead.
		atts, err := y.listAttachments(withFiles)
		if err != nil {
			return err
		}
		return y.emitAttachments(e, atts)
	})
}

// hasAttachments reads the children expansion; without it (some proxies strip expansions) the
// list is asked for anyway.
func hasAttachments(ct content) bool {
	return ct.Children == nil || ct.Children.Attachment == nil || ct.Children.Attachment.Size > 0
}

// emitChangedAttachments indexes the attachments a CQL search finds; `container` is the page
// or blog post they belong to.
func (y *syncer) emitChangedAttachments(e *inlet.Emitter, cql string) error {
	first := y.s.baseURL + "/rest/api/content/search?" + url.Values{
		"cql":    {cql},
		"limit":  {strconv.Itoa(contentLimit)},
		"expand": {"container,space,version,history"},
	}.Encode()
	return paginatePages(y.c, first, func(items []content) error {
		atts := make([]attached, 0, len(items))
		for _, a := range items {
			parent := content{Space: a.Space}
			if a.Container != nil {
				parent.Type, parent.Title = a.Container.Type, a.Container.Title
			}
			var acl []string
			if y.acl != nil {
				// An attachment is readable by whoever may read its page (as in a full sync).
				if a.Container == nil || a.Container.ID == "" {
					return inlet.Errorf(inlet.KindSource, "attachment %s: Confluence did not say which content it belongs to (expand=container)", a.ID)
				}
				got, err := y.acl.containerACL(a.Container.ID)
				if err != nil {
					return err
				}
				if got == nil {
					inlet.Warnf("attachment %s: its %s %s is gone (deleted during the sync?): skipped", a.ID, a.Container.Type, a.Container.ID)
					continue
				}
				if acl = got.acl; !y.readable("attachment", a.ID, acl) {
					continue
				}
			}
			atts = append(atts, attached{parent: parent, file: a, acl: acl})
		}
		return y.emitAttachments(e, atts)
	})
}

// attached is an attachment with the page or blog post it belongs to, and that content's
// `_allow_access_control` (nil without DLS).
type attached struct {
	parent, file content
	acl          []string
}

// listAttachments fetches the attachment lists of these pages, concurrently_downloads lists at
// a time; the rare list longer than one page continues sequentially. A page deleted meanwhile
// (404) is skipped.
// parents carry no file, only the page and its ACL.
func (y *syncer) listAttachments(parents []attached) ([]attached, error) {
	var out []attached
	for start := 0; start < len(parents); start += y.s.downloads {
		group := parents[start:min(start+y.s.downloads, len(parents))]
		urls := make([]string, len(group))
		for i, p := range group {
			urls[i] = y.s.baseURL + "/rest/api/content/" + url.PathEscape(p.parent.ID) + "/child/attachment?" + url.Values{
				"limit":  {strconv.Itoa(attachmentLimit)},
				"expand": {"version,history"},
			}.Encode()
		}
		resps, errs := y.c.GetAll(urls)
		for i, p := range group {
			var page listPage[content]
			err := errs[i]
			if err == nil {
				err = resps[i].JSON(&page)
			}
			for _, a := range page.Results {
				out = append(out, attached{p.parent, a, p.acl})
			}
			if err == nil && page.Links.Next != "" && len(page.Results) > 0 {
				err = paginate(y.c, y.c.Resolve(page.Links.Next), func(a content) error {
					out = append(out, attached{p.parent, a, p.acl})
					return nil
				})
			}
			if errors.Is(err, errNotFound) {
				inlet.Warnf("the attachments of %s %s are gone (deleted during the sync?): %v", p.parent.Type, p.parent.ID, err)
			} else if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// emitAttachments indexes attachments in order, downloading their bodies (for the ingest
// pipeline) in concurrent groups of at most concurrent_downloads files and downloadGroupBytes
// declared bytes, so memory stays bounded.
func (y *syncer) emitAttachments(e *inlet.Emitter, atts []attached) error {
	for start := 0; start < len(atts); {
		end, bytes := start, int64(0)
		for end < len(atts) && end-start < y.s.downloads &&
			(end == start || bytes+atts[end].file.fileSize() <= downloadGroupBytes) {
			bytes += atts[end].file.fileSize()
			end++
		}
		group := atts[start:end]
		bodies, err := y.download(group)
		if err != nil {
			return err
		}
		for i, at := range group {
			d := attachmentDocument(y.s.baseURL, at.parent, at.file, at.acl)
			if bodies[i] != nil {
				d = d.WithAttachment(*bodies[i])
			}
			if err := atlassian.Emit(e, d); err != nil {
				return err
			}
		}
		start = end
	}
	return nil
}

// download fetches the bodies of the group's attachments that are small enough (nil for the
// others). A file deleted meanwhile (404) is indexed without content.
func (y *syncer) download(group []attached) ([]*[]byte, error) {
	bodies := make([]*[]byte, len(group))
	if !y.s.downloadBodies {
		return bodies, nil
	}
	var urls []string
	var which []int
	for i, at := range group {
		if at.file.Links.Download != "" && at.file.fileSize() <= maxDownloadBytes {
			urls = append(urls, y.c.Resolve(at.file.Links.Download))
			which = append(which, i)
		}
	}
	resps, errs := y.c.GetAll(urls)
	for j, i := range which {
		a := group[i].file
		switch err := errs[j]; {
		case errors.Is(err, errNotFound):
			inlet.Warnf("attachment %s (%q) is gone (deleted during the sync?): indexed without content", a.ID, a.Title)
		case err != nil:
			return nil, inlet.Errorf(inlet.AsError(err).Kind, "downloading attachment %s (%q): %w", a.ID, a.Title, err)
		default:
			bodies[i] = &resps[j].Body
		}
	}
	return bodies, nil
}

// paginate calls each for every result of a Confluence list, following `_links.next`.
func paginate[T any](c *client, first string, each func(T) error) error {
	return paginatePages(c, first, func(items []T) error {
		for _, item := range items {
			if err := each(item); err != nil {
				return err
			}
		}
		return nil
	})
}

// paginatePages calls each with every page of a Confluence list, following `_links.next`.
func paginatePages[T any](c *client, first string, each func([]T) error) error {
	next := first
	for next != "" {
		var page listPage[T]
		if err := c.GetJSON(next, &page); err != nil {
			return err
		}
		if err := each(page.Results); err != nil {
			return err
		}
		link := page.Links.Next
		if link == "" || len(page.Results) == 0 {
			break
		}
		if n := c.Resolve(link); n != next {
			next = n
		} else {
			return inlet.Errorf(inlet.KindSource, "Confluence answered a `next` link equal to the page itself (%s)", n)
		}
	}
	return nil
}
