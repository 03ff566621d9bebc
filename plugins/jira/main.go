// Command jira is the Jira connector (Elastic service type `jira`): projects, issues and
// attachments from Jira Cloud, Server or Data Center through the REST API v2, with incremental
// syncs by JQL `updated`, advanced sync rules (JQL queries) and, on Cloud, document-level
// security with access-control syncs (dls.go). The REST client, the identities, the rule
// parsing and the connection settings are plugins/shared/atlassian, shared with the Confluence
// connector.
//
// Credentials are not configuration fields here: the operator puts them in config.yml
// `credentials:` (HTTP Basic: Cloud account email + API token, or Server/Data Center user +
// password; or a bearer personal access token) bound to the Jira origin, and the host injects
// them into every request. The plugin never sees a secret.
package main

import (
	"encoding/json"
	"time"
	// Jira evaluates JQL dates in the account's time zone, which the connector reads from
	// /myself: a component has no system zone database, so it carries Go's (~450 KB).
	_ "time/tzdata"

	"inlet.dev/plugins/shared/atlassian"
	inlet "inlet.dev/sdk"
)

const (
	cloud      = "jira_cloud"
	server     = "jira_server"
	dataCenter = "jira_data_center"

	// Elastic's MAX_CONCURRENT_DOWNLOADS ("max concurrent download supported by jira").
	maxConcurrentDownloads = 100
)

// product tells the configuration fields Jira shares with Confluence (plugins/shared/atlassian)
// apart.
var product = atlassian.Product{Cloud: cloud, Server: server, DataCenter: dataCenter, MaxDownloads: maxConcurrentDownloads}

type jira struct{ inlet.Base }

func (jira) Metadata() inlet.Metadata {
	return inlet.NewMetadata("jira", "Jira", "0.1.0")
}

// Configuration follows Elastic's form (same keys, labels, types, defaults, tooltips and order
// numbers), minus the credential fields (orders 2–9), which the operator configures in
// config.yml.
func (jira) Configuration() []inlet.ConfigField {
	return []inlet.ConfigField{
		inlet.Field("data_source", "Jira data source").Dropdown(
			inlet.Option("Jira Cloud", cloud),
			inlet.Option("Jira Server", server),
			inlet.Option("Jira Data Center", dataCenter),
		).Default(cloud).Position(1),
		inlet.Field("jira_url", "Jira host url").Position(10),
		inlet.Field("projects", "Jira project keys").List().Position(11).
			Help("This configurable field is ignored when Advanced Sync Rules are used."),
		inlet.Field("ssl_enabled", "Enable SSL").Toggle().Default(false).Position(12),
		inlet.Field("ssl_ca", "SSL certificate").ShownWhen("ssl_enabled", true).Position(13),
		inlet.Field("retry_count", "Retries for failed requests").Int().Default(3).Optional().Advanced().Position(14),
		inlet.Field("concurrent_downloads", "Maximum concurrent downloads").Int().Default(maxConcurrentDownloads).
			Optional().Advanced().LessThan(maxConcurrentDownloads + 1).Position(15),
		inlet.Field("use_document_level_security", "Enable document level security").Toggle().Default(false).Position(16).
			Help("Document level security ensures identities and permissions set in Jira are maintained in Elasticsearch. This enables you to restrict and personalize read-access users and groups have to documents in this index. Access control syncs ensure this metadata is kept up to date in your Elasticsearch documents. Only 1000 users can be fetched for Jira Data Center."),
		inlet.Field("use_text_extraction_service", "Use text extraction service").Toggle().Default(false).Advanced().Position(17).
			Help("Requires a separate deployment of the Elastic Text Extraction Service. Requires that pipeline settings disable text extraction."),
	}
}

// settings is the configuration, read and checked once per call.
type settings struct {
	dataSource  string
	baseURL     string // jira_url without a trailing slash
	projects    []string
	allProjects bool
	retries     int
	downloads   int // concurrent_downloads: issues' requests and files sent together
	dls         bool
}

func readSettings(cfg inlet.Config) (*settings, error) {
	s := &settings{}
	var err error
	if s.dataSource, err = product.ReadDataSource(cfg); err != nil {
		return nil, err
	}
	u, err := cfg.Str("jira_url")
	if err != nil {
		return nil, err
	}
	var ok bool
	if s.baseURL, ok = atlassian.TrimURL(u); !ok {
		return nil, inlet.Errorf(inlet.KindConfig, "jira_url %q must start with https:// (or http://)", u)
	}
	projects, err := cfg.List("projects")
	if err != nil {
		return nil, err
	}
	// `*` means every project. An empty list is a config error: Elastic requires the field.
	s.projects, s.allProjects = atlassian.Keys(projects)
	limits, err := product.ReadLimits(cfg, s.dataSource)
	if err != nil {
		return nil, err
	}
	s.retries, s.downloads, s.dls = limits.Retries, limits.Downloads, limits.DLS
	return s, nil
}

func (s *settings) client() *atlassian.Client { return atlassian.NewClient(s.baseURL, s.retries) }

func (jira) ValidateConfig(cfg inlet.Config) error {
	s, err := readSettings(cfg)
	if err != nil {
		return err
	}
	if !s.allProjects && len(s.projects) == 0 {
		return inlet.ConfigError("projects: list the project keys to sync, or * for every project")
	}
	atlassian.WarnUnusedCA(cfg)
	return nil
}

// myself is the answer of /rest/api/2/myself.
type myself struct {
	TimeZone string `json:"timeZone"`
}

// Ping asks who the credential is (Elastic's `rest/api/2/myself`): it proves the origin is
// granted, the credential accepted, and the URL a Jira.
func (jira) Ping(cfg inlet.Config) error {
	s, err := readSettings(cfg)
	if err != nil {
		return err
	}
	var me myself
	return s.client().GetJSON(s.baseURL+"/rest/api/2/myself", &me)
}

func (jira) FullSync(req inlet.SyncRequest) (inlet.DocStream, error) {
	return start(req, false)
}

// IncrementalSync fetches the issues updated since the cursor (JQL `updated`), with their
// attachments (with advanced rules: what each rule finds that changed). Deletions are not
// visible to JQL: the next full sync removes them.
func (jira) IncrementalSync(req inlet.SyncRequest) (inlet.DocStream, error) {
	return start(req, true)
}

func start(req inlet.SyncRequest, incremental bool) (inlet.DocStream, error) {
	s, err := readSettings(req.Config)
	if err != nil {
		return nil, err
	}
	rules, err := atlassian.ReadQueryRules(req.AdvancedRules, "JQL")
	if err != nil {
		return nil, err
	}
	if len(rules) == 0 && !s.allProjects && len(s.projects) == 0 {
		return nil, inlet.ConfigError("projects: list the project keys to sync, or * for every project")
	}
	var since time.Time
	if incremental && req.HasCursor {
		if since, err = parseCursor(req.Cursor); err != nil {
			return nil, err
		}
	}
	return newSync(s, since, rules).stream(), nil
}

// ValidateAdvancedRules checks the rules' shape, as Elastic's validator does (a JSON schema: an
// array of objects with a non-empty string `query` and no other key). The JQL itself is
// Jira's to judge: a query it cannot parse fails the sync with Jira's message.
func (jira) ValidateAdvancedRules(_ inlet.Config, rules string) (inlet.RulesValidation, error) {
	return atlassian.ValidateQueryRules(rules, "JQL"), nil
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

func init() { inlet.Register(jira{}) }

func main() {}
