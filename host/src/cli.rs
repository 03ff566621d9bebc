//! Command-line interface definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum JobType {
    Full,
    Incremental,
    AccessControl,
}

#[derive(Subcommand, Debug)]
pub enum PluginsCommand {
    /// List the plugins in a directory and whether each loads.
    List {
        #[arg(long, default_value = "plugins")]
        plugins: PathBuf,
        /// Compiled-plugin cache (default: ~/.cache/inlet).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
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
