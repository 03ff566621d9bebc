// __NAME__: an Inlet connector.
package main

import (
	"fmt"

	inlet "inlet.dev/sdk"
)

type connector struct{ inlet.Base }

func (connector) Metadata() inlet.Metadata {
	return inlet.NewMetadata("__SERVICE_TYPE__", "__NAME__", "0.1.0")
}

func (connector) Configuration() []inlet.ConfigField {
	return []inlet.ConfigField{
		inlet.Field("greeting", "Greeting").Default("Hello"),
		inlet.Field("count", "Number of documents").Int().Default(3),
	}
}

func (connector) ValidateConfig(cfg inlet.Config) error {
	if n, err := cfg.Int("count"); err != nil {
		return err
	} else if n < 0 {
		return inlet.ConfigError("count must not be negative")
	}
	return nil
}

func (connector) FullSync(req inlet.SyncRequest) (inlet.DocStream, error) {
	greeting, err := req.Config.Str("greeting")
	if err != nil {
		return nil, err
	}
	count, err := req.Config.Int("count")
	if err != nil {
		return nil, err
	}
	// The generator runs only while the host asks for a batch: fetch pages lazily here.
	return inlet.Generate(0, func(e *inlet.Emitter) error {
		for i := range count {
			doc := inlet.Index(fmt.Sprintf("doc-%d", i), map[string]any{"title": fmt.Sprintf("%s %d", greeting, i)})
			if !e.Emit(doc) {
				return nil
			}
		}
		return nil
	}), nil
}

func init() { inlet.Register(connector{}) }

func main() {}
