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

const (
	// Issues asked for per search page (Elastic's FETCH_SIZE; Jira may answer fewer).
	searchLimit = 100
	// Declared bytes of attachments downloaded at once, at most (a single larger file goes
	// alone), so memory stays bounded whatever concurrent_downloads says.
	downloadGroupBytes = 32 << 20
	// Elastic's bounded catch-all for every issue (Cloud's search refuses unbounded JQL).
	allIssuesJQL = "key IS NOT EMPTY"
)

// syncer walks Jira for one sync. since is zero for a full sync (and a first incremental one);
// otherwise only issues updated since then are fetched.
type syncer struct {
	s      *settings
	c      *atlassian.Client
	since  time.Time
	full   bool
	rules  []string          // advanced rules' JQL queries; none: the normal walk
	custom map[string]string // custom field id -> name
	acl    *access           // nil without DLS
}

func newSync(s *settings, since time.Time, rules []string) *syncer {
	y := &syncer{s: s, c: s.client(), since: since, full: since.IsZero(), rules: rules}
	if s.dls {
		y.acl = newAccess(y.c, s.baseURL)
	}
	return y
}

// stream runs the walk as a generator: it is paused inside Emit whenever a batch is ready, so
// the next page is fetched only when the host asks for more documents.
func (y *syncer) stream() inlet.DocStream {
	return inlet.Generate(0, func(e *inlet.Emitter) error {
		started := time.Now()
		if err := y.loadCustomFields(); err != nil {
			return err
		}
		queries := y.rules
		if len(queries) == 0 {
			if y.full {
				if err := y.emitProjects(e, started); err != nil {
					return err
				}
			} else if err := y.checkProjects(); err != nil {
				return err
			}
			queries = []string{y.projectsJQL()}
		}
		var updated string
		if !y.full {
			var err error
			if updated, err = y.updatedClause(); err != nil {
				return err
			}
		}
		for _, q := range queries {
			if !y.full {
				q = atlassian.Narrow(q, updated)
			}
			if err := y.emitSearch(e, q); err != nil {
				return err
			}
		}
		e.SetCursor(formatCursor(started))
		return nil
	})
}

// projectsJQL is Elastic's query for the configured projects: every issue for `*`, else
// `project in ("A","B")`.
func (y *syncer) projectsJQL() string {
	if y.s.allProjects {
		return allIssuesJQL
	}
	quoted := make([]string, len(y.s.projects))
	for i, k := range y.s.projects {
		quoted[i] = jqlString(k)
	}
	return "project in (" + strings.Join(quoted, ",") + ")"
}

// jqlString quotes a value for JQL (double quotes; backslash-escaped quotes and backslashes).
func jqlString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// updatedClause is `updated >= "yyyy/MM/dd HH:mm"` for the cursor. Jira reads JQL dates in the
// time zone of the account that searches (at minute precision), so the cursor is written in
// that zone, from /myself; the minute is truncated, so `>=` re-reads at most a minute rather
// than missing any change.
func (y *syncer) updatedClause() (string, error) {
	var me myself
	if err := y.c.GetJSON(y.s.baseURL+"/rest/api/2/myself", &me); err != nil {
		return "", err
	}
	zone := time.UTC
	if me.TimeZone != "" {
		if loc, err := time.LoadLocation(me.TimeZone); err == nil {
			zone = loc
		} else {
			inlet.Warnf("the account's time zone %q is unknown here: JQL dates are written in UTC, and a change within the offset may wait for the next full sync", me.TimeZone)
		}
	}
	return `updated >= "` + y.since.In(zone).Format("2006/01/02 15:04") + `"`, nil
}

// field is an entry of /rest/api/2/field.
type field struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Custom bool   `json:"custom"`
}

// loadCustomFields reads the names of the custom fields (Elastic's `get_jira_fields`): issue
// documents carry them under `Custom_Fields` by name.
func (y *syncer) loadCustomFields() error {
	var fields []field
	if err := y.c.GetJSON(y.s.baseURL+"/rest/api/2/field", &fields); err != nil {
		return err
	}
	y.custom = map[string]string{}
	for _, f := range fields {
		if f.Custom {
			y.custom[f.ID] = f.Name
		}
	}
	return nil
}

// projects lists the configured projects: all of them (one list, with Elastic's expansions)
// for `*`, else each by key, which must exist (Elastic's verify_projects).
func (y *syncer) projects() ([]project, error) {
	if y.s.allProjects {
		var all []project
		err := y.c.GetJSON(y.s.baseURL+"/rest/api/2/project?"+url.Values{"expand": {"description,lead,url"}}.Encode(), &all)
		return all, err
	}
	var out []project
	var missing []string
	for start := 0; start < len(y.s.projects); start += y.s.downloads {
		keys := y.s.projects[start:min(start+y.s.downloads, len(y.s.projects))]
		urls := make([]string, len(keys))
		for i, k := range keys {
			urls[i] = y.s.baseURL + "/rest/api/2/project/" + url.PathEscape(k)
		}
		resps, errs := y.c.GetAll(urls)
		for i, k := range keys {
			var p project
			err := errs[i]
			if err == nil {
				err = resps[i].JSON(&p)
			}
			switch {
			case errors.Is(err, atlassian.ErrNotFound):
				missing = append(missing, k)
			case err != nil:
				return nil, err
			default:
				out = append(out, p)
			}
		}
	}
	if len(missing) > 0 {
		return nil, inlet.Errorf(inlet.KindConfig, "projects: Configured unavailable projects: %s (not in Jira, or the credential cannot see them)", strings.Join(missing, ", "))
	}
	return out, nil
}

// checkProjects makes an incremental sync refuse unknown projects as a full sync does, rather
// than quietly find nothing in them.
func (y *syncer) checkProjects() error {
	if y.s.allProjects {
		return nil
	}
	_, err := y.projects()
	return err
}

func (y *syncer) emitProjects(e *inlet.Emitter, now time.Time) error {
	projects, err := y.projects()
	if err != nil {
		return err
	}
	for _, p := range projects {
		var acl []string
		if y.acl != nil {
			if acl, err = y.acl.projectACL(p.Key); err != nil {
				return err
			}
			if !y.readable("project", p.Key, acl) {
				continue
			}
		}
		if err := atlassian.Emit(e, projectDocument(p, now, acl)); err != nil {
			return err
		}
	}
	return nil
}

// readable says whether a document with this ACL may be indexed. With DLS on, an empty
// `_allow_access_control` would make it visible to every user (Elastic's DLS query lets through
// documents without values), so what nobody may read is left out instead.
func (y *syncer) readable(what, id string, acl []string) bool {
	if y.acl == nil || len(acl) > 0 {
		return true
	}
	inlet.Warnf("%s %s: no user or group may read it (or the credential cannot see who may): not indexed, so that it is not public", what, id)
	return false
}

// searchPage is a page of either search: Cloud's `search/jql` (nextPageToken) or Server's
// `search` (startAt / total).
type searchPage struct {
	Issues        []issue `json:"issues"`
	NextPageToken string  `json:"nextPageToken"`
	IsLast        *bool   `json:"isLast"`
	StartAt       int     `json:"startAt"`
	Total         int     `json:"total"`
}

// emitSearch indexes every issue a JQL query finds, with its attachments, a page at a time.
func (y *syncer) emitSearch(e *inlet.Emitter, jql string) error {
	return y.search(jql, func(issues []issue) error { return y.emitIssues(e, issues) })
}

// search calls each with every page of a JQL search. Cloud pages with nextPageToken through
// `search/jql` (its only search since 2025); Server and Data Center with startAt through
// `search`. Both in API v2, whose fields are those of Elastic's documents (v3 returns rich
// text as Atlassian Document Format).
func (y *syncer) search(jql string, each func([]issue) error) error {
	q := url.Values{"jql": {jql}, "fields": {"*all"}, "maxResults": {strconv.Itoa(searchLimit)}}
	if y.s.dataSource == cloud {
		seen := map[string]bool{}
		for {
			var page searchPage
			if err := y.c.GetJSON(y.s.baseURL+"/rest/api/2/search/jql?"+q.Encode(), &page); err != nil {
				return err
			}
			if err := each(page.Issues); err != nil {
				return err
			}
			// Jira omits the token on the last page (and may say isLast).
			if page.NextPageToken == "" || (page.IsLast != nil && *page.IsLast) {
				return nil
			}
			if seen[page.NextPageToken] {
				return inlet.Errorf(inlet.KindSource, "Jira answered the same nextPageToken twice for %q", jql)
			}
			seen[page.NextPageToken] = true
			q.Set("nextPageToken", page.NextPageToken)
		}
	}
	for startAt := 0; ; {
		q.Set("startAt", strconv.Itoa(startAt))
		var page searchPage
		if err := y.c.GetJSON(y.s.baseURL+"/rest/api/2/search?"+q.Encode(), &page); err != nil {
			return err
		}
		if err := each(page.Issues); err != nil {
			return err
		}
		// Advance by what came back: Jira caps maxResults by its own settings.
		startAt += len(page.Issues)
		if len(page.Issues) == 0 || startAt >= page.Total {
			return nil
		}
	}
}

// file is an attachment to index, with its issue and that issue's ACL.
type file struct {
	issue string
	meta  attachmentMeta
	acl   []string
}

func (y *syncer) emitIssues(e *inlet.Emitter, issues []issue) error {
	var files []file
	for _, is := range issues {
		var acl []string
		if y.acl != nil {
			var err error
			if acl, err = y.acl.issueACL(is); err != nil {
				return err
			}
			if !y.readable("issue", is.Key, acl) {
				continue // and its attachments, which share its ACL
			}
		}
		if err := atlassian.Emit(e, issueDocument(is, y.custom, acl)); err != nil {
			return err
		}
		for _, a := range is.attachments() {
			files = append(files, file{issue: is.Key, meta: a, acl: acl})
		}
	}
	return y.emitAttachments(e, files)
}

// emitAttachments indexes attachments in order, downloading the contents of those Elastic
// would extract in concurrent groups of at most concurrent_downloads files and
// downloadGroupBytes declared bytes.
func (y *syncer) emitAttachments(e *inlet.Emitter, files []file) error {
	for start := 0; start < len(files); {
		end, bytes := start, int64(0)
		for end < len(files) && end-start < y.s.downloads &&
			(end == start || bytes+files[end].meta.Size <= downloadGroupBytes) {
			bytes += files[end].meta.Size
			end++
		}
		group := files[start:end]
		bodies, err := y.download(group)
		if err != nil {
			return err
		}
		for i, f := range group {
			d := attachmentDocument(f.issue, f.meta, f.acl)
			if bodies[i] != nil {
				d = d.WithAttachment(bodies[i])
			}
			if err := atlassian.Emit(e, d); err != nil {
				return err
			}
		}
		start = end
	}
	return nil
}

// downloadURL is Elastic's: the content API on Cloud (which redirects to Atlassian's media
// service), the attachment servlet on Server and Data Center.
func (y *syncer) downloadURL(a attachmentMeta) string {
	if y.s.dataSource == cloud {
		return y.s.baseURL + "/rest/api/2/attachment/content/" + url.PathEscape(a.ID)
	}
	return y.s.baseURL + "/secure/attachment/" + url.PathEscape(a.ID) + "/" + url.PathEscape(a.Filename)
}

// download fetches the contents of the group's files that can be extracted (nil for the
// others). A file deleted meanwhile (404) is indexed without content.
func (y *syncer) download(group []file) ([][]byte, error) {
	bodies := make([][]byte, len(group))
	var urls []string
	var which []int
	for i, f := range group {
		if downloadable(f.meta) {
			urls = append(urls, y.downloadURL(f.meta))
			which = append(which, i)
		}
	}
	resps, errs := y.c.GetAll(urls)
	for j, i := range which {
		a := group[i].meta
		switch err := errs[j]; {
		case errors.Is(err, atlassian.ErrNotFound):
			inlet.Warnf("attachment %s (%q) of %s is gone (deleted during the sync?): indexed without content", a.ID, a.Filename, group[i].issue)
		case err != nil:
			return nil, inlet.Errorf(inlet.AsError(err).Kind, "downloading attachment %s (%q) of %s: %w", a.ID, a.Filename, group[i].issue, err)
		default:
			bodies[i] = resps[j].Body
		}
	}
	return bodies, nil
}
