package main

// Advanced sync rules, as Elastic's Confluence connector has them
// (connectors/sources/atlassian/confluence/datasource.py, atlassian/validator.py): a list of
// `{"query": "<CQL>"}` objects (parsed by plugins/shared/atlassian, as Jira's JQL rules are). With rules, a sync indexes what the queries find, and only
// that: no spaces walk, no attachment lists of matched pages, and the `spaces` field is ignored.

import (
	"net/url"
	"strconv"

	"inlet.dev/plugins/shared/atlassian"
	inlet "inlet.dev/sdk"
)

// ValidateAdvancedRules checks the rules' shape, as Elastic's validator does (a JSON schema: an
// array of objects with a non-empty string `query` and no other key). The CQL itself is
// Confluence's to judge: a query it cannot parse fails the sync with Confluence's message.
func (confluence) ValidateAdvancedRules(_ inlet.Config, rules string) (inlet.RulesValidation, error) {
	return atlassian.ValidateQueryRules(rules, "CQL"), nil
}

// readRules is the rules' queries for a sync (a config error for rules the host did not check).
func readRules(text string) ([]string, error) { return atlassian.ReadQueryRules(text, "CQL") }

// ruleCQL is the query a rule runs as: itself in a full sync; in an incremental sync, the
// content it matches that changed since the cursor. Elastic's incremental sync re-runs the
// rules whole and skips unchanged documents; narrowing by `lastmodified` (as the normal
// incremental sync does) indexes the same changes for far fewer requests.
func (y *syncer) ruleCQL(rule string) string {
	if y.full {
		return rule
	}
	return atlassian.Narrow(rule, `lastmodified >= "`+cqlTime(y.since)+`"`)
}

// emitMatches indexes what one rule's CQL finds: pages, blog posts (and other content, such as
// comments, built the same way) and attachments. Like Elastic's, it does not add the
// attachments of a matched page (a rule asks for them with `type = attachment`), and skips an
// attachment whose container is unknown.
func (y *syncer) emitMatches(e *inlet.Emitter, cql string) error {
	expand := contentExpand + ",container"
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
		var others []content
		for _, ct := range items {
			if ct.Type != "attachment" {
				others = append(others, ct)
			}
		}
		if y.acl != nil {
			if err := y.acl.prefetch(others); err != nil {
				return err
			}
		}
		var files []attached
		for _, ct := range items {
			if ct.Type == "attachment" {
				at, ok, err := y.matchedAttachment(ct)
				if err != nil {
					return err
				}
				if ok {
					files = append(files, at)
				}
				continue
			}
			var acl []string
			if y.acl != nil {
				var err error
				if acl, err = y.acl.contentACL(ct); err != nil {
					return err
				}
				if !y.readable(ct.Type, ct.ID, acl) {
					continue
				}
			}
			if err := atlassian.Emit(e, contentDocument(y.s, ct, acl)); err != nil {
				return err
			}
		}
		// The page's attachments are downloaded together, as in the normal sync.
		return y.emitAttachments(e, files)
	})
}

// matchedAttachment pairs an attachment found by a rule with its container (and, with DLS,
// that container's ACL); ok is false when it is to be skipped.
func (y *syncer) matchedAttachment(a content) (attached, bool, error) {
	if a.Container == nil || a.Container.Title == "" {
		inlet.Warnf("attachment %s: Confluence did not say which content it belongs to: skipped", a.ID)
		return attached{}, false, nil
	}
	parent := content{Space: a.Space, Type: a.Container.Type, Title: a.Container.Title}
	var acl []string
	if y.acl != nil {
		if a.Container.ID == "" {
			return attached{}, false, inlet.Errorf(inlet.KindSource, "attachment %s: Confluence did not say which content it belongs to (expand=container)", a.ID)
		}
		got, err := y.acl.containerACL(a.Container.ID)
		if err != nil {
			return attached{}, false, err
		}
		if got == nil {
			inlet.Warnf("attachment %s: its %s %s is gone (deleted during the sync?): skipped", a.ID, a.Container.Type, a.Container.ID)
			return attached{}, false, nil
		}
		if acl = got.acl; !y.readable("attachment", a.ID, acl) {
			return attached{}, false, nil
		}
	}
	return attached{parent: parent, file: a, acl: acl}, true, nil
}
