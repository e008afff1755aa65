//! A counting global allocator for proving that a code path allocates nothing.
//!
//! ```text
//! #[global_allocator]
//! static ALLOC: sattva::alloc_count::CountingAlloc = sattva::alloc_count::CountingAlloc;
//!
//! let before = sattva::alloc_count::allocations_on_this_thread();
//! rt_path();
//! assert_eq!(sattva::alloc_count::allocations_on_this_thread() - before, 0);
//! ```
//!
//! Counts are per thread, so other test threads running in parallel do not disturb a measurement.

// Unsafe code: implementing `GlobalAlloc` is unsafe by definition (it forwards to `System`).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

/// Wraps the system allocator and counts allocations (alloc, alloc_zeroed, realloc) per thread.
pub struct CountingAlloc;

fn bump() {
    // try_with: the thread-local may already be destroyed while a thread exits.
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract, and otherwise only bumps a thread-local counter (a `Cell`, no
// allocation, no unwinding), so the contract holds for `CountingAlloc` too.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

/// Allocations made by the calling thread so far (0 unless [`CountingAlloc`] is the global allocator).
pub fn allocations_on_this_thread() -> u64 {
    COUNT.with(|c| c.get())
}
