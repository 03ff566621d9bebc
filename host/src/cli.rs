//! Command-line interface definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use inlet::job::JobType;

#[derive(Parser, Debug)]
#[command(
    name = "inlet",
    version,
    about = "A WebAssembly plugin host for sandboxed search connectors"
)]
pub struct Cli {
    /// Log format: human-readable, or ECS-style JSON lines.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,
    /// More log output (-v debug, -vv trace). `RUST_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the configured connectors (schedules, or one sync each with --once).
    Run {
        #[arg(long, short, default_value = "config.yml")]
        config: PathBuf,
        /// Plugin directory (default: `inlet.plugins_dir`, i.e. `plugins/` next to the config).
        #[arg(long)]
        plugins: Option<PathBuf>,
        /// Run one full sync of every connector, then exit; non-zero if any failed.
        #[arg(long)]
        once: bool,
    },
    /// Run one sync of one connector now, with progress and a summary.
    Sync {
        /// The connector_id from config.yml.
        connector: String,
        #[arg(long, short, default_value = "config.yml")]
        config: PathBuf,
        #[arg(long)]
        plugins: Option<PathBuf>,
        #[arg(long = "type", value_enum, default_value_t = JobType::Full)]
        job_type: JobType,
        /// Print the final report as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Inspect plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Create a connector project from a template.
    New {
        /// Project (and connector) name.
        name: String,
        #[arg(long, value_enum)]
        lang: NewLang,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Check a configuration file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum NewLang {
    Rust,
    Python,
    Js,
    Go,
}

#[derive(Subcommand, Debug)]
pub enum PluginsCommand {
    /// List the plugins in a directory, whether each loads, and its signature.
    List {
        #[arg(long, default_value = "plugins")]
        plugins: PathBuf,
        /// Compiled-plugin cache (default: ~/.cache/inlet).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
        /// Require signatures by this key, as `inlet run` does with
        /// `inlet.plugins.trusted_keys`: an OpenSSH public key line or a file of them. Repeatable.
        #[arg(long = "trusted-key", value_name = "KEY")]
        trusted_keys: Vec<String>,
    },
    /// Describe one component: contract version, metadata, configuration fields, permissions,
    /// imports, and what is wrong with it if anything.
    Inspect {
        file: PathBuf,
        #[arg(long)]
        cache_dir: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Require a signature by this key (an OpenSSH public key line or a file of them).
        /// Repeatable.
        #[arg(long = "trusted-key", value_name = "KEY")]
        trusted_keys: Vec<String>,
    },
    #[command(flatten)]
    Signing(SigningCommand),
}

/// Signed plugins: detached OpenSSH (SSHSIG) ed25519 signatures, `<component>.sig`.
#[derive(Subcommand, Debug)]
pub enum SigningCommand {
    /// Make an ed25519 key pair for signing plugins: FILE (the secret key, mode 0600) and
    /// FILE.pub (the line to list under `inlet.plugins.trusted_keys`).
    Keygen {
        /// Where to write the secret key; the public key goes to FILE.pub.
        file: PathBuf,
        /// The comment stored with the key (shown beside its fingerprint).
        #[arg(long, default_value = "inlet plugin signing key")]
        comment: String,
    },
    /// Sign components: writes `<component>.sig` beside each (the component is not changed).
    Sign {
        /// The secret key: an unencrypted OpenSSH ed25519 key (`inlet plugins keygen`).
        #[arg(long, value_name = "SECRET_KEY_FILE")]
        key: PathBuf,
        /// Components (`.wasm`), or plugin folders holding a plugin.toml.
        #[arg(required = true)]
        components: Vec<PathBuf>,
    },
    /// Check components' signatures: by one of the given keys, or (without --key) only that each
    /// signature is intact, and by whom.
    Verify {
        /// A trusted public key: an OpenSSH public key line or a file of them. Repeatable.
        #[arg(long = "key", value_name = "KEY")]
        keys: Vec<String>,
        /// Components (`.wasm`), or plugin folders holding a plugin.toml.
        #[arg(required = true)]
        components: Vec<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Validate config.yml and each connector's configuration against its plugin's schema.
    Check {
        #[arg(long, short, default_value = "config.yml")]
        config: PathBuf,
        #[arg(long)]
        plugins: Option<PathBuf>,
    },
}
