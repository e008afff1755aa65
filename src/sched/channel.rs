//! Lock-free channels between tasks (and between RT tasks and non-RT threads).
//!
//! * [`ring`]: a bounded single-producer single-consumer queue (wraps `rtrb`, a wait-free SPSC
//!   ring). A full queue never blocks the sender: the value is dropped and counted.
//! * [`latest`]: a latest-value slot (wraps `triple_buffer`): the writer always overwrites, the
//!   reader always gets the newest complete value, neither ever waits.
//!
//! Both allocate only when created. Sending and receiving are wait-free and allocation-free.
//!
//! ```
//! use sattva::sched::channel::{latest, ring};
//! let (mut tx, mut rx) = ring::<u32>(2);
//! assert!(tx.push(1) && tx.push(2));
//! assert!(!tx.push(3)); // full: dropped, counted, never blocks
//! assert_eq!((rx.pop(), tx.dropped()), (Some(1), 1));
//!
//! let (mut w, mut r) = latest([0.0f64; 3]);
//! w.write([1.0, 2.0, 3.0]);
//! assert_eq!(r.read()[2], 3.0);
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Creates a bounded SPSC queue holding up to `capacity` values.
pub fn ring<T: Send>(capacity: usize) -> (RingTx<T>, RingRx<T>) {
    let (p, c) = rtrb::RingBuffer::new(capacity.max(1));
    let dropped = Arc::new(AtomicU64::new(0));
    (
        RingTx {
            inner: p,
            dropped: dropped.clone(),
            sent: 0,
        },
        RingRx { inner: c, dropped },
    )
}

/// Sending half of a [`ring`].
pub struct RingTx<T> {
    inner: rtrb::Producer<T>,
    dropped: Arc<AtomicU64>,
    sent: u64,
}

impl<T> RingTx<T> {
    /// Enqueues `v`; when the queue is full, drops `v`, counts it and returns false. Never blocks.
    #[inline]
    pub fn push(&mut self, v: T) -> bool {
        match self.inner.push(v) {
            Ok(()) => {
                self.sent += 1;
                true
            }
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Values dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Values enqueued so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Free slots right now.
    pub fn free(&self) -> usize {
        self.inner.slots()
    }
}

/// Receiving half of a [`ring`].
pub struct RingRx<T> {
    inner: rtrb::Consumer<T>,
    dropped: Arc<AtomicU64>,
}

impl<T> RingRx<T> {
    /// Dequeues the oldest value, if any. Never blocks.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        self.inner.pop().ok()
    }

    /// Values waiting.
    pub fn len(&self) -> usize {
        self.inner.slots()
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Values the sender had to drop because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Creates a latest-value slot holding `initial` until the first write.
pub fn latest<T: Clone + Send>(initial: T) -> (LatestTx<T>, LatestRx<T>) {
    let (i, o) = triple_buffer::triple_buffer(&initial);
    (LatestTx { inner: i, writes: 0 }, LatestRx { inner: o })
}

/// Writing half of a [`latest`] slot.
pub struct LatestTx<T: Send> {
    inner: triple_buffer::Input<T>,
    writes: u64,
}

impl<T: Send> LatestTx<T> {
    /// Publishes `v` (moves it in; the value it replaces is dropped here, on the writer's side).
    #[inline]
    pub fn write(&mut self, v: T) {
        self.inner.write(v);
        self.writes += 1;
    }

    /// Fills the back buffer in place with `f` and publishes it: no move of a large value.
    /// The buffer holds an older value (not necessarily the last written): overwrite it fully.
    #[inline]
    pub fn write_with(&mut self, f: impl FnOnce(&mut T)) {
        f(self.inner.input_buffer_mut());
        self.inner.publish();
        self.writes += 1;
    }

    /// Values published so far.
    pub fn writes(&self) -> u64 {
        self.writes
    }
}

/// Reading half of a [`latest`] slot.
pub struct LatestRx<T: Send> {
    inner: triple_buffer::Output<T>,
}

impl<T: Send> LatestRx<T> {
    /// The newest published value (or the initial one). Never blocks.
    #[inline]
    pub fn read(&mut self) -> &T {
        self.inner.read()
    }

    /// True when a value was published since the last [`LatestRx::read`].
    pub fn updated(&self) -> bool {
        self.inner.updated()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_order_and_counts_drops_across_threads() {
        let (mut tx, mut rx) = ring::<u64>(8);
        let h = std::thread::spawn(move || {
            let mut ok = 0u64;
            for i in 0..10_000u64 {
                if tx.push(i) {
                    ok += 1;
                }
            }
            (ok, tx.dropped())
        });
        let mut got = Vec::new();
        loop {
            if let Some(v) = rx.pop() {
                got.push(v);
            } else if h.is_finished() && rx.is_empty() {
                break;
            }
        }
        let (ok, dropped) = h.join().unwrap();
        assert_eq!(ok + dropped, 10_000);
        assert_eq!(got.len() as u64, ok);
        assert!(got.windows(2).all(|w| w[0] < w[1]), "order broken");
        assert_eq!(rx.dropped(), dropped);
    }

    #[test]
    fn latest_reader_sees_only_complete_values() {
        let (mut w, mut r) = latest([0u64; 16]);
        assert!(!r.updated());
        let h = std::thread::spawn(move || {
            for i in 1..=20_000u64 {
                w.write_with(|b| b.iter_mut().for_each(|x| *x = i));
            }
            w.writes()
        });
        let mut last = 0;
        while !h.is_finished() {
            let v = *r.read();
            assert!(v.iter().all(|&x| x == v[0]), "torn read {v:?}");
            assert!(v[0] >= last, "went back in time");
            last = v[0];
        }
        assert_eq!(h.join().unwrap(), 20_000);
        assert_eq!(r.read()[0], 20_000);
    }
}
