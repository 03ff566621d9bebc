"""Rich Configurable Fields, in Elastic's shape.

`Connector.configuration()` returns a dict `{key: field}`. A field is either a plain dict in
Elastic's exact format (copy it from an Elastic connector's `get_default_configuration`) or built
with the helpers here:

    from inlet_sdk import fields as f
    def configuration(self):
        return {
            "host": f.string("Host", order=1, tooltip="Server name"),
            "port": f.integer("Port", order=2, default=443),
            "use_ssl": f.toggle("Use TLS", order=3, default=True),
            "mode": f.dropdown("Mode", ["fast", "safe"], order=4, default="safe"),
            "token": f.string("API token", order=5, sensitive=True),
            "tags": f.list_("Tags", order=6, required=False),
        }
"""

FIELD_TYPES = ("str", "int", "bool", "list")
DISPLAY_TYPES = ("text", "textarea", "numeric", "toggle", "dropdown")
VALIDATION_TYPES = ("less_than", "greater_than", "list_type", "included_in", "regex")

_DEFAULT_DISPLAY = {"str": "text", "int": "numeric", "bool": "toggle", "list": "text"}


def field(
    label,
    *,
    type="str",
    display=None,
    order=None,
    default=None,
    required=True,
    sensitive=False,
    tooltip=None,
    depends_on=None,
    validations=None,
    ui_restrictions=None,
    options=None,
):
    """One field. `depends_on` is a dict `{field: value}` or a list of `{"field", "value"}`;
    `validations` a list of `{"type", "constraint"}`; `options` a list of values or of
    `{"label", "value"}`."""
    if type not in FIELD_TYPES:
        raise ValueError(f"field type must be one of {FIELD_TYPES}, not {type!r}")
    display = display or _DEFAULT_DISPLAY[type]
    if display not in DISPLAY_TYPES:
        raise ValueError(f"display must be one of {DISPLAY_TYPES}, not {display!r}")
    if isinstance(depends_on, dict):
        depends_on = [{"field": k, "value": v} for k, v in depends_on.items()]
    out = {
        "label": label,
        "type": type,
        "display": display,
        "value": default,
        "default_value": default,
        "required": required,
        "sensitive": sensitive,
        "tooltip": tooltip,
        "depends_on": list(depends_on or []),
        "validations": list(validations or []),
        "ui_restrictions": list(ui_restrictions or []),
        "options": [o if isinstance(o, dict) else {"label": str(o), "value": o} for o in (options or [])],
    }
    if order is not None:
        out["order"] = order
    return out


def string(label, **kw):
    return field(label, type="str", **kw)


def textarea(label, **kw):
    return field(label, type="str", display="textarea", **kw)


def integer(label, **kw):
    return field(label, type="int", **kw)


def toggle(label, **kw):
    kw.setdefault("default", False)
    return field(label, type="bool", **kw)


boolean = toggle


def list_(label, **kw):
    return field(label, type="list", **kw)


def dropdown(label, options, **kw):
    kw.setdefault("type", "str")
    return field(label, display="dropdown", options=options, **kw)


# Validation helpers (Elastic's names).
def less_than(n):
    return {"type": "less_than", "constraint": n}


def greater_than(n):
    return {"type": "greater_than", "constraint": n}


def list_type(t):
    return {"type": "list_type", "constraint": t}


def included_in(values):
    return {"type": "included_in", "constraint": list(values)}


def regex(pattern):
    return {"type": "regex", "constraint": pattern}


ADVANCED = "advanced"


def normalize(schema):
    """Validate a `{key: field}` dict and return a list of complete field dicts (sorted by order),
    each with a `key`. Raises ValueError with the field key on a malformed field."""
    if not isinstance(schema, dict):
        raise ValueError("configuration() must return a dict {key: field}")
    out = []
    for i, (key, raw) in enumerate(schema.items()):
        if not isinstance(raw, dict):
            raise ValueError(f"configuration field {key!r}: expected a dict, got {type(raw).__name__}")
        t = raw.get("type", "str")
        if t not in FIELD_TYPES:
            raise ValueError(f"configuration field {key!r}: type must be one of {FIELD_TYPES}")
        display = raw.get("display") or _DEFAULT_DISPLAY[t]
        if display not in DISPLAY_TYPES:
            raise ValueError(f"configuration field {key!r}: display must be one of {DISPLAY_TYPES}")
        default = raw.get("default_value")
        if default is None and raw.get("value") not in (None, ""):
            default = raw.get("value")
        depends = raw.get("depends_on") or []
        if isinstance(depends, dict):
            depends = [{"field": k, "value": v} for k, v in depends.items()]
        for v in raw.get("validations") or []:
            if v.get("type") not in VALIDATION_TYPES:
                raise ValueError(f"configuration field {key!r}: validation type must be one of {VALIDATION_TYPES}")
        out.append(
            {
                "key": key,
                "label": str(raw.get("label", key)),
                "order": int(raw.get("order", i + 1)),
                "type": t,
                "display": display,
                "default_value": default,
                "required": bool(raw.get("required", True)),
                "sensitive": bool(raw.get("sensitive", False)),
                "tooltip": raw.get("tooltip"),
                "depends_on": [{"field": d["field"], "value": d["value"]} for d in depends],
                "validations": [{"type": v["type"], "constraint": v["constraint"]} for v in raw.get("validations") or []],
                "ui_restrictions": [str(u) for u in raw.get("ui_restrictions") or []],
                "options": [
                    o if isinstance(o, dict) else {"label": str(o), "value": o} for o in raw.get("options") or []
                ],
            }
        )
    out.sort(key=lambda f: f["order"])
    return out
