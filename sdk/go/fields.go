package inlet

import "encoding/json"

// FieldType is the value type of a configuration field.
type FieldType uint8

const (
	TypeStr FieldType = iota
	TypeInt
	TypeBool
	TypeList
)

// DisplayType is how Kibana renders a configuration field.
type DisplayType uint8

const (
	DisplayText DisplayType = iota
	DisplayTextarea
	DisplayNumeric
	DisplayToggle
	DisplayDropdown
)

// SelectOption is one choice of a dropdown; Value is JSON text.
type SelectOption struct{ Label, Value string }

// Dependency: the field is shown and validated only when Field has Value (JSON text).
type Dependency struct{ Field, Value string }

// Validation is one of Elastic's field validations; Constraint is JSON text.
type Validation struct{ Type, Constraint string }

// ConfigField is one field of the configuration form (Elastic's Rich Configurable Fields).
// Build one with [Field] and chain the methods below.
type ConfigField struct {
	Key            string
	Label          string
	Order          uint32
	Type           FieldType
	Display        DisplayType
	DefaultValue   *string // JSON text
	Required       bool
	Sensitive      bool
	Tooltip        *string
	DependsOn      []Dependency
	Validations    []Validation
	UIRestrictions []string
	Options        []SelectOption
}

// Field is a required text field. Chain Int, Toggle, List, Default, ... to change it.
func Field(key, label string) ConfigField {
	return ConfigField{Key: key, Label: label, Type: TypeStr, Display: DisplayText, Required: true}
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("inlet: value is not JSON-encodable: " + err.Error())
	}
	return string(b)
}

// Int makes an integer field, shown as a number input.
func (f ConfigField) Int() ConfigField { f.Type, f.Display = TypeInt, DisplayNumeric; return f }

// Toggle makes a boolean field, shown as a toggle.
func (f ConfigField) Toggle() ConfigField { f.Type, f.Display = TypeBool, DisplayToggle; return f }

// List makes a list field (comma-separated in Kibana).
func (f ConfigField) List() ConfigField { f.Type, f.Display = TypeList, DisplayTextarea; return f }

// Textarea shows a multi-line text input.
func (f ConfigField) Textarea() ConfigField { f.Display = DisplayTextarea; return f }

// Dropdown shows a dropdown; values are Go values, JSON-encoded.
func (f ConfigField) Dropdown(options ...SelectOption) ConfigField {
	f.Display, f.Options = DisplayDropdown, options
	return f
}

// Option is a dropdown choice with a Go value (JSON-encoded).
func Option(label string, value any) SelectOption {
	return SelectOption{Label: label, Value: jsonText(value)}
}

// Default sets the default (a Go value, JSON-encoded) and makes the field optional.
func (f ConfigField) Default(v any) ConfigField {
	s := jsonText(v)
	f.DefaultValue, f.Required = &s, false
	return f
}

// DefaultJSON sets the default as JSON text and makes the field optional.
func (f ConfigField) DefaultJSON(text string) ConfigField {
	f.DefaultValue, f.Required = &text, false
	return f
}

// Optional makes the field optional without a default.
func (f ConfigField) Optional() ConfigField { f.Required = false; return f }

// Secret makes the field sensitive: masked in every UI and log.
func (f ConfigField) Secret() ConfigField { f.Sensitive = true; return f }

// Help sets the tooltip.
func (f ConfigField) Help(text string) ConfigField { f.Tooltip = &text; return f }

// Position sets the order in the form (fields left at 0 are numbered in the order given).
func (f ConfigField) Position(n uint32) ConfigField { f.Order = n; return f }

// Advanced hides the field under Kibana's advanced settings.
func (f ConfigField) Advanced() ConfigField {
	f.UIRestrictions = append(f.UIRestrictions, "advanced")
	return f
}

// ShownWhen shows (and validates) the field only when field has value (a Go value,
// JSON-encoded): a depends_on entry.
func (f ConfigField) ShownWhen(field string, value any) ConfigField {
	f.DependsOn = append(f.DependsOn, Dependency{Field: field, Value: jsonText(value)})
	return f
}

// Validate adds an Elastic validation; constraint is a Go value, JSON-encoded.
func (f ConfigField) Validate(kind string, constraint any) ConfigField {
	f.Validations = append(f.Validations, Validation{Type: kind, Constraint: jsonText(constraint)})
	return f
}

// LessThan adds a less_than validation.
func (f ConfigField) LessThan(n int64) ConfigField { return f.Validate("less_than", n) }

// GreaterThan adds a greater_than validation.
func (f ConfigField) GreaterThan(n int64) ConfigField { return f.Validate("greater_than", n) }

// IncludedIn adds an included_in validation.
func (f ConfigField) IncludedIn(values ...any) ConfigField { return f.Validate("included_in", values) }

// Regex adds a regex validation.
func (f ConfigField) Regex(pattern string) ConfigField { return f.Validate("regex", pattern) }

// ListType adds a list_type validation ("str" or "int").
func (f ConfigField) ListType(t string) ConfigField { return f.Validate("list_type", t) }

// numbered returns the fields with order 0 replaced by their position (1-based).
func numbered(fields []ConfigField) []ConfigField {
	out := make([]ConfigField, len(fields))
	for i, f := range fields {
		if f.Order == 0 {
			f.Order = uint32(i + 1)
		}
		out[i] = f
	}
	return out
}
