package main

// Document-level security on Jira Cloud, as Elastic's connector does it
// (connectors/sources/atlassian/jira/datasource.py and client.py):
//
//   - a project's `_allow_access_control` is the Atlassian accounts with the BROWSE permission
//     in it (`account_id:` and `name:` values);
//   - an issue restricted to project roles is readable by those roles' members; otherwise an
//     issue with a security level by the level's members (users, groups and the members of
//     project roles); otherwise by whoever may browse its project;
//   - an attachment has its issue's;
//   - the access-control sync writes one identity document per active Atlassian account
//     (plugins/shared/atlassian, shared with the Confluence connector).
//
// Values carry Elastic's prefixes: `account_id:`, `name:`, `group_id:`.

import (
	"encoding/json"
	"errors"
	"net/url"
	"strconv"

	"inlet.dev/plugins/shared/atlassian"
	inlet "inlet.dev/sdk"
)

const (
	// Users asked for per page of the permission search (Elastic's MAX_USER_FETCH_LIMIT).
	permissionLimit = 1000
	// Members asked for per page of a security level (Elastic's FETCH_SIZE).
	memberLimit = 100
	// The `atlassian-addons-project-access` role, which Elastic leaves out: apps, not people.
	addonsRole = 10003
)

// access computes `_allow_access_control` for one sync, caching what several documents share
// (a project's browsers, a security level's members, a project role's members).
type access struct {
	c    *atlassian.Client
	base string
	// projects: project key -> who may browse it.
	projects map[string][]string
	// levels: security level id -> its members.
	levels map[string]*levelMembers
	// roles: "<project key>/<role id>" -> the role's members in that project.
	roles map[string]map[string]bool
}

// levelMembers are a security level's users and groups, and the project roles it names (their
// members depend on the issue's project).
type levelMembers struct {
	ids   map[string]bool
	roles []int64
}

func newAccess(c *atlassian.Client, base string) *access {
	return &access{c: c, base: base, projects: map[string][]string{},
		levels: map[string]*levelMembers{}, roles: map[string]map[string]bool{}}
}

// person is a user as Jira's permission search and security level members name them.
type person struct {
	AccountID   string `json:"accountId"`
	AccountType string `json:"accountType"`
	DisplayName string `json:"displayName"`
	Active      bool   `json:"active"`
	Self        string `json:"self"`
}

// addPerson adds a user's values: their account id and Elastic's `name:` value.
func addPerson(out map[string]bool, accountID, displayName string) {
	if accountID == "" {
		return
	}
	out[atlassian.Prefixed("account_id", accountID)] = true
	if displayName != "" {
		out[atlassian.Name(displayName)] = true
	}
}

// projectACL is who may browse the project: the Atlassian accounts of the permission search
// (apps and customers get no identity, so Elastic leaves them out).
func (a *access) projectACL(key string) ([]string, error) {
	if acl, ok := a.projects[key]; ok {
		return acl, nil
	}
	out := map[string]bool{}
	for start := 0; ; {
		q := url.Values{"projectKey": {key}, "permissions": {"BROWSE"},
			"maxResults": {strconv.Itoa(permissionLimit)}, "startAt": {strconv.Itoa(start)}}
		var users []person
		if err := a.c.GetJSON(a.base+"/rest/api/2/user/permission/search?"+q.Encode(), &users); err != nil {
			return nil, inlet.Errorf(inlet.AsError(err).Kind, "reading who may browse project %s: %w", key, err)
		}
		if len(users) == 0 {
			break
		}
		// Advance by what came back: Jira may answer fewer than asked for.
		start += len(users)
		for _, u := range users {
			if u.AccountType == "atlassian" {
				addPerson(out, u.AccountID, u.DisplayName)
			}
		}
	}
	acl := atlassian.Sorted(out)
	a.projects[key] = acl
	return acl, nil
}

// issueACL is who may read an issue (and its attachments). Unknown permissions fail the sync:
// they must not widen access.
func (a *access) issueACL(is issue) ([]string, error) {
	p := is.project()
	var restriction struct {
		IssueRestrictions struct {
			ProjectRole []struct {
				RestrictionValue json.Number `json:"restrictionValue"`
			} `json:"projectrole"`
		} `json:"issuerestrictions"`
	}
	if is.decodeField("issuerestriction", &restriction) && len(restriction.IssueRestrictions.ProjectRole) > 0 {
		out := map[string]bool{}
		for _, r := range restriction.IssueRestrictions.ProjectRole {
			id, err := r.RestrictionValue.Int64()
			if err != nil {
				return nil, inlet.Errorf(inlet.KindSource, "issue %s: restricted to project role %q, which is not a role id", is.Key, r.RestrictionValue)
			}
			if err := a.addRole(out, p.Key, id); err != nil {
				return nil, err
			}
		}
		return atlassian.Sorted(out), nil
	}
	var security struct {
		ID string `json:"id"`
	}
	if is.decodeField("security", &security) && security.ID != "" {
		level, err := a.level(security.ID)
		if err != nil {
			return nil, err
		}
		out := map[string]bool{}
		for id := range level.ids {
			out[id] = true
		}
		for _, role := range level.roles {
			if err := a.addRole(out, p.Key, role); err != nil {
				return nil, err
			}
		}
		return atlassian.Sorted(out), nil
	}
	return a.projectACL(p.Key)
}

// holder is who a security level grants: a user, a group, a project role (other holder types,
// such as the reporter, are not people Elastic can name, and it skips them too).
type holder struct {
	Type  string  `json:"type"`
	User  *person `json:"user"`
	Group *struct {
		GroupID string `json:"groupId"`
	} `json:"group"`
	ProjectRole *struct {
		ID int64 `json:"id"`
	} `json:"projectRole"`
}

// level reads a security level's members (once per sync).
func (a *access) level(id string) (*levelMembers, error) {
	if got, ok := a.levels[id]; ok {
		return got, nil
	}
	got := &levelMembers{ids: map[string]bool{}}
	for start := 0; ; {
		q := url.Values{"maxResults": {strconv.Itoa(memberLimit)}, "startAt": {strconv.Itoa(start)},
			"levelId": {id}, "expand": {"user,group,projectRole"}}
		var page struct {
			Values []struct {
				Holder holder `json:"holder"`
			} `json:"values"`
			Total  int   `json:"total"`
			IsLast *bool `json:"isLast"`
		}
		if err := a.c.GetJSON(a.base+"/rest/api/3/issuesecurityschemes/level/member?"+q.Encode(), &page); err != nil {
			return nil, inlet.Errorf(inlet.AsError(err).Kind, "reading the members of security level %s: %w", id, err)
		}
		for _, m := range page.Values {
			h := m.Holder
			switch {
			case h.Type == "user" && h.User != nil:
				u := h.User
				if (atlassian.User{AccountID: u.AccountID, AccountType: u.AccountType, Active: u.Active, Self: u.Self}).ActiveAtlassian() {
					addPerson(got.ids, u.AccountID, u.DisplayName)
				}
			case h.Type == "group" && h.Group != nil && h.Group.GroupID != "":
				got.ids[atlassian.Prefixed("group_id", h.Group.GroupID)] = true
			case h.Type == "projectRole" && h.ProjectRole != nil && h.ProjectRole.ID != addonsRole:
				got.roles = append(got.roles, h.ProjectRole.ID)
			}
		}
		start += len(page.Values)
		if len(page.Values) == 0 || (page.IsLast != nil && *page.IsLast) || start >= page.Total {
			break
		}
	}
	a.levels[id] = got
	return got, nil
}

// addRole adds the members of a project role in a project (users and groups); a role that is
// gone (404) has none.
func (a *access) addRole(out map[string]bool, projectKey string, role int64) error {
	key := projectKey + "/" + strconv.FormatInt(role, 10)
	members, ok := a.roles[key]
	if !ok {
		var got struct {
			Actors []struct {
				DisplayName string `json:"displayName"`
				ActorUser   *struct {
					AccountID string `json:"accountId"`
				} `json:"actorUser"`
				ActorGroup *struct {
					GroupID string `json:"groupId"`
				} `json:"actorGroup"`
			} `json:"actors"`
		}
		err := a.c.GetJSON(a.base+"/rest/api/3/project/"+url.PathEscape(projectKey)+"/role/"+strconv.FormatInt(role, 10), &got)
		if err != nil && !errors.Is(err, atlassian.ErrNotFound) {
			return inlet.Errorf(inlet.AsError(err).Kind, "reading the members of role %d in project %s: %w", role, projectKey, err)
		}
		members = map[string]bool{}
		for _, actor := range got.Actors {
			switch {
			case actor.ActorUser != nil:
				addPerson(members, actor.ActorUser.AccountID, actor.DisplayName)
			case actor.ActorGroup != nil && actor.ActorGroup.GroupID != "":
				members[atlassian.Prefixed("group_id", actor.ActorGroup.GroupID)] = true
			}
		}
		a.roles[key] = members
	}
	for id := range members {
		out[id] = true
	}
	return nil
}

// AccessControlSync writes one identity document per active Atlassian account of the site
// (the host puts them in `.search-acl-filter-<index>`).
func (jira) AccessControlSync(req inlet.SyncRequest) (inlet.DocStream, error) {
	s, err := readSettings(req.Config)
	if err != nil {
		return nil, err
	}
	if !s.dls {
		// Elastic's connector logs and writes nothing; an empty access-control sync would also
		// delete every identity already indexed, so refuse instead.
		return nil, inlet.ConfigError("use_document_level_security is off: turn it on to run access-control syncs")
	}
	c := s.client()
	return inlet.Generate(0, func(e *inlet.Emitter) error {
		return atlassian.Identities(e, c, s.baseURL, s.downloads)
	}), nil
}
