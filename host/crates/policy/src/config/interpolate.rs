//! `${NAME}` and `${NAME:-default}` in string values, as Elastic's EnvYAML does.
//!
//! Interpolation runs on parsed YAML values, not on the text, so a secret containing `:` or `#`
//! cannot change the structure of the file.

use serde_yaml_ng::Value;

/// Replaces variables in every string value. On failure returns the key path and the reason.
pub(super) fn interpolate(
    value: &mut Value,
    env: &dyn Fn(&str) -> Option<String>,
    path: &mut Vec<String>,
) -> Result<(), (String, String)> {
    match value {
        Value::String(s) => {
            if s.contains("${") {
                *s = expand(s, env).map_err(|message| (path.join("."), message))?;
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                // A key the file spells as an empty string is named `''`, as it is written.
                path.push(match k.as_str() {
                    Some("") => "''".into(),
                    Some(s) => s.to_owned(),
                    None => "?".into(),
                });
                let r = interpolate(v, env, path);
                path.pop();
                r?;
            }
        }
        Value::Sequence(seq) => {
            let last = path.pop();
            for (i, v) in seq.iter_mut().enumerate() {
                path.push(format!("{}[{i}]", last.as_deref().unwrap_or("")));
                let r = interpolate(v, env, path);
                path.pop();
                r?;
            }
            if let Some(last) = last {
                path.push(last);
            }
        }
        Value::Tagged(t) => interpolate(&mut t.value, env, path)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

fn expand(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated `${{` in {s:?}"))?;
        let expr = &after[..end];
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (expr, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`${{{expr}}}` is not a valid variable reference"));
        }
        match (env(name), default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => {
                return Err(format!(
                    "environment variable {name} is not set (write `${{{name}:-default}}` to give a default)"
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_defaults_and_literals() {
        let env = |n: &str| (n == "A").then(|| "1".to_owned());
        assert_eq!(expand("x${A}y", &env).as_deref(), Ok("x1y"));
        assert_eq!(expand("${B:-two}", &env).as_deref(), Ok("two"));
        assert!(expand("${B}", &env).unwrap_err().contains("B is not set"));
        assert!(expand("${A", &env).is_err());
        assert!(expand("${a b}", &env).is_err());
    }
}
