// Command azure_blob_storage is the Azure Blob Storage connector (Elastic service type
// `azure_blob_storage`): one document per blob of the configured containers, through the Blob
// service's REST API (List Containers, List Blobs, Get Blob), with Elastic's `_id`s and fields.
//
// The plugin never signs a request and never sees the account key: the host signs every request
// with Shared Key (an `azure_shared_key` credential, from config.yml `credentials:` or from the
// form's `account_key`, see plugin.toml).
package main

import (
	"encoding/json"
	"strings"
	"time"

	inlet "inlet.dev/sdk"
)

const (
	// Elastic's DEFAULT_RETRY_COUNT and MAX_CONCURRENT_DOWNLOADS.
	defaultRetries   = 3
	maxDownloads     = 100
	defaultPageSize  = 5000 // List Blobs' maximum `maxresults`, and the service's default
	maxDownloadBytes = 10 << 20
)

type azureBlobStorage struct{ inlet.Base }

func (azureBlobStorage) Metadata() inlet.Metadata {
	return inlet.NewMetadata("azure_blob_storage", "Azure Blob Storage", "0.1.0")
}

// Configuration is Elastic's form (same keys, labels, types, defaults, tooltips and order
// numbers), except that `account_key` is optional and sensitive (it forms the host's
// credential, or is left empty for a config.yml one), plus Inlet's `page_size`.
func (azureBlobStorage) Configuration() []inlet.ConfigField {
	return []inlet.ConfigField{
		inlet.Field("account_name", "Azure Blob Storage account name").Position(1),
		inlet.Field("account_key", "Azure Blob Storage account key").Secret().Optional().Position(2),
		inlet.Field("blob_endpoint", "Azure Blob Storage blob endpoint").Position(3),
		inlet.Field("containers", "Azure Blob Storage containers").List().Position(4),
		inlet.Field("retry_count", "Retries per request").Int().Default(defaultRetries).Optional().Advanced().Position(5),
		inlet.Field("concurrent_downloads", "Maximum concurrent downloads").Int().Default(maxDownloads).
			Optional().Advanced().LessThan(maxDownloads + 1).Position(6),
		inlet.Field("use_text_extraction_service", "Use text extraction service").Toggle().Default(false).Advanced().Position(7).
			Help("Requires a separate deployment of the Elastic Text Extraction Service. Requires that pipeline settings disable text extraction."),
		inlet.Field("page_size", "Blobs per listing page").Int().Default(defaultPageSize).Optional().Advanced().
			GreaterThan(0).LessThan(defaultPageSize + 1).Position(8).
			Help("Inlet: List Blobs' maxresults (Azure answers at most 5000)."),
	}
}

// settings is the configuration, read and checked once per call.
type settings struct {
	endpoint      string // blob_endpoint without a trailing slash
	containers    []string
	allContainers bool
	retries       int
	downloads     int
	pageSize      int
	sizeLimit     bool // false with use_text_extraction_service, as in Elastic
}

func readSettings(cfg inlet.Config) (*settings, error) {
	s := &settings{}
	endpoint, err := cfg.Str("blob_endpoint")
	if err != nil {
		return nil, err
	}
	endpoint = strings.TrimRight(strings.TrimSpace(endpoint), "/")
	if !strings.HasPrefix(endpoint, "https://") && !strings.HasPrefix(endpoint, "http://") {
		return nil, inlet.Errorf(inlet.KindConfig, "blob_endpoint %q must be a URL such as https://<account>.blob.core.windows.net", endpoint)
	}
	if strings.ContainsAny(endpoint, "?#") {
		return nil, inlet.Errorf(inlet.KindConfig, "blob_endpoint %q: give the endpoint without a query (the host signs requests; no SAS token is needed)", endpoint)
	}
	s.endpoint = endpoint
	containers, err := cfg.List("containers")
	if err != nil {
		return nil, err
	}
	for _, c := range containers {
		c = strings.TrimSpace(c)
		switch {
		case c == "*":
			s.allContainers = true
		case c != "":
			s.containers = append(s.containers, c)
		}
	}
	if !s.allContainers && len(s.containers) == 0 {
		return nil, inlet.ConfigError("containers: list the containers to sync, or * for every container of the account")
	}
	ints := []struct {
		key      string
		low, top int64
		into     *int
	}{
		{"retry_count", 0, 100, &s.retries},
		{"concurrent_downloads", 1, maxDownloads, &s.downloads},
		{"page_size", 1, defaultPageSize, &s.pageSize},
	}
	for _, f := range ints {
		v, err := cfg.Int(f.key)
		if err != nil {
			return nil, err
		}
		if v < f.low || v > f.top {
			return nil, inlet.Errorf(inlet.KindConfig, "%s: %d is out of range (%d to %d)", f.key, v, f.low, f.top)
		}
		*f.into = int(v)
	}
	extraction, err := cfg.Bool("use_text_extraction_service")
	if err != nil {
		return nil, err
	}
	s.sizeLimit = !extraction
	if _, err := cfg.Str("account_name"); err != nil {
		return nil, err
	}
	return s, nil
}

func (azureBlobStorage) ValidateConfig(cfg inlet.Config) error {
	_, err := readSettings(cfg)
	return err
}

// Ping asks for the account's information (Elastic's `get_account_information`): it proves the
// origin is granted, the signature accepted, and the endpoint a Blob service.
func (azureBlobStorage) Ping(cfg inlet.Config) error {
	s, err := readSettings(cfg)
	if err != nil {
		return err
	}
	_, err = newClient(s).get(s.endpoint+"/?restype=account&comp=properties", "the account's information")
	return err
}

func (azureBlobStorage) FullSync(req inlet.SyncRequest) (inlet.DocStream, error) {
	return start(req, false)
}

// IncrementalSync is Elastic's for this source: its framework lists every blob again and
// indexes only those whose `_timestamp` (Last-Modified) changed, deleting nothing. Here the
// cursor holds the service's clock at the start of the previous sync, and blobs modified since
// then are indexed (with their contents); deletions wait for the next full sync.
func (azureBlobStorage) IncrementalSync(req inlet.SyncRequest) (inlet.DocStream, error) {
	return start(req, true)
}

func start(req inlet.SyncRequest, incremental bool) (inlet.DocStream, error) {
	s, err := readSettings(req.Config)
	if err != nil {
		return nil, err
	}
	var since time.Time
	if incremental && req.HasCursor {
		if since, err = parseCursor(req.Cursor); err != nil {
			return nil, err
		}
	}
	return newSync(s, newClient(s), since).stream(), nil
}

// The cursor: the service's `Date` when the previous sync started.
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
	b, _ := json.Marshal(cursor{Since: t.UTC()})
	return string(b)
}

func init() { inlet.Register(azureBlobStorage{}) }

func main() {}
