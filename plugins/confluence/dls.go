package main

// Document-level security, as Elastic's connector does it on Confluence Cloud
// (connectors/sources/atlassian/confluence/datasource.py and atlassian/validator.py):
//
//   - a space's `_allow_access_control` is the users and groups its permissions name;
//   - a page's or blog post's is the intersection of the non-empty read restrictions of the
//     content and each of its ancestors, or its space's when none of them is restricted;
//   - an attachment's is its page's;
//   - the access-control sync writes one identity document per active Atlassian account, whose
//     `query.template.params.access_control` holds its account id, group ids and role keys
//     (plugins/shared/atlassian, shared with the Jira connector).
//
// Values carry Elastic's prefixes: `account_id:`, `group_id:`, `role_key:` (and `name:`,
// `email_address:`, `locale:` in the identity).

import (
	"errors"
	"net/url"

	"inlet.dev/plugins/shared/atlassian"
	inlet "inlet.dev/sdk"
)

// subject is a user or group named by a space permission or a content restriction.
type subject struct {
	Type        string `json:"type"` // "known" (a user), "group", "anonymous", ...
	AccountID   string `json:"accountId"`
	AccountType string `json:"accountType"` // "atlassian", "app", "customer"
	ID          string `json:"id"`          // a group's id
	Name        string `json:"name"`
}

type subjects struct {
	User *struct {
		Results []subject `json:"results"`
	} `json:"user"`
	Group *struct {
		Results []subject `json:"results"`
	} `json:"group"`
}

// identities are the access-control values of these subjects. Only Atlassian accounts count, as
// in Elastic's connector: apps and service-desk customers get no identity document, so a value
// for them could never match.
func (s subjects) identities() map[string]bool {
	out := map[string]bool{}
	var all []subject
	if s.User != nil {
		all = append(all, s.User.Results...)
	}
	if s.Group != nil {
		all = append(all, s.Group.Results...)
	}
	for _, it := range all {
		switch {
		case it.Type == "known" && it.AccountType == "atlassian" && it.AccountID != "":
			out[atlassian.Prefixed("account_id", it.AccountID)] = true
		case it.Type == "group" && it.ID != "":
			out[atlassian.Prefixed("group_id", it.ID)] = true
		}
	}
	return out
}

// spacePermission is one entry of a Cloud space's `permissions` expansion.
type spacePermission struct {
	Subjects  subjects `json:"subjects"`
	Operation struct {
		Operation  string `json:"operation"`
		TargetType string `json:"targetType"`
	} `json:"operation"`
}

// spaceACL is who may read content of type target in a space with these permissions. The
// filter is Elastic's: a permission counts when it is about the target type, about the space,
// or a read. Confluence grants no space permission without "read space", so this is the set of
// the space's readers.
func spaceACL(perms []spacePermission, target string) map[string]bool {
	out := map[string]bool{}
	for _, p := range perms {
		op := p.Operation
		if op.TargetType != target && op.TargetType != "space" && op.Operation != "read" {
			continue
		}
		for id := range p.Subjects.identities() {
			out[id] = true
		}
	}
	return out
}

// readRestrictions is the `restrictions.read` expansion of content, and the answer of
// /content/{id}/restriction/byOperation/read.
type readRestrictions struct {
	Restrictions subjects `json:"restrictions"`
}

// access computes `_allow_access_control` for one sync, caching what several documents share
// (an ancestor's restrictions, a space's permissions, an attachment's page).
type access struct {
	s *settings
	c *client
	// restrictions: content id -> identities of its read restrictions (empty: unrestricted).
	restrictions map[string]map[string]bool
	// spaces: space key -> its permissions, for content whose expansion lacks them.
	spaces map[string][]spacePermission
	// containers: page or blog post id -> its ACL and the content itself (nil: gone).
	containers map[string]*container
}

type container struct {
	c   content
	acl []string
}

func newAccess(s *settings, c *client) *access {
	return &access{s: s, c: c, restrictions: map[string]map[string]bool{},
		spaces: map[string][]spacePermission{}, containers: map[string]*container{}}
}

// The expansions content needs for its ACL (Cloud; only asked for with DLS on, since reading
// permissions needs more rights and more work from Confluence).
const dlsExpand = "space.permissions,restrictions.read.restrictions.user,restrictions.read.restrictions.group"

func restrictionURL(base, id string) string {
	return base + "/rest/api/content/" + url.PathEscape(id) + "/restriction/byOperation/read?" +
		url.Values{"expand": {"restrictions.user,restrictions.group"}}.Encode()
}

// prefetch fetches, concurrent_downloads at a time, the read restrictions of the ancestors of
// these items not seen yet (and of items whose own restrictions were not expanded).
func (a *access) prefetch(items []content) error {
	var ids []string
	want := map[string]bool{}
	add := func(id string) {
		if _, ok := a.restrictions[id]; !ok && id != "" && !want[id] {
			want[id] = true
			ids = append(ids, id)
		}
	}
	for _, ct := range items {
		if ct.Restrictions == nil || ct.Restrictions.Read == nil {
			add(ct.ID)
		}
		for _, an := range ct.Ancestors {
			add(an.ID)
		}
	}
	for start := 0; start < len(ids); start += a.s.downloads {
		group := ids[start:min(start+a.s.downloads, len(ids))]
		urls := make([]string, len(group))
		for i, id := range group {
			urls[i] = restrictionURL(a.s.baseURL, id)
		}
		resps, errs := a.c.GetAll(urls)
		for i, id := range group {
			var r readRestrictions
			err := errs[i]
			if err == nil {
				err = resps[i].JSON(&r)
			}
			switch {
			case errors.Is(err, errNotFound):
				// Elastic skips an ancestor that is gone; a restriction it had no longer applies.
				a.restrictions[id] = map[string]bool{}
			case err != nil:
				// Unknown restrictions must not widen access: the sync fails, nothing is deleted,
				// and the documents keep their previous ACL.
				return inlet.Errorf(inlet.AsError(err).Kind, "reading the read restrictions of content %s: %w", id, err)
			default:
				a.restrictions[id] = r.Restrictions.identities()
			}
		}
	}
	return nil
}

// contentACL is who may read a page or blog post; prefetch must have run for it. Empty means
// nobody (restrictions that exclude each other, or a space whose permissions name nobody).
func (a *access) contentACL(ct content) ([]string, error) {
	var layers []map[string]bool
	own := a.restrictions[ct.ID]
	if ct.Restrictions != nil && ct.Restrictions.Read != nil {
		own = ct.Restrictions.Read.Restrictions.identities()
	}
	if len(own) > 0 {
		layers = append(layers, own)
	}
	for _, an := range ct.Ancestors {
		if r := a.restrictions[an.ID]; len(r) > 0 {
			layers = append(layers, r)
		}
	}
	if len(layers) == 0 {
		// Unrestricted content is readable by whoever may read its space.
		perms, err := a.spacePermissions(ct.Space)
		if err != nil {
			return nil, err
		}
		return atlassian.Sorted(spaceACL(perms, ct.Type)), nil
	}
	// One must pass every restriction: the values present in all of them (Elastic compares the
	// values, without expanding a group into its members).
	out := map[string]bool{}
	for id := range layers[0] {
		in := true
		for _, l := range layers[1:] {
			in = in && l[id]
		}
		if in {
			out[id] = true
		}
	}
	return atlassian.Sorted(out), nil
}

// spacePermissions are the expanded permissions of a content's space, or fetched (once per
// space) when the expansion is missing.
func (a *access) spacePermissions(sp *space) ([]spacePermission, error) {
	if sp == nil {
		return nil, nil
	}
	if len(sp.Permissions) > 0 {
		return sp.Permissions, nil
	}
	if perms, ok := a.spaces[sp.Key]; ok {
		return perms, nil
	}
	var full space
	err := a.c.GetJSON(a.s.baseURL+"/rest/api/space/"+url.PathEscape(sp.Key)+"?expand=permissions", &full)
	if err != nil && !errors.Is(err, errNotFound) {
		return nil, err
	}
	a.spaces[sp.Key] = full.Permissions
	return full.Permissions, nil
}

// containerACL is the ACL of the page or blog post id (for an attachment found by CQL), with
// that content; nil when it is gone.
func (a *access) containerACL(id string) (*container, error) {
	if got, ok := a.containers[id]; ok {
		return got, nil
	}
	var ct content
	err := a.c.GetJSON(a.s.baseURL+"/rest/api/content/"+url.PathEscape(id)+"?"+
		url.Values{"expand": {"space,ancestors," + dlsExpand}}.Encode(), &ct)
	if errors.Is(err, errNotFound) {
		a.containers[id] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := a.prefetch([]content{ct}); err != nil {
		return nil, err
	}
	acl, err := a.contentACL(ct)
	if err != nil {
		return nil, err
	}
	got := &container{c: ct, acl: acl}
	a.containers[id] = got
	return got, nil
}

// AccessControlSync writes one identity document per active Atlassian account of the site
// (the host puts them in `.search-acl-filter-<index>`), as the Jira connector does.
func (confluence) AccessControlSync(req inlet.SyncRequest) (inlet.DocStream, error) {
	s, err := readSettings(req.Config)
	if err != nil {
		return nil, err
	}
	if !s.dls {
		// Elastic's connector logs and writes nothing; an empty access-control sync would also
		// delete every identity already indexed, so refuse instead.
		return nil, inlet.ConfigError("use_document_level_security is off: turn it on to run access-control syncs")
	}
	c := newClient(s)
	return inlet.Generate(0, func(e *inlet.Emitter) error {
		return atlassian.Identities(e, c, s.siteURL, s.downloads)
	}), nil
}
