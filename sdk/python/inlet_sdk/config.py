"""Configuration values as the connector sees them."""

import json


def _coerce(key, ftype, value):
    if value is None:
        return None
    if ftype == "int":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, (int, float)):
            return int(value)
        if isinstance(value, str) and value.strip() != "":
            try:
                return int(value.strip())
            except ValueError:
                pass
        return value
    if ftype == "bool":
        if isinstance(value, str):
            low = value.strip().lower()
            if low in ("true", "yes", "1", "on"):
                return True
            if low in ("false", "no", "0", "off", ""):
                return False
        return value
    if ftype == "list":
        if isinstance(value, str):
            # Elastic accepts a comma-separated string for list fields.
            return [v.strip() for v in value.split(",") if v.strip()]
        return value
    if ftype == "str" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


class Config(dict):
    """The configuration: `{key: value}` with JSON values decoded, types coerced to the schema
    (`int`, `bool`, `list` — a comma-separated string becomes a list) and defaults filled in for
    keys the operator left empty."""

    @classmethod
    def from_pairs(cls, pairs, schema=None):
        """`pairs`: iterable of (key, json_text). `schema`: normalized fields (fields.normalize)."""
        cfg = cls()
        for key, text in pairs:
            try:
                cfg[key] = json.loads(text)
            except (ValueError, TypeError):
                cfg[key] = text
        for f in schema or ():
            key = f["key"]
            if cfg.get(key) in (None, "") and f["default_value"] is not None:
                cfg[key] = f["default_value"]
            if key in cfg:
                cfg[key] = _coerce(key, f["type"], cfg[key])
        return cfg

    def __getitem__(self, key):
        try:
            return dict.__getitem__(self, key)
        except KeyError:
            from .errors import ConfigError

            raise ConfigError(f"configuration value `{key}` is missing") from None
