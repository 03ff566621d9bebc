package atlassian

// Atlassian Cloud's identities for document-level security, as Elastic's Confluence and Jira
// connectors build them (connectors/sources/atlassian/validator.py `AtlassianAccessControl`,
// utils.py): one identity document per active Atlassian account, whose
// `query.template.params.access_control` holds its account id, group ids and application role
// keys. Content carries the same prefixed values in `_allow_access_control`.

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	inlet "inlet.dev/sdk"
)

// ACLField is the content field Elastic's DLS query reads.
const ACLField = "_allow_access_control"

// userLimit is how many users one page of the user search asks for (Elastic's
// CLOUD_USER_BATCH).
const userLimit = 50

// DLSQuery is the search template Elastic's connectors store with each identity: a document is
// visible when it has no `_allow_access_control`, or shares a value with the identity's list.
const DLSQuery = `{"bool":{"should":[{"bool":{"must_not":{"exists":{"field":"_allow_access_control"}}}},` +
	`{"terms":{"_allow_access_control.keyword":{{#toJson}}access_control{{/toJson}}}}]}}`

// Prefixed is Elastic's `prefix_identity`: `account_id:<id>`, `group_id:<id>`, ...
func Prefixed(prefix, v string) string { return prefix + ":" + v }

// Name is Elastic's `prefix_account_name`: `name:` and the display name with its spaces as
// dashes.
func Name(displayName string) string {
	return Prefixed("name", strings.ReplaceAll(displayName, " ", "-"))
}

// Sorted returns the set's members in order (so documents are stable from sync to sync).
func Sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// WithACL adds `_allow_access_control` to a document body when DLS is on (acl non-nil).
func WithACL(body map[string]any, acl []string) map[string]any {
	if acl != nil {
		body[ACLField] = acl
	}
	return body
}

// User is an entry of Atlassian's user search, or one user with groups and application roles
// expanded.
type User struct {
	AccountID    string `json:"accountId"`
	AccountType  string `json:"accountType"`
	Active       bool   `json:"active"`
	DisplayName  string `json:"displayName"`
	EmailAddress string `json:"emailAddress"`
	Locale       string `json:"locale"`
	Self         string `json:"self"`
	Groups       *struct {
		Items []struct {
			Name    string `json:"name"`
			GroupID string `json:"groupId"`
		} `json:"items"`
	} `json:"groups"`
	ApplicationRoles *struct {
		Items []struct {
			Key string `json:"key"`
		} `json:"items"`
	} `json:"applicationRoles"`
}

// ActiveAtlassian is Elastic's filter (`is_active_atlassian_user`): inactive or deleted
// accounts, apps and service-desk customers have no access and get no identity.
func (u User) ActiveAtlassian() bool {
	return u.Self != "" && u.Active && u.AccountType == "atlassian" && u.AccountID != ""
}

// Identities emits one identity document per active Atlassian account of the site at siteURL
// (Atlassian's user API lives at the site's root: not under Confluence's `/wiki`), fetching
// the groups and roles of up to `concurrency` users at once. The host writes them to
// `.search-acl-filter-<index>`.
func Identities(e *inlet.Emitter, c *Client, siteURL string, concurrency int) error {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for start := 0; ; {
		var users []User
		q := url.Values{"startAt": {strconv.Itoa(start)}, "maxResults": {strconv.Itoa(userLimit)}}
		if err := c.GetJSON(siteURL+"/rest/api/3/users/search?"+q.Encode(), &users); err != nil {
			return err
		}
		if len(users) == 0 {
			return nil
		}
		// Advance by what came back (not by the page size asked for, as Elastic does): a site
		// may answer fewer, and none must be skipped.
		start += len(users)
		if err := emitIdentities(e, c, siteURL, users, now, concurrency); err != nil {
			return err
		}
	}
}

func emitIdentities(e *inlet.Emitter, c *Client, siteURL string, users []User, now string, concurrency int) error {
	var active []User
	for _, u := range users {
		if u.ActiveAtlassian() {
			active = append(active, u)
		}
	}
	for start := 0; start < len(active); start += concurrency {
		group := active[start:min(start+concurrency, len(active))]
		urls := make([]string, len(group))
		for i, u := range group {
			// The configured origin, not the `self` link (Elastic's): it is the one the
			// operator granted.
			urls[i] = siteURL + "/rest/api/3/user?" + url.Values{
				"accountId": {u.AccountID}, "expand": {"groups,applicationRoles"}}.Encode()
		}
		resps, errs := c.GetAll(urls)
		for i, u := range group {
			var full User
			err := errs[i]
			if err == nil {
				err = resps[i].JSON(&full)
			}
			if errors.Is(err, ErrNotFound) {
				inlet.Warnf("user %s is gone (deleted during the sync?): no identity", u.AccountID)
				continue
			} else if err != nil {
				return err
			}
			if full.AccountID == "" {
				full.AccountID = u.AccountID
			}
			if err := Emit(e, IdentityDocument(full, now)); err != nil {
				return err
			}
		}
	}
	return nil
}

// IdentityDocument is Elastic's identity document for a Cloud user: `_id` the account id, the
// prefixed identity, and the values its searches may match in `_allow_access_control`.
func IdentityDocument(u User, now string) inlet.Document {
	optional := func(v string, prefixed func(string) string) any {
		if v == "" {
			return nil
		}
		return prefixed(v)
	}
	account := Prefixed("account_id", u.AccountID)
	groups, roles := map[string]bool{}, map[string]bool{}
	if u.Groups != nil {
		for _, g := range u.Groups.Items {
			if g.GroupID != "" {
				groups[Prefixed("group_id", g.GroupID)] = true
			}
		}
	}
	if u.ApplicationRoles != nil {
		for _, r := range u.ApplicationRoles.Items {
			if r.Key != "" {
				roles[Prefixed("role_key", r.Key)] = true
			}
		}
	}
	acl := append(append([]string{account}, Sorted(groups)...), Sorted(roles)...)
	return inlet.Index(u.AccountID, map[string]any{
		"identity": map[string]any{
			"account_id":    account,
			"display_name":  optional(u.DisplayName, Name),
			"email_address": optional(u.EmailAddress, func(v string) string { return Prefixed("email_address", v) }),
			"locale":        optional(u.Locale, func(v string) string { return Prefixed("locale", v) }),
		},
		"created_at": now,
		"query": map[string]any{"template": map[string]any{
			"params": map[string]any{"access_control": acl},
			"source": DLSQuery,
		}},
	})
}
