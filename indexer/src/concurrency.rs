//! Adaptive limit on concurrent `_bulk` requests: halve on sustained 429s (down to 1), add one back per
//! round of successes (AIMD, as TCP and Vector's ARC do). Hand-written because it must shrink a tokio
//! semaphore whose permits are held by running requests; tower's limits are static.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Decreases closer together than this count as one overload event: a burst of 429s from the requests
/// already in flight says the same thing once.
const DECREASE_COOLDOWN: Duration = Duration::from_secs(1);

pub(crate) struct Limiter {
    sem: Arc<Semaphore>,
    max: usize,
    state: Mutex<State>,
}

struct State {
    limit: usize,
    /// Permits to destroy as they come back, after a decrease that found them in use.
    debt: usize,
    successes: usize,
    last_decrease: Option<Instant>,
}

/// A slot for one request; returning it pays the limiter's debt first.
pub(crate) struct Permit {
    limiter: Arc<Limiter>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut st = self
            .limiter
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if st.debt > 0 {
            st.debt -= 1;
            if let Some(p) = self.permit.take() {
                p.forget();
            }
        }
    }
}

impl Limiter {
    pub(crate) fn new(max: usize) -> Arc<Limiter> {
        Arc::new(Limiter {
            sem: Arc::new(Semaphore::new(max)),
            max,
            state: Mutex::new(State {
                limit: max,
                debt: 0,
                successes: 0,
                last_decrease: None,
            }),
        })
    }

    pub(crate) async fn acquire(self: &Arc<Self>) -> Permit {
        // The semaphore is never closed, so acquiring cannot fail; keep going without a slot if it ever did.
        let permit = self.sem.clone().acquire_owned().await.ok();
        Permit {
            limiter: self.clone(),
            permit,
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.lock().limit
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cluster pushed back (429).
    pub(crate) fn overloaded(&self) {
        let mut st = self.lock();
        st.successes = 0;
        let now = Instant::now();
        if st.limit == 1
            || st
                .last_decrease
                .is_some_and(|t| now.duration_since(t) < DECREASE_COOLDOWN)
        {
            return;
        }
        st.last_decrease = Some(now);
        let new = (st.limit / 2).max(1);
        let mut cut = st.limit - new;
        st.limit = new;
        cut -= self.sem.forget_permits(cut);
        st.debt += cut;
        tracing::warn!(
            in_flight_limit = new,
            "the cluster is rejecting requests (429): fewer concurrent bulk requests"
        );
    }

    /// A request went through without any 429.
    pub(crate) fn succeeded(&self) {
        let mut st = self.lock();
        if st.limit >= self.max {
            return;
        }
        st.successes += 1;
        if st.successes < st.limit {
            return;
        }
        st.successes = 0;
        st.limit += 1;
        if st.debt > 0 {
            st.debt -= 1;
        } else {
            self.sem.add_permits(1);
        }
        tracing::info!(
            in_flight_limit = st.limit,
            "the cluster accepts requests again: one more concurrent bulk request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn halves_to_one_then_recovers_one_by_one() {
        let l = Limiter::new(8);
        let held: Vec<_> = futures_join(&l, 8).await;
        l.overloaded();
        assert_eq!(l.limit(), 4);
        l.overloaded(); // inside the cooldown: same event
        assert_eq!(l.limit(), 4);
        drop(held);
        // Four permits were destroyed as they came back.
        assert_eq!(l.sem.available_permits(), 4);
        l.lock().last_decrease = None;
        l.overloaded();
        l.lock().last_decrease = None;
        l.overloaded();
        l.lock().last_decrease = None;
        l.overloaded();
        assert_eq!((l.limit(), l.sem.available_permits()), (1, 1));
        l.succeeded();
        assert_eq!((l.limit(), l.sem.available_permits()), (2, 2));
        l.succeeded();
        assert_eq!(l.limit(), 2);
        l.succeeded();
        assert_eq!(l.limit(), 3);
    }

    async fn futures_join(l: &Arc<Limiter>, n: usize) -> Vec<Permit> {
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(l.acquire().await);
        }
        v
    }
}
