// Command test-go-gc is a test plugin for the Go SDK's cabi_realloc: the host must be able to
// hand it large arguments (a configuration value and advanced rules of hundreds of kB, a large
// cursor) and large import results (state values of 64 KiB, the host's limit) while the Go heap
// is under GC pressure. While the host runs cabi_realloc the component may not call an import,
// and a Go GC cycle reads the clock through one: an allocation there that starts (or assists)
// a GC traps with "cannot leave component instance". So every call here leaves garbage and
// live memory behind, to keep the heap near its GC trigger (or mid-cycle) when control goes
// back to the host, and checks that what it received arrived intact.
package main

import (
	"fmt"
	"strings"

	inlet "inlet.dev/sdk"
)

type gcPressure struct{ inlet.Base }

func (gcPressure) Metadata() inlet.Metadata {
	return inlet.NewMetadata("go_gc", "Go GC pressure (test plugin)", "0.0.0")
}

func (gcPressure) Configuration() []inlet.ConfigField {
	return []inlet.ConfigField{
		inlet.Field("blob", "A large value").Textarea().Optional().Default(""),
		inlet.Field("blob_bytes", "Expected length of blob").Int().Default(0),
		inlet.Field("rounds", "state.get calls per sync").Int().Default(200),
		inlet.Field("cursor_bytes", "Length of the cursor a full sync leaves").Int().Default(0),
	}
}

// live keeps a few MB reachable across calls, so that GC cycles have marking to do (and take
// a while), and churn makes garbage, so that they come often.
var (
	live  [][]byte
	round int
)

func churn(n int) {
	for range n {
		b := make([]byte, 4096+round%8192)
		b[0] = byte(round)
		round++
		if round%16 == 0 {
			live = append(live, b)
			if len(live) > 1024 {
				live = live[512:]
			}
		}
	}
}

// pattern is the content of blob and cursor values: a checkable, non-constant text.
func pattern(n int) string {
	var b strings.Builder
	b.Grow(n)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%08d,", i)
	}
	return b.String()[:n]
}

func checkBlob(cfg inlet.Config) error {
	churn(64)
	want, err := cfg.Int("blob_bytes")
	if err != nil {
		return err
	}
	blob, err := cfg.Str("blob")
	if err != nil {
		return err
	}
	if len(blob) != int(want) || blob != pattern(int(want)) {
		return inlet.ConfigError(fmt.Sprintf("blob arrived damaged: %d bytes, want %d", len(blob), want))
	}
	return nil
}

func (gcPressure) ValidateConfig(cfg inlet.Config) error { return checkBlob(cfg) }
func (gcPressure) Ping(cfg inlet.Config) error           { return checkBlob(cfg) }

// Advanced rules: {"rules": "<pattern>"}; a valid set has an intact pattern.
func (gcPressure) ValidateAdvancedRules(cfg inlet.Config, rules string) (inlet.RulesValidation, error) {
	churn(64)
	if err := checkRules(rules); err != nil {
		return inlet.RulesValidation{Valid: false, Messages: []string{err.Error()}}, nil
	}
	return inlet.RulesValidation{Valid: true}, nil
}

func checkRules(rules string) error {
	if rules == "" {
		return nil
	}
	const prefix, suffix = `{"rules":"`, `"}`
	body, ok := strings.CutPrefix(rules, prefix)
	if ok {
		body, ok = strings.CutSuffix(body, suffix)
	}
	if !ok || body != pattern(len(body)) {
		return fmt.Errorf("advanced rules arrived damaged (%d bytes)", len(rules))
	}
	return nil
}

func (g gcPressure) FullSync(req inlet.SyncRequest) (inlet.DocStream, error) {
	return g.sync(req, "full")
}

func (g gcPressure) IncrementalSync(req inlet.SyncRequest) (inlet.DocStream, error) {
	if !req.HasCursor || req.Cursor != pattern(len(req.Cursor)) {
		return nil, inlet.SourceError(fmt.Sprintf("cursor arrived damaged or missing (%d bytes)", len(req.Cursor)))
	}
	return g.sync(req, "incremental")
}

// sync writes a 64 KiB state value, then reads it back rounds times, one document per read,
// with garbage in between; the host asks for one document per batch, so every read is in a
// separate next-batch call too.
func (gcPressure) sync(req inlet.SyncRequest, kind string) (inlet.DocStream, error) {
	if err := checkBlob(req.Config); err != nil {
		return nil, err
	}
	if err := checkRules(req.AdvancedRules); err != nil {
		return nil, inlet.ConfigError(err.Error())
	}
	rounds, err := req.Config.Int("rounds")
	if err != nil {
		return nil, err
	}
	cursorBytes, err := req.Config.Int("cursor_bytes")
	if err != nil {
		return nil, err
	}
	value := pattern(64 << 10)
	if err := inlet.State.Set("blob", value); err != nil {
		return nil, err
	}
	return inlet.Generate(1, func(e *inlet.Emitter) error {
		for i := range int(rounds) {
			churn(16)
			got, ok := inlet.State.Get("blob")
			if !ok || got != value {
				return inlet.InternalError(fmt.Sprintf("state value arrived damaged (%d bytes)", len(got)))
			}
			doc := map[string]any{"n": i, "kind": kind, "state_bytes": len(got)}
			if !e.Emit(inlet.Index(fmt.Sprintf("%s-%d", kind, i), doc)) {
				return nil
			}
		}
		e.SetCursor(pattern(int(cursorBytes)))
		return nil
	}), nil
}

func init() { inlet.Register(gcPressure{}) }
func main() {}
