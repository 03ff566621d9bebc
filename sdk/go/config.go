package inlet

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Config is the configuration of a connector: each value as JSON text, keyed by field key, with
// the schema's defaults filled in for keys that are missing or null.
type Config struct {
	values map[string]string
}

// NewConfig builds a Config from Go values (JSON-encoded), e.g. in tests.
func NewConfig(values map[string]any) Config {
	c := Config{values: map[string]string{}}
	for k, v := range values {
		c.values[k] = jsonText(v)
	}
	return c
}

func configFrom(pairs [][2]string, schema []ConfigField) Config {
	c := Config{values: make(map[string]string, len(pairs)+len(schema))}
	for _, kv := range pairs {
		c.values[kv[0]] = kv[1]
	}
	for _, f := range schema {
		if f.DefaultValue == nil {
			continue
		}
		v, ok := c.values[f.Key]
		t := strings.TrimSpace(v)
		if !ok || t == "null" || (f.Type != TypeStr && (t == "" || t == `""`)) {
			c.values[f.Key] = *f.DefaultValue
		}
	}
	return c
}

// Raw returns the JSON text of a value.
func (c Config) Raw(key string) (string, bool) {
	v, ok := c.values[key]
	return v, ok
}

// Keys lists the keys present.
func (c Config) Keys() []string {
	keys := make([]string, 0, len(c.values))
	for k := range c.values {
		keys = append(keys, k)
	}
	return keys
}

func missing(key string) *Error {
	return Errorf(KindConfig, "configuration field `%s` is missing", key)
}

// Decode unmarshals a value into v.
func (c Config) Decode(key string, v any) error {
	raw, ok := c.values[key]
	if !ok {
		return missing(key)
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return Errorf(KindConfig, "configuration field `%s`: %v", key, err)
	}
	return nil
}

// Str returns a string value; a non-string JSON value is returned as its JSON text, and text
// that is not JSON at all as itself.
func (c Config) Str(key string) (string, error) {
	raw, ok := c.values[key]
	if !ok {
		return "", missing(key)
	}
	var s string
	if json.Unmarshal([]byte(raw), &s) == nil {
		return s, nil
	}
	return raw, nil
}

// Int returns an integer value (a JSON number, or a string holding one).
func (c Config) Int(key string) (int64, error) {
	raw, ok := c.values[key]
	if !ok {
		return 0, missing(key)
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		v = raw
	}
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			return int64(x), nil
		}
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, Errorf(KindConfig, "configuration field `%s` must be an integer, not %s", key, raw)
}

// Bool returns a boolean value (true/false, or a string holding one); false when absent.
func (c Config) Bool(key string) (bool, error) {
	raw, ok := c.values[key]
	if !ok {
		return false, nil
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		v = raw
	}
	switch x := v.(type) {
	case bool:
		return x, nil
	case nil:
		return false, nil
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
			return b, nil
		}
	}
	return false, Errorf(KindConfig, "configuration field `%s` must be true or false, not %s", key, raw)
}

// List returns a list of strings: a JSON array (non-string items as JSON text) or a
// comma-separated string; empty when absent.
func (c Config) List(key string) ([]string, error) {
	raw, ok := c.values[key]
	if !ok {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		v = raw
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, item := range x {
			if s, ok := item.(string); ok {
				out = append(out, s)
			} else {
				out = append(out, jsonText(item))
			}
		}
		return out, nil
	case string:
		var out []string
		for _, part := range strings.Split(x, ",") {
			if p := strings.TrimSpace(part); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	}
	return nil, Errorf(KindConfig, "configuration field `%s` must be a list, not %s", key, raw)
}

// String shows the keys only (values may be secrets).
func (c Config) String() string {
	return fmt.Sprintf("Config%v", c.Keys())
}
