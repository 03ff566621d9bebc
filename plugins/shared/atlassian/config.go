package atlassian

import (
	"strings"

	inlet "inlet.dev/sdk"
)

// Product is what sets the connectors' shared configuration fields apart: the values of
// data_source and the bound of concurrent_downloads. The service-specific fields (the URL's
// key, projects or spaces, labels) stay with each connector.
type Product struct {
	// Cloud, Server and DataCenter are data_source's values, e.g. jira_cloud.
	Cloud, Server, DataCenter string
	// MaxDownloads is concurrent_downloads' upper bound (Elastic's MAX_CONCURRENT_DOWNLOADS).
	MaxDownloads int
}

// ReadDataSource reads data_source: one of the product's three values.
func (p Product) ReadDataSource(cfg inlet.Config) (string, error) {
	source, err := cfg.Str("data_source")
	if err != nil {
		return "", err
	}
	switch source {
	case p.Cloud, p.Server, p.DataCenter:
		return source, nil
	}
	return "", inlet.Errorf(inlet.KindConfig, "data_source %q: expected %s, %s or %s", source, p.Cloud, p.Server, p.DataCenter)
}

// Limits are the fields that end both connectors' forms.
type Limits struct {
	Retries   int  // retry_count: 0 to 100
	Downloads int  // concurrent_downloads: 1 to Product.MaxDownloads
	DLS       bool // use_document_level_security: Cloud only
}

// ReadLimits reads retry_count, concurrent_downloads and use_document_level_security, in that
// order, for a connector whose data_source is source.
func (p Product) ReadLimits(cfg inlet.Config, source string) (Limits, error) {
	retries, err := cfg.Int("retry_count")
	if err != nil {
		return Limits{}, err
	}
	if retries < 0 || retries > 100 {
		return Limits{}, inlet.Errorf(inlet.KindConfig, "retry_count %d: expected 0 to 100", retries)
	}
	downloads, err := cfg.Int("concurrent_downloads")
	if err != nil {
		return Limits{}, err
	}
	if downloads < 1 || downloads > int64(p.MaxDownloads) {
		return Limits{}, inlet.Errorf(inlet.KindConfig, "concurrent_downloads %d: expected 1 to %d", downloads, p.MaxDownloads)
	}
	dls, err := cfg.Bool("use_document_level_security")
	if err != nil {
		return Limits{}, err
	}
	if dls && source != p.Cloud {
		return Limits{}, p.unsupportedDLS(source)
	}
	return Limits{Retries: int(retries), Downloads: int(downloads), DLS: dls}, nil
}

// unsupportedDLS refuses DLS on Server / Data Center rather than index documents whose ACL no
// user could match: the identity documents (Identities) are Atlassian Cloud's. Elastic's
// Confluence connector, for one, gives that content `user:<name>` / `group:<name>` values (and
// reads space permissions from the third-party Extender app), but its identity documents there
// hold only `account_id:`, `name:` and `email_address:` values: a search by any user would see
// none of the restricted content, and no group at all.
func (p Product) unsupportedDLS(source string) error {
	return inlet.Errorf(inlet.KindConfig, "use_document_level_security: document-level security is supported on %s only, not %s; turn it off", p.Cloud, source)
}

// TrimURL is a configured site URL without surrounding spaces and trailing slashes, and whether
// it is an http(s) URL (each connector names its own field when it is not).
func TrimURL(u string) (string, bool) {
	u = strings.TrimRight(strings.TrimSpace(u), "/")
	return u, strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")
}

// Keys trims and de-duplicates configured keys (projects, spaces), in their order; all is
// true, and keys nil, when one of them is `*` (Elastic's WILDCARD).
func Keys(in []string) (keys []string, all bool) {
	seen := map[string]bool{}
	for _, k := range in {
		k = strings.TrimSpace(k)
		if k == "*" {
			return nil, true
		}
		if k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys, false
}

// WarnUnusedCA warns when ssl_enabled is on with a certificate in ssl_ca. TLS is the host's: it
// verifies https origins against the system's CA certificates, and a plugin cannot add one.
// Say so rather than pretend the certificate is used.
func WarnUnusedCA(cfg inlet.Config) {
	if ssl, _ := cfg.Bool("ssl_enabled"); ssl {
		if ca, _ := cfg.Str("ssl_ca"); strings.TrimSpace(ca) != "" {
			inlet.Warnf("ssl_ca is not used: the host verifies TLS against the system's CA certificates; add this certificate to the host's trust store")
		}
	}
}
