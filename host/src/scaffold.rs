//! `inlet new`: a working connector project per language, from the templates in
//! `sdk/templates/`, embedded in the binary so the command works anywhere.

use std::path::{Path, PathBuf};

/// Languages with an SDK and a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// The Rust SDK (`sdk/rust`), built with `cargo build --target wasm32-wasip2`.
    Rust,
    /// The Python SDK (`sdk/python`), built with componentize-py.
    Python,
    /// The JavaScript SDK (`sdk/js`), built with componentize-js.
    Js,
    /// The Go SDK (`sdk/go`), built with the standard Go toolchain and `wasm-tools` (no TinyGo).
    Go,
}

macro_rules! template {
    ($($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("../../sdk/templates/", $file)))),*]
    };
}

const RUST: &[(&str, &str)] = template!("rust/Cargo.toml", "rust/plugin.toml", "rust/src/lib.rs");
const PYTHON: &[(&str, &str)] = template!("python/connector.py", "python/plugin.toml");
const JS: &[(&str, &str)] = template!("js/connector.js", "js/plugin.toml");
const GO: &[(&str, &str)] = template!("go/go.mod", "go/main.go", "go/plugin.toml");

/// Why `inlet new` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name cannot be a plugin or package name.
    #[error(
        "`{0}` is not a usable connector name: use letters, digits, `-` and `_`, starting with a letter"
    )]
    BadName(String),
    /// The project folder exists; nothing in it is overwritten.
    #[error("{0} already exists; choose another name or remove it")]
    Exists(PathBuf),
    /// A file of the project could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Where this binary's source tree keeps an SDK, if it is still there (a build from a clone).
fn sdk_dir(lang: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("sdk")
        .join(lang);
    p.canonicalize().ok()
}

/// Creates `dest` with the template of `lang`; returns the files written.
pub fn create(lang: Lang, name: &str, dest: &Path) -> Result<Vec<PathBuf>, ScaffoldError> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(ScaffoldError::BadName(name.into()));
    }
    if dest.exists() {
        return Err(ScaffoldError::Exists(dest.to_path_buf()));
    }
    let service_type = name.replace('-', "_").to_lowercase();
    let (files, prefix) = match lang {
        Lang::Rust => (RUST, "rust/"),
        Lang::Python => (PYTHON, "python/"),
        Lang::Js => (JS, "js/"),
        Lang::Go => (GO, "go/"),
    };
    let rust_sdk = sdk_dir("rust")
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "../inlet/sdk/rust".into());
    let mut written = Vec::new();
    for (file, text) in files {
        let rel = file.strip_prefix(prefix).unwrap_or(file);
        let path = dest.join(rel);
        let text = text
            .replace("__SERVICE_TYPE__", &service_type)
            .replace("__NAME__", name)
            .replace("__SDK_PATH__", &rust_sdk);
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, text)
        };
        write().map_err(|source| ScaffoldError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// The commands that build a project of this language, for the user to run next.
pub fn next_steps(lang: Lang, dest: &Path, service_type: &str) -> String {
    let d = dest.display();
    let sdk = |l: &str| {
        sdk_dir(l)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| format!("<inlet checkout>/sdk/{l}"))
    };
    let build = match lang {
        Lang::Rust => format!(
            "(cd {d} && cargo build --release --target wasm32-wasip2) && cp {d}/target/wasm32-wasip2/release/{service_type}.wasm {d}/"
        ),
        Lang::Python => format!(
            "python3 -m inlet_sdk.build {d}     # pip install -e {}",
            sdk("python")
        ),
        Lang::Js => format!("node {}/build.mjs {d}", sdk("js")),
        Lang::Go => format!("{}/build.sh {d}", sdk("go")),
    };
    format!(
        "created {d}\n\nbuild it:\n  {build}\n\nthen point a connector at it (plugins_dir = the folder holding {d}):\n  connectors:\n    - connector_id: my-{service_type}\n      service_type: {service_type}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders_and_refuses_bad_names() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dest = tmp.path().join("my-source");
        let files = create(Lang::Python, "my-source", &dest).expect("created");
        assert_eq!(files.len(), 2);
        let manifest = std::fs::read_to_string(dest.join("plugin.toml")).expect("manifest");
        assert!(
            manifest.contains("service_type = \"my_source\""),
            "{manifest}"
        );
        assert!(!manifest.contains("__"), "{manifest}");
        assert!(matches!(
            create(Lang::Python, "my-source", &dest),
            Err(ScaffoldError::Exists(_))
        ));
        assert!(matches!(
            create(Lang::Js, "9lives", &tmp.path().join("x")),
            Err(ScaffoldError::BadName(_))
        ));
    }
}
