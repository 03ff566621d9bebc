package atlassian

// Advanced sync rules as Elastic's Confluence and Jira connectors take them
// (connectors/sources/atlassian/validator.py `AtlassianAdvancedRulesValidator`): a JSON list of
// `{"query": "<CQL or JQL>"}` objects, nothing else in them.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	inlet "inlet.dev/sdk"
)

// ParseQueryRules reads the rules' JSON text into their queries, or says everything wrong with
// it; lang names the query language in messages ("CQL", "JQL"). No text, `null` and `[]` are
// "no rules" (Elastic's has_advanced_rules is false for an empty list), so the normal sync runs.
func ParseQueryRules(text, lang string) ([]string, []string) {
	text = strings.TrimSpace(text)
	if text == "" || text == "null" {
		return nil, nil
	}
	shape := `{"query": "<` + lang + `>"}`
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(text), &items); err != nil {
		return nil, []string{"advanced rules must be a JSON list of " + shape + " objects: " + err.Error()}
	}
	var queries, problems []string
	for i, raw := range items {
		where := "rule " + strconv.Itoa(i)
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			problems = append(problems, fmt.Sprintf(`%s must be an object %s, not %s`, where, shape, raw))
			continue
		}
		var extra []string
		for k := range obj {
			if k != "query" {
				extra = append(extra, strconv.Quote(k))
			}
		}
		if len(extra) > 0 {
			sort.Strings(extra)
			problems = append(problems, fmt.Sprintf(`%s has unknown keys %s (only "query" is allowed)`, where, strings.Join(extra, ", ")))
		}
		q, ok := obj["query"]
		if !ok {
			problems = append(problems, fmt.Sprintf(`%s must contain "query" (a %s query)`, where, lang))
			continue
		}
		var s string
		if bytes.HasPrefix(bytes.TrimSpace(q), []byte(`"`)) && json.Unmarshal(q, &s) == nil {
			// A blank query is refused too (Elastic's schema lets " " through): the server
			// would refuse it at sync time anyway, after the sync was started.
			if strings.TrimSpace(s) == "" {
				problems = append(problems, where+`: "query" must not be empty`)
				continue
			}
			queries = append(queries, s)
		} else {
			problems = append(problems, fmt.Sprintf(`%s: "query" must be a string, not %s`, where, q))
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return queries, nil
}

// ValidateQueryRules is a connector's ValidateAdvancedRules for these rules: the shape only.
// The query itself is the server's to judge: one it cannot parse fails the sync with its
// message.
func ValidateQueryRules(text, lang string) inlet.RulesValidation {
	if _, problems := ParseQueryRules(text, lang); len(problems) > 0 {
		return inlet.RulesValidation{Messages: problems}
	}
	return inlet.RulesValidation{Valid: true}
}

// ReadQueryRules is ParseQueryRules for a sync: the host validates rules before it starts one,
// so problems here mean rules it did not check, a config error.
func ReadQueryRules(text, lang string) ([]string, error) {
	queries, problems := ParseQueryRules(text, lang)
	if len(problems) > 0 {
		return nil, inlet.Errorf(inlet.KindConfig, "advanced sync rules: %s", strings.Join(problems, "; "))
	}
	return queries, nil
}

// orderBy is a trailing `ORDER BY ...` clause (outside quotes: the tail has none), which must
// stay last when a clause is appended to a query. CQL and JQL write it alike.
var orderBy = regexp.MustCompile(`(?i)\s+order\s+by\s+[^"']*$`)

// Narrow is query restricted by clause (`(<query>) and <clause>`), its ORDER BY kept last.
func Narrow(query, clause string) string {
	query = strings.TrimSpace(query)
	order := orderBy.FindString(query)
	return "(" + strings.TrimSpace(query[:len(query)-len(order)]) + ") and " + clause + order
}
