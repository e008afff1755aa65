//! Lock-free channels between tasks (and between RT tasks and non-RT threads).
//!
//! * [`ring`]: a bounded single-producer single-consumer queue. A full queue never blocks the
//!   sender: the value is dropped and counted.
//! * [`latest`]: a latest-value slot (wraps `triple_buffer`): the writer always overwrites, the
//!   reader always gets the newest complete value, neither ever waits.
//!
//! Why the ring is written here and not taken from `rtrb` or crossbeam's `ArrayQueue`: the
//! core-to-core handoff is on the RT path, and on this class of machine each cache-line transfer
//! costs 100-200 ns. `rtrb`'s consumer reads the producer's index and then the slot (two
//! transfers); `ArrayQueue`'s consumer does a CAS on the shared head. Here each slot carries a
//! sequence number next to its value, so the consumer finds "is there a value, and which" in one
//! line; the producer learns which slots are free from the consumer's published head, which it
//! re-reads only when its cached copy says the ring is full. The consumer never writes a slot.
//! Measured with `sattva bench sched` (handoff).
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

// Unsafe code: the lock-free SPSC ring: slots of `UnsafeCell<MaybeUninit<T>>`
// written by the producer and read by the consumer, ordered by atomics.
#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One slot: the sequence number that says which position it holds, and the value, on their
/// own cache line(s).
#[repr(align(64))]
struct Slot<T> {
    seq: AtomicU64,
    val: UnsafeCell<MaybeUninit<T>>,
}

/// A value on its own cache line.
#[repr(align(64))]
struct Padded<T>(T);

struct Shared<T> {
    slots: Box<[Slot<T>]>,
    /// Positions consumed so far (written by the consumer after each receive).
    head: Padded<AtomicU64>,
    /// Positions produced, stored by the producer when it is dropped (for cleanup).
    tail: AtomicU64,
    dropped: AtomicU64,
}

// SAFETY: the value of position p is written only by the producer, after it has seen (Acquire
// on `head`) that position p - capacity (hence p - slot count) was consumed, and read only by
// the consumer, after it has seen (Acquire on the slot's `seq` == p + 1) that position p was
// written. The Release stores that pair with those loads order the value accesses, so the two
// threads never touch one slot's value at the same time; values cross threads, hence `T: Send`.
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: `Shared` owns the `T` values in its slots (dropped in its `Drop`); sending it sends
// them, which `T: Send` allows. Its other fields are atomics.
unsafe impl<T: Send> Send for Shared<T> {}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        let mask = self.slots.len() as u64 - 1;
        let (head, tail) = (*self.head.0.get_mut(), *self.tail.get_mut());
        for p in head..tail {
            // SAFETY: positions head..tail were written and not consumed, so those slots hold
            // initialised values; `&mut self` (both halves are gone) makes this the only access,
            // and each value is dropped once.
            unsafe {
                self.slots[(p & mask) as usize]
                    .val
                    .get_mut()
                    .assume_init_drop()
            };
        }
    }
}

/// Creates a bounded SPSC queue holding up to `capacity` values (at least 1).
///
/// The slot array is rounded up to a power of two (a position maps to its slot with a mask, not
/// a division); the queue still holds at most `capacity` values.
pub fn ring<T: Send>(capacity: usize) -> (RingTx<T>, RingRx<T>) {
    let cap = capacity.max(1);
    let n = cap.next_power_of_two();
    let slots: Box<[Slot<T>]> = (0..n)
        .map(|_| Slot {
            // "holds position seq - 1": 0 matches no position, so every slot starts empty
            seq: AtomicU64::new(0),
            val: UnsafeCell::new(MaybeUninit::uninit()),
        })
        .collect();
    let shared = Arc::new(Shared {
        slots,
        head: Padded(AtomicU64::new(0)),
        tail: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
    });
    let slots = shared.slots.as_ptr();
    let mask = n as u64 - 1;
    (
        RingTx {
            shared: shared.clone(),
            slots,
            mask,
            cap: cap as u64,
            tail: 0,
            cached_head: 0,
        },
        RingRx {
            shared,
            slots,
            mask,
            head: 0,
        },
    )
}

/// Sending half of a [`ring`].
///
/// Keeps its own copy of the slot array's address, mask and capacity, so a push reads no
/// shared line but the slot it writes (and the consumer's head, when its cached copy says full).
pub struct RingTx<T> {
    shared: Arc<Shared<T>>,
    slots: *const Slot<T>,
    mask: u64,
    cap: u64,
    tail: u64,
    cached_head: u64,
}

// SAFETY: `slots` points into `shared`, which this half keeps alive (the boxed slice never
// moves); the SPSC protocol (see `Shared`) lets the producer run on any one thread at a time,
// and what it sends across is `T: Send`. (Not `Sync`: `push` takes `&mut self`.)
unsafe impl<T: Send> Send for RingTx<T> {}
// SAFETY: as for `RingTx`: `slots` points into `shared`, kept alive by this half; the consumer
// may run on any one thread at a time and takes out values of a `T: Send`.
unsafe impl<T: Send> Send for RingRx<T> {}

impl<T> RingTx<T> {
    /// Enqueues `v`; when the queue is full, drops `v`, counts it and returns false. Never blocks.
    #[inline]
    pub fn push(&mut self, v: T) -> bool {
        if self.tail - self.cached_head >= self.cap {
            let sh = &*self.shared;
            self.cached_head = sh.head.0.load(Ordering::Acquire);
            if self.tail - self.cached_head >= self.cap {
                sh.dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        }
        // SAFETY: the slot count is a power of two and `mask` is count - 1, so `tail & mask` is
        // in bounds; the array lives as long as `shared`, which this half holds.
        let s = unsafe { &*self.slots.add((self.tail & self.mask) as usize) };
        // SAFETY: `tail - head < cap` (checked above, with `head` read with Acquire), so the
        // consumer has finished with this slot's previous value (moved out, or never written):
        // the producer alone accesses it until the Release store of `seq` below publishes it.
        unsafe { (*s.val.get()).write(v) };
        s.seq.store(self.tail + 1, Ordering::Release);
        self.tail += 1;
        true
    }

    /// Values dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Values enqueued so far.
    pub fn sent(&self) -> u64 {
        self.tail
    }
}

impl<T> Drop for RingTx<T> {
    fn drop(&mut self) {
        self.shared.tail.store(self.tail, Ordering::Release);
    }
}

/// Receiving half of a [`ring`].
pub struct RingRx<T> {
    shared: Arc<Shared<T>>,
    slots: *const Slot<T>,
    mask: u64,
    head: u64,
}

impl<T> RingRx<T> {
    #[inline]
    fn slot(&self) -> &Slot<T> {
        // SAFETY: `mask` is the power-of-two slot count - 1, so `head & mask` is in bounds; the
        // array lives as long as `shared`, which this half holds.
        unsafe { &*self.slots.add((self.head & self.mask) as usize) }
    }

    /// Dequeues the oldest value, if any. Never blocks.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let s = self.slot();
        if s.seq.load(Ordering::Acquire) != self.head + 1 {
            return None;
        }
        // SAFETY: `seq == head + 1` (Acquire): the producer wrote position `head` into this
        // slot and will not write it again before it sees the new head stored below; the value
        // is read (moved out) exactly once, since `head` then advances.
        let v = unsafe { (*s.val.get()).assume_init_read() };
        self.head += 1;
        self.shared.head.0.store(self.head, Ordering::Release);
        Some(v)
    }

    /// True when nothing is waiting.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.slot().seq.load(Ordering::Acquire) != self.head + 1
    }

    /// Values received so far.
    pub fn received(&self) -> u64 {
        self.head
    }

    /// Values the sender had to drop because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

/// Creates a latest-value slot holding `initial` until the first write.
pub fn latest<T: Clone + Send>(initial: T) -> (LatestTx<T>, LatestRx<T>) {
    let (i, o) = triple_buffer::triple_buffer(&initial);
    (
        LatestTx {
            inner: i,
            writes: 0,
        },
        LatestRx { inner: o },
    )
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
        assert_eq!(rx.received(), ok);
    }

    #[test]
    fn ring_wraps_and_drops_queued_values_exactly_once() {
        let token = Arc::new(());
        let (mut tx, mut rx) = ring::<Arc<()>>(3);
        for round in 0..10 {
            assert!(tx.push(token.clone()) && tx.push(token.clone()) && tx.push(token.clone()));
            assert!(
                !tx.push(token.clone()),
                "round {round}: 4th value must be dropped"
            );
            assert!(rx.pop().is_some() && rx.pop().is_some());
            assert!(!rx.is_empty());
            assert!(rx.pop().is_some());
            assert!(rx.pop().is_none() && rx.is_empty());
        }
        assert_eq!(Arc::strong_count(&token), 1);
        tx.push(token.clone());
        tx.push(token.clone());
        assert_eq!(Arc::strong_count(&token), 3);
        drop(tx);
        drop(rx);
        assert_eq!(
            Arc::strong_count(&token),
            1,
            "queued values leaked or dropped twice"
        );
        let (mut tx, mut rx) = ring::<u8>(0); // capacity 1
        assert!(tx.push(1) && !tx.push(2));
        assert_eq!((rx.pop(), rx.pop()), (Some(1), None));
        assert!(tx.push(3));
        assert_eq!(rx.pop(), Some(3));
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
