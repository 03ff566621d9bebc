//! The `state` import of one plugin instance: a quota per connector, and writes staged in memory
//! until the sync engine commits them.
//!
//! **Quota.** A connector's plugin state may hold at most `limits.max_state_keys` keys and
//! `limits.max_state_bytes` bytes of keys and values. Usage is known without a scan (the store
//! keeps a usage row in step with the state, see [`StateStore::plugin_apply`]) and followed here
//! as writes are staged, so a `set` over the quota is refused at once with a message naming the
//! key and the limit, and nothing of it is kept.
//!
//! **Staging.** `set` and `delete` go to a map in memory; `get` reads it first, so a plugin sees
//! its own writes at once. [`PluginState::flush`] commits the map in one redb transaction: one
//! durable commit per sync step instead of one per `set` on a runtime thread. The sync engine
//! flushes after each step the host has accepted: after `start-sync` returns, after each batch
//! has been handed to the sink, and after the sync's `cursor`. It does not flush after a call
//! that failed, and dropping an instance discards what is staged: a checkpoint a plugin wrote
//! while producing a batch is kept only if that batch was accepted, so a sync that fails half
//! way keeps the checkpoints of the batches it delivered (a resume starts after them), never one
//! that points past documents the sink did not get.
//!
//! Memory is bounded by the quota: staged values count towards it, and a delete is staged only
//! for a key the store holds.

use std::collections::HashMap;
use std::sync::Arc;

use inlet_store::{StateStore, StateUsage, StoreError};

/// Longest key and value a plugin may set, whatever its quota.
pub(crate) const MAX_STATE_KEY: usize = 256;
pub(crate) const MAX_STATE_VALUE: usize = 64 * 1024;

/// A connector's state quota (`limits.max_state_keys`, `limits.max_state_bytes`); the default
/// is the defaults of both (1000 keys, 4 MiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateQuota {
    /// Keys the connector may keep.
    pub max_keys: u64,
    /// Bytes of keys and values together (UTF-8) it may keep.
    pub max_bytes: u64,
}

impl StateQuota {
    /// The quota `l` sets: its `max_state_keys` and `max_state_bytes`.
    pub fn from_limits(l: &inlet_policy::config::Limits) -> Self {
        StateQuota {
            max_keys: l.max_state_keys,
            max_bytes: l.max_state_bytes,
        }
    }

    fn as_usage(self) -> StateUsage {
        StateUsage {
            keys: self.max_keys,
            bytes: self.max_bytes,
        }
    }
}

impl Default for StateQuota {
    fn default() -> Self {
        StateQuota::from_limits(&inlet_policy::config::Limits::default())
    }
}

/// Why a `set` was refused: the message the plugin gets back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetError {
    #[error(
        "state key {key:?} is {len} bytes; keys are limited to {MAX_STATE_KEY} bytes",
        key = cut(key)
    )]
    KeyTooLong { key: String, len: usize },
    #[error(
        "the value for state key {key:?} is {len} bytes; values are limited to {MAX_STATE_VALUE} bytes",
        key = cut(key)
    )]
    ValueTooLong { key: String, len: usize },
    #[error(
        "state quota: setting key {key:?} would make {keys} keys, over connectors[].limits.max_state_keys = {limit}; nothing was stored",
        key = cut(key)
    )]
    TooManyKeys { key: String, keys: u64, limit: u64 },
    #[error(
        "state quota: setting key {key:?} would make {bytes} bytes, over connectors[].limits.max_state_bytes = {limit}; nothing was stored",
        key = cut(key)
    )]
    TooManyBytes { key: String, bytes: u64, limit: u64 },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Keys are quoted back in errors and logs; a hostile one must not make them long.
fn cut(key: &str) -> &str {
    match key.char_indices().nth(64) {
        Some((end, _)) => &key[..end],
        None => key,
    }
}

/// A staged write, with what the store held for the key when it was first staged.
struct Staged {
    /// `None`: deleted.
    value: Option<String>,
    /// Bytes of the stored entry (key and value), `None` if the store has no such key.
    stored: Option<u64>,
}

/// One instance's view of its connector's state.
pub(crate) struct PluginState {
    store: Arc<StateStore>,
    connector_id: String,
    quota: StateQuota,
    staged: HashMap<String, Staged>,
    /// Stored usage plus what is staged; read from the store at first use.
    usage: Option<StateUsage>,
}

impl PluginState {
    pub(crate) fn new(store: Arc<StateStore>, connector_id: &str, quota: StateQuota) -> Self {
        PluginState {
            store,
            connector_id: connector_id.to_owned(),
            quota,
            staged: HashMap::new(),
            usage: None,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self.staged.get(key) {
            Some(staged) => Ok(staged.value.clone()),
            None => self.store.plugin_get(&self.connector_id, key),
        }
    }

    pub(crate) fn set(&mut self, key: &str, value: &str) -> Result<(), SetError> {
        if key.len() > MAX_STATE_KEY {
            return Err(SetError::KeyTooLong {
                key: key.to_owned(),
                len: key.len(),
            });
        }
        if value.len() > MAX_STATE_VALUE {
            return Err(SetError::ValueTooLong {
                key: key.to_owned(),
                len: value.len(),
            });
        }
        let (current, stored) = self.current(key)?;
        let mut usage = self.usage()?;
        if current.is_none() {
            usage.keys += 1;
        }
        // Saturating: another instance of the connector may have changed the store since our
        // count; the flush re-checks the quota against the store's own count.
        usage.bytes = usage
            .bytes
            .saturating_sub(current.unwrap_or(0))
            .saturating_add((key.len() + value.len()) as u64);
        if usage.keys > self.quota.max_keys {
            return Err(SetError::TooManyKeys {
                key: key.to_owned(),
                keys: usage.keys,
                limit: self.quota.max_keys,
            });
        }
        if usage.bytes > self.quota.max_bytes {
            return Err(SetError::TooManyBytes {
                key: key.to_owned(),
                bytes: usage.bytes,
                limit: self.quota.max_bytes,
            });
        }
        self.usage = Some(usage);
        self.staged.insert(
            key.to_owned(),
            Staged {
                value: Some(value.to_owned()),
                stored,
            },
        );
        Ok(())
    }

    pub(crate) fn delete(&mut self, key: &str) -> Result<(), StoreError> {
        let (current, stored) = self.current(key)?;
        let Some(size) = current else {
            return Ok(());
        };
        let mut usage = self.usage()?;
        usage.keys = usage.keys.saturating_sub(1);
        usage.bytes = usage.bytes.saturating_sub(size);
        self.usage = Some(usage);
        if stored.is_some() {
            self.staged.insert(
                key.to_owned(),
                Staged {
                    value: None,
                    stored,
                },
            );
        } else {
            // Set and deleted since the last flush: the store never needs to hear of it.
            self.staged.remove(key);
        }
        Ok(())
    }

    /// Commits what is staged in one transaction. A no-op when nothing is.
    pub(crate) fn flush(&mut self) -> Result<(), StoreError> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let staged = std::mem::take(&mut self.staged);
        let writes = staged.iter().map(|(k, s)| (k.as_str(), s.value.as_deref()));
        match self
            .store
            .plugin_apply(&self.connector_id, writes, self.quota.as_usage())
        {
            Ok(usage) => {
                self.usage = Some(usage);
                Ok(())
            }
            Err(e) => {
                self.usage = None;
                Err(e)
            }
        }
    }

    /// Forgets what is staged (the step that wrote it was not accepted).
    pub(crate) fn discard(&mut self) {
        self.staged.clear();
        self.usage = None;
    }

    /// Bytes the key's entry holds now (staged or stored; `None` if absent), and what the
    /// store holds for it.
    fn current(&self, key: &str) -> Result<(Option<u64>, Option<u64>), StoreError> {
        if let Some(staged) = self.staged.get(key) {
            let now = staged
                .value
                .as_ref()
                .map(|v| StateUsage::entry(key, v).bytes);
            return Ok((now, staged.stored));
        }
        let stored = self
            .store
            .plugin_get(&self.connector_id, key)?
            .map(|v| StateUsage::entry(key, &v).bytes);
        Ok((stored, stored))
    }

    fn usage(&mut self) -> Result<StateUsage, StoreError> {
        match self.usage {
            Some(u) => Ok(u),
            None => {
                let u = self.store.plugin_usage(&self.connector_id)?;
                self.usage = Some(u);
                Ok(u)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Arc<StateStore>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::open(&dir.path().join("s.redb")).expect("open");
        (dir, Arc::new(store))
    }

    const QUOTA: StateQuota = StateQuota {
        max_keys: 3,
        max_bytes: 40,
    };

    #[test]
    fn writes_are_seen_at_once_and_stored_only_at_flush() {
        let (_dir, store) = store();
        let mut s = PluginState::new(store.clone(), "c", QUOTA);
        s.set("a", "1").expect("set");
        assert_eq!(s.get("a").expect("get").as_deref(), Some("1"));
        assert_eq!(store.plugin_get("c", "a").expect("get"), None);
        s.flush().expect("flush");
        assert_eq!(
            store.plugin_get("c", "a").expect("get").as_deref(),
            Some("1")
        );
        s.delete("a").expect("delete");
        assert_eq!(s.get("a").expect("get"), None);
        s.flush().expect("flush");
        assert_eq!(store.plugin_get("c", "a").expect("get"), None);
        assert_eq!(
            store.plugin_usage("c").expect("usage"),
            StateUsage::default()
        );
    }

    #[test]
    fn a_discarded_step_leaves_the_store_as_it_was() {
        let (_dir, store) = store();
        let mut s = PluginState::new(store.clone(), "c", QUOTA);
        s.set("page", "1").expect("set");
        s.flush().expect("flush");
        s.set("page", "2").expect("set");
        s.discard();
        assert_eq!(s.get("page").expect("get").as_deref(), Some("1"));
        drop(s);
        assert_eq!(
            store.plugin_get("c", "page").expect("get").as_deref(),
            Some("1")
        );
    }

    #[test]
    fn the_quota_counts_stored_and_staged_entries() {
        let (_dir, store) = store();
        store.plugin_set("c", "old", Some("xx")).expect("seed");
        let mut s = PluginState::new(store.clone(), "c", QUOTA);
        s.set("a", "1").expect("set");
        s.set("b", "1").expect("set");
        let e = s.set("third", "1").unwrap_err();
        assert!(
            e.to_string().contains("\"third\"")
                && e.to_string()
                    .contains("connectors[].limits.max_state_keys = 3"),
            "{e}"
        );
        // Overwriting a key does not add one; deleting makes room.
        s.set("a", "22").expect("overwrite");
        s.delete("old").expect("delete");
        s.set("third", "1").expect("room now");
        let e = s.set("a", &"x".repeat(40)).unwrap_err();
        assert!(
            e.to_string()
                .contains("connectors[].limits.max_state_bytes = 40"),
            "{e}"
        );
        s.flush().expect("flush");
        let usage = store.plugin_usage("c").expect("usage");
        assert_eq!(usage, StateUsage { keys: 3, bytes: 11 });
        assert_eq!(store.plugin_get("c", "old").expect("get"), None);
        // A second instance starts from the stored usage.
        let mut again = PluginState::new(store, "c", QUOTA);
        assert!(matches!(
            again.set("d", "1"),
            Err(SetError::TooManyKeys { keys: 4, .. })
        ));
    }

    #[test]
    fn a_hostile_loop_stays_within_memory_and_quota() {
        let (_dir, store) = store();
        let quota = StateQuota::default();
        let mut s = PluginState::new(store.clone(), "c", quota);
        let value = "v".repeat(MAX_STATE_VALUE);
        let mut refused = 0;
        for i in 0..3000 {
            if s.set(&format!("k{i}"), &value).is_err() {
                refused += 1;
            }
        }
        s.flush().expect("flush");
        let usage = store.plugin_usage("c").expect("usage");
        assert!(usage.bytes <= quota.max_bytes, "{usage:?}");
        assert_eq!(usage.keys, 3000 - refused);
        // 4 MiB / (64 KiB + key) = 63 values fit.
        assert_eq!(usage.keys, 63);
    }
}
