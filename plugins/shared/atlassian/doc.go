// Package atlassian is what the Confluence and Jira connectors share: the REST client with
// Elastic's retry policy (Retry-After on 429, exponential backoff on 5xx and broken
// connections, redirects followed), Atlassian Cloud's identity documents for document-level
// security (the user search and each user's groups and application roles), the advanced
// sync rules both connectors take (`[{"query": "<CQL or JQL>"}]`), and the configuration fields
// their forms share (data_source, the site URL's form, project or space keys, retry_count,
// concurrent_downloads, use_document_level_security, ssl_ca).
//
// Elastic's connectors share the same parts (connectors/sources/atlassian/utils.py,
// validator.py). Credentials are never handled here: the host injects them into requests to
// the origins the operator bound them to.
package atlassian
