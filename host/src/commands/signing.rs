//! `inlet plugins keygen | sign | verify`: signed plugins from the operator's side. The format
//! and the checks live in `inlet::plugin::signature`; this is the command line around them.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use inlet::manifest::{self, Manifest};
use inlet::plugin::signature::{self, Signature, TrustedKeys};

use crate::cli::SigningCommand;

pub fn run(command: SigningCommand) -> anyhow::Result<ExitCode> {
    match command {
        SigningCommand::Keygen { file, comment } => keygen(&file, &comment),
        SigningCommand::Sign { key, components } => sign(&key, &components),
        SigningCommand::Verify { keys, components } => verify(&keys, &components),
    }
}

/// Keys given on the command line (`--key`, `--trusted-key`): the same entries as
/// `inlet.plugins.trusted_keys`, files relative to the working directory.
pub fn trusted_keys(entries: &[String], flag: &str) -> anyhow::Result<TrustedKeys> {
    Ok(TrustedKeys::parse(entries, Path::new("."), flag)?)
}

fn keygen(file: &Path, comment: &str) -> anyhow::Result<ExitCode> {
    let key = signature::generate_key(comment).context("cannot generate a key")?;
    let public_file = PathBuf::from(format!("{}.pub", file.display()));
    let public = key
        .public_key()
        .to_openssh()
        .context("cannot encode the public key")?;
    let secret = key
        .to_openssh(ssh_key::LineEnding::LF)
        .context("cannot encode the secret key")?;
    write_new(file, secret.as_bytes(), 0o600)?;
    write_new(&public_file, format!("{public}\n").as_bytes(), 0o644)?;
    println!(
        "wrote {secret} (the secret key: keep it where plugins are built, not where they run) and {public_file}",
        secret = file.display(),
        public_file = public_file.display()
    );
    println!("fingerprint: {}", signature::signer_of(key.public_key()));
    println!(
        "sign:        inlet plugins sign --key {} <component.wasm>",
        file.display()
    );
    println!(
        "trust it in config.yml:\n  inlet:\n    plugins:\n      trusted_keys:\n        - \"{public}\""
    );
    Ok(ExitCode::SUCCESS)
}

/// Creates `path` with `mode`; never replaces an existing key.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).with_context(|| {
        format!(
            "cannot create {} (an existing key is never overwritten)",
            path.display()
        )
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn sign(key_file: &Path, components: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let key = signature::read_secret_key(key_file)?;
    let signer = signature::signer_of(key.public_key());
    for given in components {
        let component = component_of(given)?;
        let bytes = std::fs::read(&component)
            .with_context(|| format!("cannot read {}", component.display()))?;
        let armored = signature::sign(&key, &bytes)
            .with_context(|| format!("cannot sign {}", component.display()))?;
        let sig_path = signature::signature_path(&component);
        // Written aside and renamed, so a host loading the plugin meanwhile sees the old
        // signature or the new one, never half of one.
        let partial = PathBuf::from(format!("{}.partial", sig_path.display()));
        std::fs::write(&partial, armored.as_bytes())
            .and_then(|()| std::fs::rename(&partial, &sig_path))
            .with_context(|| format!("cannot write {}", sig_path.display()))?;
        println!(
            "{}: signed by {signer} → {}",
            component.display(),
            sig_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(keys: &[String], components: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let trust = trusted_keys(keys, "--key")?;
    let mut failed = 0;
    for given in components {
        let component = component_of(given)?;
        let bytes = std::fs::read(&component)
            .with_context(|| format!("cannot read {}", component.display()))?;
        match signature::check(&component, &bytes, &trust) {
            Ok(status @ Signature::Signed { .. }) => {
                println!("{}: {status}", component.display())
            }
            Ok(status) => {
                failed += 1;
                println!("{}: {status}", component.display());
            }
            Err(e) => {
                failed += 1;
                println!("{}: REFUSED: {e}", component.display());
            }
        }
    }
    if trust.is_empty() && failed == 0 {
        eprintln!(
            "note: without --key this checks that each signature is intact, not who may sign"
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A component path as given, or the component a plugin folder's plugin.toml names.
fn component_of(path: &Path) -> anyhow::Result<PathBuf> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    let manifest_path = path.join(manifest::FILE_NAME);
    let m = Manifest::read(&manifest_path)
        .map_err(|m| anyhow::anyhow!("{}: {m}", manifest_path.display()))?;
    Ok(path.join(m.component))
}
