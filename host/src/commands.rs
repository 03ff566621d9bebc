//! What each subcommand does.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use inlet::config;
use inlet::job::JobStatus;
use inlet::job::JobType;
use inlet::manifest::Manifest;
use inlet::plugin;
use inlet::runtime::{EngineSettings, InstanceOptions, Runtime, types};
use inlet::scaffold;
use inlet::service::Service;
use inlet::sync::{self, Progress, SyncReport};

use crate::cli::{Command, ConfigCommand, NewLang, PluginsCommand};

mod config_check;
mod signing;

pub async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run {
            config,
            plugins,
            once,
        } => run(&config, plugins, once).await,
        Command::Sync {
            connector,
            config,
            plugins,
            job_type,
            json,
        } => sync_one(&config, plugins, &connector, job_type, json).await,
        Command::Plugins {
            command:
                PluginsCommand::List {
                    plugins,
                    cache_dir,
                    trusted_keys,
                },
        } => list_plugins(&plugins, cache_dir, &trusted_keys).await,
        Command::Plugins {
            command:
                PluginsCommand::Inspect {
                    file,
                    cache_dir,
                    json,
                    trusted_keys,
                },
        } => inspect(&file, cache_dir, json, &trusted_keys).await,
        Command::Plugins {
            command: PluginsCommand::Signing(command),
        } => signing::run(command),
        Command::Config {
            command: ConfigCommand::Check { config, plugins },
        } => config_check::run(&config, plugins).await,
        Command::New { name, lang, dir } => new_project(&name, lang, dir),
    }
}

fn new_project(name: &str, lang: NewLang, dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let lang = match lang {
        NewLang::Rust => scaffold::Lang::Rust,
        NewLang::Python => scaffold::Lang::Python,
        NewLang::Js => scaffold::Lang::Js,
        NewLang::Go => scaffold::Lang::Go,
    };
    let dest = dir.unwrap_or_else(|| PathBuf::from(name));
    scaffold::create(lang, name, &dest)?;
    let service_type = name.replace('-', "_").to_lowercase();
    println!("{}", scaffold::next_steps(lang, &dest, &service_type));
    Ok(ExitCode::SUCCESS)
}

fn load_config(path: &Path) -> anyhow::Result<config::Loaded> {
    Ok(config::load(path)?)
}

/// Sets the flag on the first Ctrl-C / SIGTERM; exits at once on the second.
fn cancel_on_signal() -> Arc<AtomicBool> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("cannot listen for SIGTERM: {e}");
                    return;
                }
            };
        for n in 0.. {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            if n == 0 {
                tracing::warn!(
                    "stopping: running syncs end at their next batch (signal again to exit now)"
                );
                flag.store(true, Ordering::Relaxed);
            } else {
                std::process::exit(130);
            }
        }
    });
    cancel
}

async fn run(config: &Path, plugins: Option<PathBuf>, once: bool) -> anyhow::Result<ExitCode> {
    let loaded = load_config(config)?;
    let ready = Arc::new(AtomicBool::new(false));
    let before_scrape = inlet::admin_server::BeforeScrape::default();
    if let Some(listen) = loaded.config.service.metrics.listen {
        let handle = inlet::metrics::install()?;
        inlet::admin_server::serve(listen, handle, ready.clone(), before_scrape.clone()).await?;
    }
    let svc = Arc::new(Service::open(loaded, plugins).await?);
    let broker = svc.env.broker.clone();
    let _ = before_scrape.set(Box::new(move || broker.export_metrics()));
    ready.store(true, Ordering::Relaxed);
    if svc.config.config.connectors.is_empty() {
        anyhow::bail!(
            "{} configures no connectors; add one under `connectors:` (see config.yml.example)",
            svc.config.path.display()
        );
    }
    let cancel = cancel_on_signal();
    if !once {
        // A serving process picks up plugin folders added, changed or removed (both modes).
        svc.watch_plugins(cancel.clone());
    }
    if svc.config.config.protocol() == config::ProtocolMode::Kibana {
        if once {
            anyhow::bail!(
                "--once runs config.yml's connectors, but this config serves Kibana (inlet.protocol: kibana); \
                 start syncs from Kibana, or set `inlet.protocol: standalone`"
            );
        }
        let sink = svc.env.sink.clone();
        inlet::protocol::run(svc, cancel).await?;
        sink.shutdown().await?;
        return Ok(ExitCode::SUCCESS);
    }
    if once {
        let reports = svc.run_once(cancel).await;
        svc.env.sink.shutdown().await?;
        let failed = reports.iter().filter(|r| r.error.is_some()).count();
        for r in &reports {
            print_summary(r);
        }
        return Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            eprintln!("{failed} of {} syncs failed", reports.len());
            ExitCode::FAILURE
        });
    }
    svc.run_forever(cancel).await;
    svc.env.sink.shutdown().await?;
    Ok(ExitCode::SUCCESS)
}

async fn sync_one(
    config: &Path,
    plugins: Option<PathBuf>,
    connector: &str,
    job_type: JobType,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let loaded = load_config(config)?;
    let svc = Arc::new(Service::open(loaded, plugins).await?);
    let c = svc.connector(connector)?;
    let progress = Arc::new(Progress::default());
    let ticker = tokio::spawn(show_progress(progress.clone()));
    let report = svc.sync(c, job_type, progress, cancel_on_signal()).await;
    svc.env.sink.shutdown().await?;
    ticker.abort();
    let _ = ticker.await;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_summary(&report);
    }
    Ok(if report.error.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A progress bar on a terminal, a progress line every 5 s otherwise.
async fn show_progress(p: Arc<Progress>) {
    let start = Instant::now();
    let line = |p: &Progress| {
        let n = p.extracted.load(Ordering::Relaxed);
        let secs = start.elapsed().as_secs_f64().max(0.001);
        format!(
            "{n} documents ({:.0}/s), {} indexed, {} deleted, {} refused, {:.1} MiB",
            n as f64 / secs,
            p.indexed.load(Ordering::Relaxed),
            p.deleted.load(Ordering::Relaxed),
            p.invalid.load(Ordering::Relaxed),
            p.bytes.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0)
        )
    };
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        loop {
            bar.set_message(line(&p));
            bar.tick();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    } else {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            eprintln!("progress: {}", line(&p));
        }
    }
}

fn print_summary(r: &SyncReport) {
    let s = &r.stats;
    let status = match r.status {
        // Shouted, so a failed sync stands out in a terminal.
        sync::Status::Error => "FAILED",
        other => JobStatus::from(other).as_str(),
    };
    println!(
        "{connector} {job} sync {status} in {secs:.2}s → {index}: {extracted} extracted, {indexed} indexed, {deleted} deleted, {stale} stale deleted, {dead} dead-lettered ({invalid} refused by checks)",
        connector = r.connector_id,
        job = r.job_type,
        secs = r.elapsed_ms as f64 / 1000.0,
        index = r.index,
        extracted = s.extracted,
        indexed = s.indexed,
        deleted = s.deleted,
        stale = s.stale_deleted,
        dead = s.dead_lettered,
        invalid = s.invalid,
    );
    if let Some(e) = &r.error {
        println!("  error: {e}");
    }
}

/// A runtime for commands that have no config: the cache goes to `--cache-dir`, else
/// `$XDG_CACHE_HOME/inlet` or `~/.cache/inlet`, else (no home, e.g. a service account or a
/// bare container) `<tmp>/inlet-<uid>`: one per user, since a directory in the shared temp
/// folder that someone else created first could hold their native code. Whichever it is, the
/// runtime refuses it (naming `--cache-dir`) unless this user owns it and nobody else may
/// write to it.
fn standalone_runtime(cache_dir: Option<PathBuf>) -> anyhow::Result<Runtime> {
    let cache_dir = cache_dir.unwrap_or_else(|| {
        std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(|x| PathBuf::from(x).join("inlet"))
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache").join("inlet"))
            })
            .unwrap_or_else(|| {
                #[cfg(unix)]
                let user = rustix::process::geteuid().as_raw().to_string();
                #[cfg(not(unix))]
                let user = std::env::var("USERNAME").unwrap_or_default();
                std::env::temp_dir().join(format!("inlet-{user}"))
            })
    });
    let caps = config::Limits::default();
    Runtime::new(
        &EngineSettings {
            max_memory_bytes: caps.memory_mib * 1024 * 1024,
            pooled_instances: 8,
        },
        &cache_dir,
    )
}

async fn list_plugins(
    dir: &Path,
    cache_dir: Option<PathBuf>,
    trusted_keys: &[String],
) -> anyhow::Result<ExitCode> {
    let trust = signing::trusted_keys(trusted_keys, "--trusted-key")?;
    let runtime = standalone_runtime(cache_dir)?;
    let found = plugin::discover(dir)?;
    if found.is_empty() {
        println!(
            "no plugins in {} (each plugin is a folder with plugin.toml)",
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut bad = 0;
    for d in found {
        match d {
            Ok(d) => {
                let m = &d.manifest;
                match plugin::load(&runtime, &d.component_path(), Some(m.clone()), None, &trust) {
                    Ok(p) => println!(
                        "{:<20} {:<10} contract {:<7} {:>8} KiB  {}  {}",
                        m.service_type,
                        m.version.as_deref().unwrap_or("-"),
                        p.component.contract,
                        p.size / 1024,
                        d.dir.display(),
                        p.signature
                    ),
                    Err(e) => {
                        bad += 1;
                        println!("{:<20} BROKEN: {e}", m.service_type);
                    }
                }
            }
            Err(e) => {
                bad += 1;
                println!("BROKEN: {e}");
            }
        }
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[derive(serde::Serialize, Default)]
struct Inspection {
    file: String,
    size: u64,
    sha256: String,
    contract: Option<String>,
    /// How the plugin hands batches over: `json-lines` (the optional export) or `records`.
    batches: Option<&'static str>,
    service_type: Option<String>,
    name: Option<String>,
    version: Option<String>,
    features: Option<serde_json::Value>,
    permissions: Option<serde_json::Value>,
    configuration: Vec<serde_json::Value>,
    imports: Vec<String>,
    signature: Option<String>,
    problems: Vec<String>,
    cache: Option<String>,
    load_ms: Option<f64>,
    instantiate_ms: Option<f64>,
}

async fn inspect(
    file: &Path,
    cache_dir: Option<PathBuf>,
    json: bool,
    trusted_keys: &[String],
) -> anyhow::Result<ExitCode> {
    let trust = signing::trusted_keys(trusted_keys, "--trusted-key")?;
    let runtime = standalone_runtime(cache_dir)?;
    let manifest_path = file.with_file_name(inlet::manifest::FILE_NAME);
    let manifest = if manifest_path.is_file() {
        Some(
            Manifest::read(&manifest_path)
                .map_err(|m| anyhow::anyhow!("{}: {m}", manifest_path.display()))?,
        )
    } else {
        None
    };
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut out = Inspection {
        file: file.display().to_string(),
        size: bytes.len() as u64,
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        permissions: manifest
            .as_ref()
            .map(|m| serde_json::json!({"files": m.permissions.files, "http": m.permissions.http, "sql": m.permissions.sql, "credentials": m.credentials_summary()})),
        signature: Some(match plugin::signature::check(file, &bytes, &trust) {
            Ok(status) => status.to_string(),
            Err(e) => format!("REFUSED: {e}"),
        }),
        ..Default::default()
    };
    match plugin::load(&runtime, file, manifest.clone(), None, &trust) {
        Err(e) => out.problems.push(e.to_string()),
        Ok(p) => {
            out.contract = Some(p.component.contract.clone());
            out.imports = p.component.imports.clone();
            out.cache = Some(format!("{:?}", p.component.cache));
            out.load_ms = Some(p.component.load_time.as_secs_f64() * 1e3);
            let started = Instant::now();
            let opts = InstanceOptions {
                connector_id: "inspect".into(),
                memory_limit_bytes: 512 << 20,
                call_timeout: Duration::from_secs(30),
                read_only_dirs: vec![],
                state: None,
                state_quota: Default::default(),
                cancel: Arc::default(),
                network: None,
                databases: None,
                budget: inlet::policy::budget::HostBudget::new(Default::default()),
            };
            match runtime.instantiate(&p.component, opts).await {
                Err(e) => out.problems.push(format!("cannot instantiate: {e}")),
                Ok(mut instance) => {
                    out.instantiate_ms = Some(started.elapsed().as_secs_f64() * 1e3);
                    out.batches = Some(if instance.hands_json_lines() {
                        "json-lines"
                    } else {
                        "records"
                    });
                    match instance.metadata().await {
                        Ok(meta) => {
                            if let Some(m) = &manifest
                                && m.service_type != meta.service_type
                            {
                                out.problems.push(format!(
                                    "plugin.toml says service type `{}`, the component says `{}`",
                                    m.service_type, meta.service_type
                                ));
                            }
                            out.service_type = Some(meta.service_type);
                            out.name = Some(meta.name);
                            out.version = Some(meta.version);
                            out.features = Some(serde_json::json!({
                                "incremental_sync": meta.features.incremental_sync,
                                "document_level_security": meta.features.document_level_security,
                                "advanced_rules": meta.features.advanced_rules,
                                "basic_rules": meta.features.basic_rules,
                            }));
                        }
                        Err(e) => out.problems.push(e.to_string()),
                    }
                    match instance.configuration_schema().await {
                        Ok(fields) => out.configuration = fields.iter().map(field_json).collect(),
                        Err(e) => out.problems.push(e.to_string()),
                    }
                }
            }
        }
    }
    if manifest.is_none() {
        out.problems.push(format!(
            "no {} beside the component: it cannot be discovered in a plugin directory",
            inlet::manifest::FILE_NAME
        ));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_inspection(&out);
    }
    let fatal = out.contract.is_none() || out.service_type.is_none();
    Ok(if fatal {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn field_json(f: &types::ConfigField) -> serde_json::Value {
    serde_json::json!({
        "key": f.key,
        "label": f.label,
        "order": f.order,
        "type": match f.type_ {
            types::FieldType::Str => "str",
            types::FieldType::Int => "int",
            types::FieldType::Bool => "bool",
            types::FieldType::List => "list",
        },
        "display": match f.display {
            types::DisplayType::Text => "text",
            types::DisplayType::Textarea => "textarea",
            types::DisplayType::Numeric => "numeric",
            types::DisplayType::Toggle => "toggle",
            types::DisplayType::Dropdown => "dropdown",
        },
        "default_value": f.default_value.as_deref().and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()),
        "required": f.required,
        "sensitive": f.sensitive,
        "tooltip": f.tooltip,
    })
}

fn print_inspection(i: &Inspection) {
    println!(
        "file:          {} ({} KiB, sha256 {})",
        i.file,
        i.size / 1024,
        i.sha256
    );
    if let Some(c) = &i.contract {
        println!("contract:      inlet:connector@{c}");
    }
    if let Some(b) = i.batches {
        println!("batches:       {b}");
    }
    if let Some(s) = &i.service_type {
        println!(
            "connector:     {s} — {} {}",
            i.name.as_deref().unwrap_or(""),
            i.version.as_deref().unwrap_or("")
        );
    }
    if let Some(f) = &i.features {
        println!("features:      {f}");
    }
    if let Some(p) = &i.permissions {
        println!("permissions:   {p}");
    }
    if let Some(s) = &i.signature {
        println!("signature:     {s}");
    }
    if let (Some(cache), Some(ms)) = (&i.cache, i.load_ms) {
        println!("load:          {ms:.1} ms ({cache})");
    }
    if let Some(ms) = i.instantiate_ms {
        println!("instantiate:   {ms:.2} ms");
    }
    if !i.configuration.is_empty() {
        println!("configuration:");
        for f in &i.configuration {
            println!(
                "  {:<24} {:<6} {}{}",
                f["key"].as_str().unwrap_or(""),
                f["type"].as_str().unwrap_or(""),
                f["label"].as_str().unwrap_or(""),
                if f["required"] == true {
                    " (required)"
                } else {
                    ""
                }
            );
        }
    }
    if !i.imports.is_empty() {
        println!("imports:       {}", i.imports.join(", "));
    }
    for p in &i.problems {
        println!("problem:       {p}");
    }
}
