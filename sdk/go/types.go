// Package inlet writes Inlet connectors in Go.
//
// A connector is a value implementing [Connector], registered with [Register] from an init
// function. Build it with sdk/go/build.sh (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared,
// then wasm-tools component embed + component new --adapt) into a WASI 0.2 component that exports
// inlet:connector/source@0.1.0.
//
//	package main
//
//	import inlet "inlet.dev/sdk"
//
//	type Hello struct{ inlet.Base }
//
//	func (Hello) Metadata() inlet.Metadata { return inlet.NewMetadata("hello", "Hello", "0.1.0") }
//	func (Hello) Configuration() []inlet.ConfigField {
//		return []inlet.ConfigField{inlet.Field("greeting", "Greeting").Default("hi")}
//	}
//	func (Hello) FullSync(req inlet.SyncRequest) (inlet.DocStream, error) {
//		g, err := req.Config.Str("greeting")
//		if err != nil {
//			return nil, err
//		}
//		return inlet.FromSlice([]inlet.Document{inlet.Index("1", map[string]any{"text": g})}), nil
//	}
//
//	func init() { inlet.Register(Hello{}) }
//	func main()  {}
//
// The host pulls one batch at a time through the sync resource's next-batch, so a connector
// fetches its next page from the source only when the host is ready for it.
package inlet

// Metadata is what the connector is: service type, display name, version and features.
type Metadata struct {
	ServiceType string
	Name        string
	Version     string
	Features    Features
}

// Features are written to the connector document as `features`.
type Features struct {
	IncrementalSync       bool
	DocumentLevelSecurity bool
	AdvancedRules         bool
	BasicRules            bool
}

// NewMetadata returns metadata with basic (include/exclude) rules on; the SDK also turns on
// IncrementalSync, DocumentLevelSecurity and AdvancedRules when the connector implements
// [IncrementalSyncer], [AccessControlSyncer] or [AdvancedRulesValidator].
func NewMetadata(serviceType, name, version string) Metadata {
	return Metadata{ServiceType: serviceType, Name: name, Version: version, Features: Features{BasicRules: true}}
}

// Operation says whether a document is indexed or deleted.
type Operation uint8

const (
	OpIndex Operation = iota
	OpDelete
)

// RulesValidation is the result of checking advanced sync rules.
type RulesValidation struct {
	Valid    bool
	Messages []string
}

// SyncRequest is what a sync starts from.
type SyncRequest struct {
	// Config holds the configuration values, defaults from the schema filled in.
	Config Config
	// AdvancedRules is the active advanced rules' JSON text, or "" when there are none.
	AdvancedRules string
	// Cursor is the cursor a previous sync returned (incremental syncs only); HasCursor says
	// whether there was one.
	Cursor    string
	HasCursor bool
}

// Connector is what every connector implements. Embed [Base] for default ValidateConfig and
// Ping. Optional capabilities are separate interfaces: [IncrementalSyncer],
// [AccessControlSyncer], [AdvancedRulesValidator].
type Connector interface {
	// Metadata: static facts. Must not touch the network.
	Metadata() Metadata
	// Configuration: the form, in Elastic's Rich Configurable Fields shape. Fields with Order 0
	// are numbered in the order given.
	Configuration() []ConfigField
	// ValidateConfig checks values beyond what the schema says.
	ValidateConfig(cfg Config) error
	// Ping checks that the source is reachable with this configuration.
	Ping(cfg Config) error
	// FullSync returns every document of the source, as a stream the host pulls batch by batch.
	FullSync(req SyncRequest) (DocStream, error)
}

// IncrementalSyncer is implemented by connectors that can sync what changed since a cursor.
type IncrementalSyncer interface {
	IncrementalSync(req SyncRequest) (DocStream, error)
}

// AccessControlSyncer is implemented by connectors with document-level security.
type AccessControlSyncer interface {
	AccessControlSync(req SyncRequest) (DocStream, error)
}

// AdvancedRulesValidator is implemented by connectors that support advanced sync rules.
type AdvancedRulesValidator interface {
	ValidateAdvancedRules(cfg Config, rules string) (RulesValidation, error)
}

// Base gives a connector default ValidateConfig and Ping that accept everything.
type Base struct{}

// ValidateConfig accepts any configuration.
func (Base) ValidateConfig(Config) error { return nil }

// Ping reports the source reachable.
func (Base) Ping(Config) error { return nil }

var registered Connector

// Register makes c the connector this component exports. Call it once, from an init function.
func Register(c Connector) {
	if registered != nil {
		panic("inlet: Register called twice")
	}
	registered = c
}
