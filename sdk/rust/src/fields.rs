//! Builders for configuration fields (Elastic's Rich Configurable Fields).

use crate::{ConfigField, Dependency, DisplayType, FieldType, SelectOption, Validation};

/// A required text field. Chain the methods below to change it.
pub fn field(key: &str, label: &str) -> ConfigField {
    ConfigField {
        key: key.into(),
        label: label.into(),
        order: 0,
        type_: FieldType::Str,
        display: DisplayType::Text,
        default_value: None,
        required: true,
        sensitive: false,
        tooltip: None,
        depends_on: Vec::new(),
        validations: Vec::new(),
        ui_restrictions: Vec::new(),
        options: Vec::new(),
    }
}

impl ConfigField {
    /// An integer field, shown as a number input.
    pub fn int(mut self) -> Self {
        self.type_ = FieldType::Int;
        self.display = DisplayType::Numeric;
        self
    }
    /// A boolean field, shown as a toggle.
    pub fn toggle(mut self) -> Self {
        self.type_ = FieldType::Bool;
        self.display = DisplayType::Toggle;
        self
    }
    /// A list field (comma-separated in Kibana).
    pub fn list(mut self) -> Self {
        self.type_ = FieldType::List;
        self.display = DisplayType::Textarea;
        self
    }
    /// A multi-line text field.
    pub fn textarea(mut self) -> Self {
        self.display = DisplayType::Textarea;
        self
    }
    /// A dropdown with `(label, value-as-JSON)` options.
    pub fn dropdown(mut self, options: &[(&str, &str)]) -> Self {
        self.display = DisplayType::Dropdown;
        self.options = options
            .iter()
            .map(|(label, value)| SelectOption {
                label: (*label).into(),
                value: (*value).into(),
            })
            .collect();
        self
    }
    /// The default value as JSON text (e.g. `"\"/data\""`, `"10"`, `"true"`); makes the field optional.
    pub fn default_value(mut self, json: &str) -> Self {
        self.default_value = Some(json.into());
        self.required = false;
        self
    }
    /// Not required.
    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }
    /// Masked in UIs and logs.
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    /// Help text.
    pub fn tooltip(mut self, text: &str) -> Self {
        self.tooltip = Some(text.into());
        self
    }
    /// Position in the form.
    pub fn order(mut self, order: u32) -> Self {
        self.order = order;
        self
    }
    /// Shown only when `field` has `value` (JSON text).
    pub fn depends_on(mut self, field: &str, value: &str) -> Self {
        self.depends_on.push(Dependency {
            field: field.into(),
            value: value.into(),
        });
        self
    }
    /// Adds one of Elastic's validations (`less_than`, `greater_than`, `list_type`,
    /// `included_in`, `regex`) with its constraint as JSON text.
    pub fn validation(mut self, kind: &str, constraint: &str) -> Self {
        self.validations.push(Validation {
            type_: kind.into(),
            constraint: constraint.into(),
        });
        self
    }
    /// Shown under "advanced" in Kibana.
    pub fn advanced(mut self) -> Self {
        self.ui_restrictions.push("advanced".into());
        self
    }
}
