package main

import (
	"fmt"
	"strings"
	"testing"

	"inlet.dev/plugins/shared/atlassian"
	inlet "inlet.dev/sdk"
)

func user(id, name, kind string) map[string]any {
	return map[string]any{"accountId": id, "displayName": name, "accountType": kind, "active": true,
		"self": fakeBase + "/rest/api/3/user?accountId=" + id}
}

func dlsFake() *fakeJira {
	return &fakeJira{
		permissions: map[string][]map[string]any{
			// The app is left out: it gets no identity.
			"ENG": {user("acc-ann", "Ann Lee", "atlassian"), user("acc-bob", "Bob", "atlassian"), user("app-bot", "Bot", "app")},
			"OPS": {user("acc-bob", "Bob", "atlassian")},
		},
		levels: map[string][]map[string]any{
			"300": {
				{"type": "user", "user": user("acc-cy", "Cy", "atlassian")},
				{"type": "group", "group": map[string]any{"name": "admins", "groupId": "grp-admins"}},
				{"type": "projectRole", "projectRole": map[string]any{"id": 10002}},
				{"type": "projectRole", "projectRole": map[string]any{"id": 10003}}, // add-ons: left out
				{"type": "reporter"},
			},
			"301": {{"type": "reporter"}}, // nobody Elastic can name
		},
		roles: map[string][]map[string]any{
			"ENG/10002": {{"displayName": "Dee", "actorUser": map[string]any{"accountId": "acc-dee"}},
				{"displayName": "devs", "actorGroup": map[string]any{"name": "devs", "groupId": "grp-devs"}}},
			"OPS/10004": {{"displayName": "Eve", "actorUser": map[string]any{"accountId": "acc-eve"}}},
			"ENG/10003": {{"displayName": "Addon", "actorUser": map[string]any{"accountId": "app-addon"}}},
		},
		extra: map[string]map[string]any{
			"ENG-1": {"security": map[string]any{"id": "300", "name": "Staff"}},
			"ENG-2": {"security": map[string]any{"id": "301", "name": "Reporters"}},
			// Restricted to a project role (restrictionValue is a string in Jira's answer).
			"OPS-1": {"issuerestriction": map[string]any{"issuerestrictions": map[string]any{
				"projectrole": []any{map[string]any{"restrictionValue": "10004"}}}, "shouldDisplay": true}},
		},
	}
}

func TestDocumentLevelSecurity(t *testing.T) {
	f := dlsFake()
	f.install(t)
	res, err := inlet.RunSync(jira{}, inlet.RunOptions{Config: config(map[string]any{"use_document_level_security": true})})
	if err != nil {
		t.Fatal(err)
	}
	acl := map[string]string{}
	for id, d := range byID(res.Documents) {
		acl[id] = fmt.Sprint(d[atlassian.ACLField])
	}
	want := map[string]string{
		"project-10000": "[account_id:acc-ann account_id:acc-bob name:Ann-Lee name:Bob]",
		"project-10001": "[account_id:acc-bob name:Bob]",
		// The level's user and group, and its role's members in the project.
		"Engineering-ENG-1": "[account_id:acc-cy account_id:acc-dee group_id:grp-admins group_id:grp-devs name:Cy name:Dee]",
		"ENG-1-501":         "[account_id:acc-cy account_id:acc-dee group_id:grp-admins group_id:grp-devs name:Cy name:Dee]",
		"ENG-1-502":         "[account_id:acc-cy account_id:acc-dee group_id:grp-admins group_id:grp-devs name:Cy name:Dee]",
		"Operations-OPS-1":  "[account_id:acc-eve name:Eve]",
		"Operations-OPS-2":  "[account_id:acc-bob name:Bob]",
		// Engineering-ENG-2: its level names nobody: left out rather than public.
	}
	if fmt.Sprint(acl) != fmt.Sprint(want) {
		t.Errorf("ACLs\n%v\nwant\n%v", acl, want)
	}
	permissionPages := 0
	for _, r := range f.requests {
		if strings.Contains(r, "/user/permission/search") && strings.Contains(r, "projectKey=ENG") {
			permissionPages++
		}
	}
	// Pages of one user: 3 users, then an empty page; once per sync for both the project and
	// its issues.
	if permissionPages != 4 {
		t.Errorf("%d permission pages for ENG", permissionPages)
	}
}

func TestUnreadablePermissionsFailTheSync(t *testing.T) {
	f := dlsFake()
	f.status429 = map[string]int{"/issuesecurityschemes/level/member": 99}
	f.install(t)
	_, err := inlet.RunSync(jira{}, inlet.RunOptions{Config: config(map[string]any{"use_document_level_security": true, "retry_count": 1})})
	if err == nil || !strings.Contains(err.Error(), "security level 300") {
		t.Fatalf("%v", err)
	}
}

func TestAccessControlSyncNeedsDLS(t *testing.T) {
	_, err := inlet.RunSync(jira{}, inlet.RunOptions{Kind: "access-control", Config: config(nil)})
	if inlet.AsError(err).Kind != inlet.KindConfig {
		t.Errorf("%v", err)
	}
}
