//! What is worth retrying, and how long to wait.
//!
//! The delay is computed here rather than with a backoff crate: our retries are counted per action across
//! splits and partial resends (a batch's round is its actions' attempt count), while crates like `backon`
//! model one stateful sequence per operation, and `backon`'s jitter can exceed the configured cap.

use std::time::Duration;

/// Whole-request statuses where the same request may succeed later.
pub(crate) fn retryable_request_status(status: u16) -> bool {
    matches!(status, 408 | 429) || (500..600).contains(&status) && !matches!(status, 501 | 505)
}

/// Per-item statuses worth resending: rejections under load and shard failures.
pub(crate) fn retryable_item_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// Capped exponential backoff with "equal jitter": half fixed, half random, so retries from many
/// requests spread out but never wait less than half the nominal delay nor more than `max`.
pub(crate) fn backoff(attempt: u32, initial: Duration, max: Duration) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let nominal = exp.min(max);
    let half = nominal / 2;
    half + half.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses_like_logstash_and_beats() {
        for s in [429, 500, 502, 503, 504, 408] {
            assert!(retryable_request_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 501] {
            assert!(!retryable_request_status(s), "{s}");
        }
        assert!(retryable_item_status(429) && retryable_item_status(503));
        assert!(
            !retryable_item_status(400)
                && !retryable_item_status(404)
                && !retryable_item_status(409)
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let (i, m) = (Duration::from_millis(100), Duration::from_secs(2));
        for _ in 0..50 {
            let d1 = backoff(1, i, m);
            assert!(d1 >= Duration::from_millis(50) && d1 <= i);
            let d3 = backoff(3, i, m);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            assert!(backoff(40, i, m) <= m);
        }
    }
}
