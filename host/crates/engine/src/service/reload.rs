//! Hot reload of the plugin directory: `inlet run` notices a plugin folder that is added,
//! changed or removed, and the next syncs of its service type use what is there now.
//!
//! Two triggers feed one scan: file-system notifications (the `notify` crate) and a rescan
//! every [`RESCAN`] — the fallback alone is correct, notifications only make it prompt. A scan
//! stamps the files of each configured service type's folder (manifest, component, signature);
//! a folder whose stamps differ from what was last acted on is acted on only once the stamps
//! have stayed the same for [`QUIET`] (editors and `cp` write in several steps, so a
//! half-written component is never loaded). Loading is `plugin::load` through
//! [`super::load_one`], exactly as at start (contract, imports, sha256 pin, signature), on a
//! blocking thread; the plugin table is swapped only on success, so a broken update leaves the
//! previous version serving. Syncs hold an `Arc<Plugin>`, so a running sync finishes on the
//! version it started with.
//!
//! A folder that failed is not loaded again until its files change (a changed stamp), so a
//! broken component costs one WARN line and one `failed` count, not a retry loop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::{Service, load_one};
use crate::plugin::{self, Discovered, Plugin, PluginError};

/// How long a plugin folder's files must stay unchanged before they are loaded.
pub(crate) const QUIET: Duration = Duration::from_millis(500);
/// The fallback: a full scan this often, whether or not notifications arrive.
pub(crate) const RESCAN: Duration = Duration::from_secs(30);
/// A burst of notifications becomes one scan this long after the last of them.
const DEBOUNCE: Duration = Duration::from_millis(200);
/// How often the loop looks at the shutdown flag (it has no wake-up of its own).
const POLL: Duration = Duration::from_millis(250);

/// One file as the file system describes it; any write changes it. The change time (ctime)
/// and inode are part of it because a writer can set the modification time back (`cp -p`,
/// `rsync -t`) but not those.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    changed: (i64, i64),
    inode: u64,
}

impl FileStamp {
    /// `None`: the file does not exist (or cannot be described).
    fn of(path: &Path) -> Option<FileStamp> {
        let m = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let (changed, inode) = {
            use std::os::unix::fs::MetadataExt as _;
            ((m.ctime(), m.ctime_nsec()), m.ino())
        };
        #[cfg(not(unix))]
        let (changed, inode) = ((0, 0), 0);
        Some(FileStamp {
            len: m.len(),
            modified: m.modified().ok(),
            changed,
            inode,
        })
    }
}

/// What a scan saw of the folder that provides one service type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// No folder provides the service type.
    Absent,
    /// A folder provides it: its manifest, component and signature, as they are now.
    Present {
        dir: PathBuf,
        files: Vec<Option<FileStamp>>,
    },
    /// The folder that provided it has a `plugin.toml` that no longer parses.
    Unreadable {
        dir: PathBuf,
        manifest: Option<FileStamp>,
        reason: String,
    },
}

impl Seen {
    fn dir(&self) -> Option<&Path> {
        match self {
            Seen::Absent => None,
            Seen::Present { dir, .. } | Seen::Unreadable { dir, .. } => Some(dir),
        }
    }
}

/// What to do about one service type after a scan.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing changed since the last action.
    Keep,
    /// Something changed and is not quiet yet: look again after [`QUIET`].
    Wait,
    /// Load the folder's component and, if it verifies, use it.
    Load,
    /// The folder is gone: its connectors have no plugin any more.
    Remove,
    /// The manifest does not parse: keep what serves, report why.
    Refuse(String),
}

/// Per service type: what was last acted on, and a change waiting to be quiet. Pure (the clock
/// is an argument), so the debounce is unit-tested.
#[derive(Debug)]
pub(crate) struct Track {
    settled: Seen,
    pending: Option<(Seen, Instant)>,
}

impl Track {
    pub(crate) fn new(settled: Seen) -> Self {
        Track {
            settled,
            pending: None,
        }
    }

    /// Decides on one scan's observation. A change is acted on only when two scans at least
    /// [`QUIET`] apart saw exactly the same stamps; acting settles it, whatever the load's
    /// outcome, so a failed version is tried again only once its files change.
    pub(crate) fn decide(&mut self, seen: Seen, now: Instant) -> Decision {
        if seen == self.settled {
            self.pending = None;
            return Decision::Keep;
        }
        match &self.pending {
            Some((pending, since)) if *pending == seen => {
                if now.saturating_duration_since(*since) < QUIET {
                    return Decision::Wait;
                }
                self.pending = None;
                let decision = match &seen {
                    Seen::Absent => Decision::Remove,
                    Seen::Present { .. } => Decision::Load,
                    Seen::Unreadable { reason, .. } => Decision::Refuse(reason.clone()),
                };
                self.settled = seen;
                decision
            }
            _ => {
                self.pending = Some((seen, now));
                Decision::Wait
            }
        }
    }

    /// The folder last acted on, to blame a manifest that stops parsing.
    fn dir(&self) -> Option<&Path> {
        self.settled.dir()
    }
}

/// One look at the plugin directory.
pub(crate) struct Observation {
    /// The folders with a good manifest, by service type.
    pub(crate) found: BTreeMap<String, Discovered>,
    /// Per configured service type.
    pub(crate) seen: BTreeMap<String, Seen>,
    /// Broken manifests and duplicate service types, as at start.
    pub(crate) problems: Vec<PluginError>,
}

/// Discovers the plugin directory and stamps the folder of each of `types`. `known` is the
/// folder each service type was last provided by: if its manifest stopped parsing, the service
/// type is `Unreadable` (not `Absent`), so a half-saved `plugin.toml` never unloads a plugin.
pub(crate) fn observe(
    dir: &Path,
    types: &[String],
    known: &BTreeMap<String, PathBuf>,
) -> Result<Observation, PluginError> {
    let (found, problems) = plugin::by_service_type(plugin::discover(dir)?);
    let mut unreadable: BTreeMap<PathBuf, (PathBuf, String)> = BTreeMap::new();
    for p in &problems {
        if let PluginError::Manifest { path, .. } = p
            && let Some(folder) = path.parent()
        {
            unreadable.insert(folder.to_path_buf(), (path.clone(), p.to_string()));
        }
    }
    let seen = types
        .iter()
        .map(|t| {
            let seen = if let Some(d) = found.get(t) {
                let component = d.component_path();
                Seen::Present {
                    dir: d.dir.clone(),
                    files: vec![
                        FileStamp::of(&d.dir.join(inlet_policy::manifest::FILE_NAME)),
                        FileStamp::of(&component),
                        FileStamp::of(&plugin::signature::signature_path(&component)),
                    ],
                }
            } else if let Some((manifest, reason)) = known.get(t).and_then(|k| unreadable.get(k)) {
                Seen::Unreadable {
                    dir: known.get(t).cloned().unwrap_or_default(),
                    manifest: FileStamp::of(manifest),
                    reason: reason.clone(),
                }
            } else {
                Seen::Absent
            };
            (t.clone(), seen)
        })
        .collect();
    Ok(Observation {
        found,
        seen,
        problems,
    })
}

/// Whether a notification can mean a plugin changed. Reads are not (loading a component opens
/// it, and must not wake the loop again).
fn relevant(kind: &notify::EventKind) -> bool {
    !matches!(kind, notify::EventKind::Access(_))
}

/// Watches `service.plugins_dir` until `cancel` is set.
pub(super) async fn run(service: Arc<Service>, cancel: Arc<AtomicBool>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    // Kept alive for the loop's life; dropping it stops the notifications.
    let mut watcher = watch(&service.plugins_dir, tx.clone());
    // The loop holds a sender, so the channel stays open; should it close anyway, `recv`
    // would return at once, so it is no longer polled and the rescan works alone.
    let mut notifications = true;
    let mut tracks: BTreeMap<String, Track> = service
        .seen_at_start
        .iter()
        .map(|(t, seen)| (t.clone(), Track::new(seen.clone())))
        .collect();
    let mut next_rescan = Instant::now() + RESCAN;
    let mut next_scan: Option<Instant> = None;
    let mut dir_missing = false;
    while !cancel.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wake = [Some(next_rescan), next_scan, Some(now + POLL)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + POLL);
        tokio::select! {
            event = rx.recv(), if notifications => match event {
                // Each notification of a burst pushes the scan back.
                Some(()) => next_scan = Some(Instant::now() + DEBOUNCE),
                None => notifications = false,
            },
            _ = tokio::time::sleep_until(wake.into()) => {}
        }
        let now = Instant::now();
        let rescan_due = now >= next_rescan;
        if !rescan_due && next_scan.is_none_or(|t| now < t) {
            continue;
        }
        if rescan_due {
            next_rescan = now + RESCAN;
        }
        next_scan = None;
        match scan(&service, &mut tracks).await {
            Ok(waiting) => {
                if dir_missing {
                    tracing::info!(dir = %service.plugins_dir.display(), "the plugin directory is back");
                    dir_missing = false;
                    // The old watch died with the old directory.
                    drop(watcher.take());
                    watcher = watch(&service.plugins_dir, tx.clone());
                }
                if waiting {
                    // Look again once the change had time to be quiet, not at the next rescan.
                    next_scan = Some(Instant::now() + QUIET);
                }
            }
            Err(e) => {
                // The whole directory gone is more likely a deployment mid-swap than the
                // operator removing every plugin: keep serving what is loaded.
                if !dir_missing {
                    tracing::warn!("{e}; the loaded plugins keep serving");
                    dir_missing = true;
                }
            }
        }
    }
}

/// Starts notifications for `dir` (recursive: a plugin is a folder). `None` when the platform
/// or the file system refuses; the rescan then does the work alone.
fn watch(
    dir: &Path,
    tx: tokio::sync::mpsc::UnboundedSender<()>,
) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher as _;
    let handler = move |event: notify::Result<notify::Event>| match event {
        Ok(e) if relevant(&e.kind) => {
            let _ = tx.send(());
        }
        Ok(_) => {}
        // Lost events (an overflowing queue): scan, since something changed.
        Err(_) => {
            let _ = tx.send(());
        }
    };
    let started = notify::recommended_watcher(handler).and_then(|mut w| {
        w.watch(dir, notify::RecursiveMode::Recursive)?;
        Ok(w)
    });
    match started {
        Ok(w) => {
            tracing::info!(dir = %dir.display(), "watching the plugin directory for changes");
            Some(w)
        }
        Err(e) => {
            tracing::warn!(
                dir = %dir.display(),
                "no file-system notifications for the plugin directory ({e}); rescanning it every {} s",
                RESCAN.as_secs()
            );
            None
        }
    }
}

/// One scan: observe, decide per service type, act. Returns whether a change is waiting to
/// be quiet.
async fn scan(
    service: &Arc<Service>,
    tracks: &mut BTreeMap<String, Track>,
) -> Result<bool, PluginError> {
    let dir = service.plugins_dir.clone();
    let types: Vec<String> = tracks.keys().cloned().collect();
    let known: BTreeMap<String, PathBuf> = tracks
        .iter()
        .filter_map(|(t, track)| Some((t.clone(), track.dir()?.to_path_buf())))
        .collect();
    let observed = tokio::task::spawn_blocking(move || observe(&dir, &types, &known))
        .await
        .map_err(|e| PluginError::Manifest {
            path: service.plugins_dir.clone(),
            message: format!("the scan stopped: {e}"),
        })??;
    let now = Instant::now();
    let mut waiting = false;
    for (service_type, seen) in observed.seen {
        let Some(track) = tracks.get_mut(&service_type) else {
            continue;
        };
        match track.decide(seen, now) {
            Decision::Keep => {}
            Decision::Wait => waiting = true,
            Decision::Load => load(service, &service_type, &observed.found).await,
            Decision::Remove => service.remove_plugin(&service_type),
            Decision::Refuse(reason) => service.refuse_update(&service_type, None, &reason),
        }
    }
    Ok(waiting)
}

/// Loads the new version off the async workers (compiling takes seconds) and installs it.
async fn load(service: &Arc<Service>, service_type: &str, found: &BTreeMap<String, Discovered>) {
    let component = found.get(service_type).map(Discovered::component_path);
    let runtime = service.env.runtime.clone();
    let trust = service.trust.clone();
    let pin = service.pin_for(service_type).map(str::to_owned);
    let found = found.clone();
    let st = service_type.to_owned();
    let loaded = tokio::task::spawn_blocking(move || {
        load_one(&runtime, &found, &st, pin.as_deref(), &trust)
    })
    .await;
    match loaded {
        Ok(Ok(p)) => service.install_plugin(service_type, p),
        Ok(Err(e)) => service.refuse_update(service_type, component.as_deref(), &e.to_string()),
        Err(e) => service.refuse_update(
            service_type,
            component.as_deref(),
            &format!("loading stopped: {e}"),
        ),
    }
}

impl Service {
    /// Uses `p` for the next syncs of `service_type`.
    fn install_plugin(&self, service_type: &str, p: Arc<Plugin>) {
        let previous = self.table().install(service_type, p.clone());
        record_plugin_reload(service_type, "loaded");
        let version = p
            .manifest
            .as_ref()
            .and_then(|m| m.version.as_deref())
            .unwrap_or("-");
        match previous {
            Some(old) => tracing::info!(
                service_type,
                plugin = %p.path.display(),
                version,
                sha256 = %p.sha256,
                previous_sha256 = %old.sha256,
                "plugin reloaded: the next syncs use it (running syncs finish on the version they started with)"
            ),
            None => tracing::info!(
                service_type,
                plugin = %p.path.display(),
                version,
                sha256 = %p.sha256,
                "plugin added: the next syncs use it"
            ),
        }
    }

    /// A new version that cannot be used: what serves keeps serving; say why.
    fn refuse_update(&self, service_type: &str, file: Option<&Path>, reason: &str) {
        record_plugin_reload(service_type, "failed");
        let serving = self.table().refuse(service_type, reason);
        let file = file.map(|f| f.display().to_string()).unwrap_or_default();
        match serving {
            Some(old) => tracing::warn!(
                service_type,
                plugin = %file,
                serving_sha256 = %old.sha256,
                "plugin update not loaded, the previous version keeps serving: {reason}"
            ),
            None => tracing::warn!(
                service_type,
                plugin = %file,
                "plugin not loaded, its connectors' syncs fail until it is fixed: {reason}"
            ),
        }
    }

    /// The folder is gone: the next syncs fail with "no plugin provides service type".
    fn remove_plugin(&self, service_type: &str) {
        record_plugin_reload(service_type, "removed");
        if let Some(old) = self.table().remove(service_type) {
            tracing::warn!(
                service_type,
                plugin = %old.path.display(),
                "plugin removed from the plugin directory: its connectors' next syncs fail until a plugin provides `{service_type}` again"
            );
        }
    }
}

/// Records what hot reload did with a changed plugin folder: `loaded`, `failed` (the previous
/// version, if any, keeps serving) or `removed` (names: the host's `inlet::metrics`).
fn record_plugin_reload(service_type: &str, outcome: &'static str) {
    metrics::counter!("inlet_plugin_reloads_total", "service_type" => service_type.to_owned(), "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn present(len: u64) -> Seen {
        Seen::Present {
            dir: PathBuf::from("/p/x"),
            files: vec![Some(FileStamp {
                len,
                modified: None,
                changed: (0, 0),
                inode: 1,
            })],
        }
    }

    #[test]
    fn an_unchanged_folder_is_kept() {
        let t0 = Instant::now();
        let mut t = Track::new(present(1));
        assert_eq!(t.decide(present(1), t0), Decision::Keep);
        assert_eq!(t.decide(present(1), t0 + RESCAN), Decision::Keep);
    }

    #[test]
    fn a_change_is_loaded_only_once_quiet() {
        let t0 = Instant::now();
        let mut t = Track::new(present(1));
        assert_eq!(t.decide(present(2), t0), Decision::Wait);
        assert_eq!(t.decide(present(2), t0 + QUIET / 2), Decision::Wait);
        assert_eq!(t.decide(present(2), t0 + QUIET), Decision::Load);
        // Acted on: not loaded again while nothing changes, even if the load failed.
        assert_eq!(t.decide(present(2), t0 + QUIET * 3), Decision::Keep);
    }

    #[test]
    fn a_file_still_being_written_restarts_the_wait() {
        let t0 = Instant::now();
        let mut t = Track::new(present(1));
        assert_eq!(t.decide(present(10), t0), Decision::Wait);
        // Grew since: the quiet period starts again from here.
        assert_eq!(t.decide(present(20), t0 + QUIET), Decision::Wait);
        assert_eq!(
            t.decide(present(20), t0 + QUIET + QUIET / 2),
            Decision::Wait
        );
        assert_eq!(t.decide(present(20), t0 + QUIET * 2), Decision::Load);
    }

    #[test]
    fn a_change_undone_before_it_is_quiet_is_nothing() {
        let t0 = Instant::now();
        let mut t = Track::new(present(1));
        assert_eq!(t.decide(present(2), t0), Decision::Wait);
        assert_eq!(t.decide(present(1), t0 + QUIET), Decision::Keep);
        // The old pending change does not linger.
        assert_eq!(t.decide(present(2), t0 + QUIET * 2), Decision::Wait);
    }

    #[test]
    fn a_removed_folder_is_removed_once_quiet_and_a_new_one_added() {
        let t0 = Instant::now();
        let mut t = Track::new(present(1));
        assert_eq!(t.decide(Seen::Absent, t0), Decision::Wait);
        assert_eq!(t.decide(Seen::Absent, t0 + QUIET), Decision::Remove);
        assert_eq!(t.decide(Seen::Absent, t0 + QUIET * 2), Decision::Keep);
        assert_eq!(t.decide(present(3), t0 + QUIET * 3), Decision::Wait);
        assert_eq!(t.decide(present(3), t0 + QUIET * 4), Decision::Load);
    }

    #[test]
    fn a_manifest_that_stops_parsing_is_refused_not_removed() {
        let t0 = Instant::now();
        let mut t = Track::new(present(1));
        let bad = Seen::Unreadable {
            dir: PathBuf::from("/p/x"),
            manifest: None,
            reason: "plugin.toml: expected `=`".into(),
        };
        assert_eq!(t.decide(bad.clone(), t0), Decision::Wait);
        assert_eq!(
            t.decide(bad.clone(), t0 + QUIET),
            Decision::Refuse("plugin.toml: expected `=`".into())
        );
        assert_eq!(t.decide(bad, t0 + QUIET * 2), Decision::Keep);
        // It still remembers the folder, so a later broken manifest is blamed on it.
        assert_eq!(t.dir(), Some(Path::new("/p/x")));
    }

    #[test]
    fn observe_stamps_blames_and_misses() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let a = tmp.path().join("a");
        std::fs::create_dir_all(&a).expect("mkdir");
        std::fs::write(
            a.join("plugin.toml"),
            "service_type = \"a\"\ncomponent = \"a.wasm\"\n",
        )
        .expect("write");
        std::fs::write(a.join("a.wasm"), b"x").expect("write");
        let b = tmp.path().join("b");
        std::fs::create_dir_all(&b).expect("mkdir");
        std::fs::write(b.join("plugin.toml"), "service_type = ").expect("write");
        let types = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let known = BTreeMap::from([("b".to_owned(), b.clone())]);
        let o = observe(tmp.path(), &types, &known).expect("observe");
        let Seen::Present { dir, files } = &o.seen["a"] else {
            panic!("a: {:?}", o.seen["a"]);
        };
        assert_eq!(dir, &a);
        assert!(files[0].is_some() && files[1].is_some() && files[2].is_none());
        assert!(
            matches!(&o.seen["b"], Seen::Unreadable { reason, .. } if reason.contains("plugin.toml")),
            "{:?}",
            o.seen["b"]
        );
        assert_eq!(o.seen["c"], Seen::Absent);

        // A write to the component changes its stamp.
        let before = o.seen["a"].clone();
        std::fs::write(a.join("a.wasm"), b"xy").expect("write");
        let o = observe(tmp.path(), &types, &known).expect("observe");
        assert_ne!(o.seen["a"], before);
    }

    #[test]
    fn reads_do_not_wake_the_loop() {
        use notify::event::{AccessKind, AccessMode, CreateKind, EventKind};
        assert!(!relevant(&EventKind::Access(AccessKind::Open(
            AccessMode::Read
        ))));
        assert!(relevant(&EventKind::Create(CreateKind::File)));
    }
}
