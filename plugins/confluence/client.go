package main

import (
	"inlet.dev/plugins/shared/atlassian"
)

// The REST client (retries, Retry-After, redirects, `_links` resolution) is the one the Jira
// connector uses too: plugins/shared/atlassian.
type client = atlassian.Client

func newClient(s *settings) *client { return atlassian.NewClient(s.baseURL, s.retries) }

// errNotFound is in the chain of a 404's error: content deleted while a sync runs is skipped,
// not a failure.
var errNotFound = atlassian.ErrNotFound
