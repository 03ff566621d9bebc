//! Request-body buffers kept for the next request instead of freed. Every bulk request body
//! is megabytes; allocated fresh each time, the allocator commits new memory while the last
//! body's is still waiting to be purged, and a sync's peak memory swings with that timing.
//! Each sync has its own pool, freed when the sync ends, and keeps at most `max_in_flight + 2`
//! buffers (the bodies in flight, one being filled, one spare): it never holds more than the
//! sync's peak did, and nothing once the sync is over.

use std::sync::Mutex;

use bytes::Bytes;

pub(crate) struct BodyPool {
    free: Mutex<Vec<Vec<u8>>>,
    keep: usize,
    /// Buffers of other sizes (a split request's halves, a retry's rebuilt body) are not kept.
    min_capacity: usize,
    max_capacity: usize,
}

impl BodyPool {
    pub(crate) fn new(keep: usize, max_batch_bytes: usize) -> BodyPool {
        BodyPool {
            free: Mutex::new(Vec::new()),
            keep,
            min_capacity: max_batch_bytes / 2,
            max_capacity: max_batch_bytes.saturating_mul(2),
        }
    }

    /// A cleared buffer from the pool, or a new one of `capacity` bytes.
    pub(crate) fn take(&self, capacity: usize) -> Vec<u8> {
        let kept = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        kept.unwrap_or_else(|| Vec::with_capacity(capacity))
    }

    /// Keeps a sent body's buffer when nothing else holds it and the pool has room.
    pub(crate) fn give_back(&self, body: Bytes) {
        let Ok(buffer) = body.try_into_mut() else {
            return;
        };
        let mut buffer = Vec::from(buffer);
        if !(self.min_capacity..=self.max_capacity).contains(&buffer.capacity()) {
            return;
        }
        buffer.clear();
        let mut free = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if free.len() < self.keep {
            free.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_sent_bodies_up_to_its_limit_and_only_unshared_ones() {
        let pool = BodyPool::new(1, 1024);
        let mut body = pool.take(1024);
        body.extend_from_slice(b"{}\n");
        let ptr = body.as_ptr();
        let sent = Bytes::from(body);
        let still_held = sent.clone();
        pool.give_back(sent);
        // `still_held` keeps the old buffer alive, so a new one cannot share its address.
        let fresh = pool.take(1024);
        assert_ne!(fresh.as_ptr(), ptr, "a shared body is not reused");
        drop(still_held);

        let mut body = pool.take(1024);
        body.extend_from_slice(b"{}\n");
        let ptr = body.as_ptr();
        pool.give_back(Bytes::from(body));
        pool.give_back(Bytes::from(Vec::with_capacity(1024)));
        let again = pool.take(1024);
        assert_eq!(again.as_ptr(), ptr, "the sent body's buffer comes back");
        assert!(again.is_empty());
        assert!(
            pool.free.lock().expect("lock").is_empty(),
            "one kept, the second dropped"
        );
        pool.give_back(Bytes::from(vec![0u8; 10]));
        assert!(
            pool.free.lock().expect("lock").is_empty(),
            "a small buffer is not kept"
        );
    }
}
