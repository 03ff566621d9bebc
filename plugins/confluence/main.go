// Command confluence is the Confluence connector (Elastic service type `confluence`): spaces,
// pages, blog posts and attachments from Confluence Cloud, Server or Data Center through the
// REST API v1, with incremental syncs by CQL `lastmodified`, advanced sync rules (CQL queries,
// rules.go), and (Cloud) document-level security with access-control syncs (dls.go). The REST
// client, the identities and the connection settings are plugins/shared/atlassian, shared with
// the Jira connector.
//
// Credentials are not configuration fields here: the operator puts them in config.yml
// `credentials:` (HTTP Basic: Cloud account email + API token, or Server/Data Center user +
// password; or a bearer personal access token) bound to the Confluence origin, and the host
// injects them into every request. The plugin never sees a secret.
package main

import (
	"encoding/json"
	"strings"
	"time"

	"inlet.dev/plugins/shared/atlassian"
	inlet "inlet.dev/sdk"
)

const (
	cloud      = "confluence_cloud"
	server     = "confluence_server"
	dataCenter = "confluence_data_center"

	maxConcurrentDownloads = 50
)

// product tells the configuration fields Confluence shares with Jira (plugins/shared/atlassian)
// apart.
var product = atlassian.Product{Cloud: cloud, Server: server, DataCenter: dataCenter, MaxDownloads: maxConcurrentDownloads}

type confluence struct{ inlet.Base }

func (confluence) Metadata() inlet.Metadata {
	return inlet.NewMetadata("confluence", "Confluence", "0.1.0")
}

// Configuration follows Elastic's form (same keys, labels, types, defaults and order numbers),
// minus the credential fields (orders 2–9), which the operator configures in config.yml.
func (confluence) Configuration() []inlet.ConfigField {
	return []inlet.ConfigField{
		inlet.Field("data_source", "Confluence data source").Dropdown(
			inlet.Option("Confluence Cloud", cloud),
			inlet.Option("Confluence Server", server),
			inlet.Option("Confluence Data Center", dataCenter),
		).Default(server).Position(1),
		inlet.Field("confluence_url", "Confluence URL").Position(10),
		inlet.Field("spaces", "Confluence space keys").List().DefaultJSON(`["*"]`).Position(11).
			Help("This configurable field is ignored when Advanced Sync Rules are used."),
		inlet.Field("index_labels", "Enable indexing labels").Toggle().Default(false).Position(12).
			Help("Enabling this will increase the amount of network calls to the source, and may decrease performance"),
		inlet.Field("ssl_enabled", "Enable SSL").Toggle().Default(false).Position(13),
		inlet.Field("ssl_ca", "SSL certificate").Optional().ShownWhen("ssl_enabled", true).Position(14),
		inlet.Field("retry_count", "Retries per request").Int().Default(3).Optional().Advanced().Position(15),
		inlet.Field("concurrent_downloads", "Maximum concurrent downloads").Int().Default(maxConcurrentDownloads).
			Optional().Advanced().LessThan(maxConcurrentDownloads + 1).Position(16),
		inlet.Field("use_document_level_security", "Enable document level security").Toggle().Default(false).Position(17).
			Help("Document level security ensures identities and permissions set in confluence are maintained in Elasticsearch. This enables you to restrict and personalize read-access users have to documents in this index. Access control syncs ensure this metadata is kept up to date in your Elasticsearch documents."),
		inlet.Field("use_text_extraction_service", "Use text extraction service").Toggle().Default(false).Advanced().Position(18).
			Help("Requires a separate deployment of the Elastic Text Extraction Service. Requires that pipeline settings disable text extraction."),
	}
}

// settings is the configuration, read and checked once per call.
type settings struct {
	dataSource     string
	baseURL        string // confluence_url, plus /wiki on Cloud (where the REST API lives)
	siteURL        string // confluence_url without /wiki: Atlassian's user API lives there
	spaces         []string
	allSpaces      bool
	indexLabels    bool
	retries        int
	downloads      int  // concurrent_downloads: attachment requests sent together
	downloadBodies bool // download attachment bodies into _attachment
	dls            bool // use_document_level_security
}

func readSettings(cfg inlet.Config) (*settings, error) {
	s := &settings{downloadBodies: true}
	var err error
	if s.dataSource, err = product.ReadDataSource(cfg); err != nil {
		return nil, err
	}
	if s.baseURL, err = readURL(cfg); err != nil {
		return nil, err
	}
	s.siteURL = strings.TrimSuffix(s.baseURL, "/wiki")
	if s.dataSource == cloud && !strings.HasSuffix(s.baseURL, "/wiki") {
		s.baseURL += "/wiki"
	}
	if s.spaces, err = cfg.List("spaces"); err != nil {
		return nil, err
	}
	// An empty list, like a `*`, means every space.
	s.spaces, s.allSpaces = atlassian.Keys(s.spaces)
	s.allSpaces = s.allSpaces || len(s.spaces) == 0
	if s.indexLabels, err = cfg.Bool("index_labels"); err != nil {
		return nil, err
	}
	limits, err := product.ReadLimits(cfg, s.dataSource)
	if err != nil {
		return nil, err
	}
	s.retries, s.downloads, s.dls = limits.Retries, limits.Downloads, limits.DLS
	return s, nil
}

func readURL(cfg inlet.Config) (string, error) {
	u, err := cfg.Str("confluence_url")
	if err != nil {
		return "", err
	}
	u, ok := atlassian.TrimURL(u)
	if !ok {
		return "", inlet.Errorf(inlet.KindConfig, "confluence_url %q must start with https:// (or http://)", u)
	}
	return u, nil
}

func (confluence) ValidateConfig(cfg inlet.Config) error {
	if _, err := readSettings(cfg); err != nil {
		return err
	}
	atlassian.WarnUnusedCA(cfg)
	return nil
}

// Ping asks for one space, as Elastic's connector does: it proves the origin is granted, the
// credential is accepted, and the URL is a Confluence.
func (confluence) Ping(cfg inlet.Config) error {
	s, err := readSettings(cfg)
	if err != nil {
		return err
	}
	var page listPage[space]
	return newClient(s).GetJSON(s.baseURL+"/rest/api/space?limit=1", &page)
}

func (confluence) FullSync(req inlet.SyncRequest) (inlet.DocStream, error) {
	s, err := readSettings(req.Config)
	if err != nil {
		return nil, err
	}
	rules, err := readRules(req.AdvancedRules)
	if err != nil {
		return nil, err
	}
	return newSync(s, time.Time{}, rules).stream(), nil
}

// IncrementalSync fetches the content changed since the cursor (CQL `lastmodified`), with its
// attachments (with advanced rules: what each rule finds that changed). Deletions are not visible to CQL: the next full sync removes them.
func (confluence) IncrementalSync(req inlet.SyncRequest) (inlet.DocStream, error) {
	s, err := readSettings(req.Config)
	if err != nil {
		return nil, err
	}
	rules, err := readRules(req.AdvancedRules)
	if err != nil {
		return nil, err
	}
	var since time.Time
	if req.HasCursor {
		if since, err = parseCursor(req.Cursor); err != nil {
			return nil, err
		}
	}
	return newSync(s, since, rules).stream(), nil
}

// The cursor is the time the previous sync started, so nothing changed during it is missed.
type cursor struct {
	Since time.Time `json:"since"`
}

func parseCursor(text string) (time.Time, error) {
	var c cursor
	if err := json.Unmarshal([]byte(text), &c); err != nil || c.Since.IsZero() {
		return time.Time{}, inlet.Errorf(inlet.KindInternal, "unreadable cursor %q (run a full sync to reset it)", text)
	}
	return c.Since, nil
}

func formatCursor(t time.Time) string {
	b, _ := json.Marshal(cursor{Since: t.UTC().Truncate(time.Second)})
	return string(b)
}

// cqlTime is CQL's date format. Confluence compares at minute precision (in the account's time
// zone; use a UTC account for the connector), and the minute is truncated, so `>=` re-reads at
// most one minute of content rather than missing any.
func cqlTime(t time.Time) string { return t.UTC().Format("2006/01/02 15:04") }

func init() { inlet.Register(confluence{}) }

func main() {}
