//! Counters of brokered HTTP per connector: plain atomics, cheap on the request path, read by
//! whoever exports them (the Prometheus exporter is a separate piece).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use inlet_policy::http::DenyRule;

#[derive(Debug, Default)]
pub(crate) struct HttpMetrics {
    allowed: AtomicU64,
    denied: [AtomicU64; DenyRule::ALL.len()],
    /// Allowed requests that failed on the wire (DNS, connect, TLS, timeouts).
    failed: AtomicU64,
    /// Responses cut off at `max_response_bytes`.
    oversized: AtomicU64,
    responses: AtomicU64,
    bytes_out: AtomicU64,
    bytes_in: AtomicU64,
    /// Sum of request start → response head, in microseconds; divide by `responses`.
    latency_us_total: AtomicU64,
    latency_us_max: AtomicU64,
    credential_injections: AtomicU64,
    /// Requests sent again with a fresh OAuth2 token after a 401.
    auth_retries: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub(crate) struct MetricsSnapshot {
    pub allowed: u64,
    /// By rule name (`not_granted`, `blocked_address`, …); rules never hit are left out.
    pub denied: Vec<(&'static str, u64)>,
    pub failed: u64,
    pub oversized: u64,
    pub responses: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub latency_us_total: u64,
    pub latency_us_max: u64,
    pub credential_injections: u64,
    pub auth_retries: u64,
}

impl HttpMetrics {
    pub(crate) fn add_allowed(&self) {
        self.allowed.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn add_denied(&self, rule: DenyRule) {
        self.denied[rule.index()].fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn add_failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn add_oversized(&self) {
        self.oversized.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn add_bytes_out(&self, n: u64) {
        self.bytes_out.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn add_bytes_in(&self, n: u64) {
        self.bytes_in.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn add_injection(&self) {
        self.credential_injections.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn add_auth_retry(&self) {
        self.auth_retries.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn add_response(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.responses.fetch_add(1, Ordering::Relaxed);
        self.latency_us_total.fetch_add(us, Ordering::Relaxed);
        self.latency_us_max.fetch_max(us, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MetricsSnapshot {
            allowed: get(&self.allowed),
            denied: DenyRule::ALL
                .iter()
                .map(|r| (r.as_str(), get(&self.denied[r.index()])))
                .filter(|(_, n)| *n > 0)
                .collect(),
            failed: get(&self.failed),
            oversized: get(&self.oversized),
            responses: get(&self.responses),
            bytes_out: get(&self.bytes_out),
            bytes_in: get(&self.bytes_in),
            latency_us_total: get(&self.latency_us_total),
            latency_us_max: get(&self.latency_us_max),
            credential_injections: get(&self.credential_injections),
            auth_retries: get(&self.auth_retries),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_rule() {
        let m = HttpMetrics::default();
        m.add_allowed();
        m.add_denied(DenyRule::NotGranted);
        m.add_denied(DenyRule::NotGranted);
        m.add_response(Duration::from_millis(3));
        let s = m.snapshot();
        assert_eq!(s.allowed, 1);
        assert_eq!(s.denied, vec![("not_granted", 2)]);
        assert_eq!(s.latency_us_total, 3000);
    }
}
