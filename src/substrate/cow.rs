//! Row storage shared by reference count in two levels, so that a snapshot is a cheap clone
//! of a few group pointers and the learner copies only what it writes afterwards
//! (copy-on-write via [`Arc::make_mut`]).
//!
//! Rows live in chunks of [`CHUNK_ROWS`] rows (`Arc<[T]>`, values inline); chunks live in groups
//! of [`GROUP_CHUNKS`] (`Arc<[Arc<[T]>]>`). Cloning the table clones one `Arc` per group
//! (61 at 1M rows). After a clone, the first write into a group copies its 256 chunk pointers,
//! and the first write into a chunk copies that chunk (64 KiB for 256-float rows: below glibc's
//! mmap threshold, so chunks come from and return to the heap).

use std::sync::Arc;

/// Rows per chunk.
pub const CHUNK_ROWS: usize = 64;
/// Chunks per group.
pub const GROUP_CHUNKS: usize = 256;

/// A growable table of rows of `width` values of `T`, chunked for copy-on-write.
#[derive(Clone, Debug)]
pub struct CowRows<T> {
    width: usize,
    len: usize,
    /// Groups of chunks; unused chunk places hold a shared empty chunk.
    groups: Vec<Arc<[Arc<[T]>]>>,
}

impl<T: Clone> CowRows<T> {
    /// An empty table of rows with `width` values each (`width >= 1`).
    pub fn new(width: usize) -> Self {
        Self {
            width: width.max(1),
            len: 0,
            groups: Vec::new(),
        }
    }

    /// Values per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Row `i` (panics if `i >= len`; callers index only slots they created).
    #[inline]
    pub fn row(&self, i: usize) -> &[T] {
        let c = i / CHUNK_ROWS;
        let o = (i % CHUNK_ROWS) * self.width;
        &self.groups[c / GROUP_CHUNKS][c % GROUP_CHUNKS][o..o + self.width]
    }

    /// Row `i` for writing; copies its group and chunk first if a snapshot still shares them.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [T] {
        let c = i / CHUNK_ROWS;
        let o = (i % CHUNK_ROWS) * self.width;
        let w = self.width;
        let g = Arc::make_mut(&mut self.groups[c / GROUP_CHUNKS]);
        &mut Arc::make_mut(&mut g[c % GROUP_CHUNKS])[o..o + w]
    }

    /// Appends a row filled with `fill`; returns its index.
    pub fn push(&mut self, fill: T) -> usize {
        let i = self.len;
        if i % CHUNK_ROWS == 0 {
            let c = i / CHUNK_ROWS;
            let chunk: Arc<[T]> = std::iter::repeat_n(fill, CHUNK_ROWS * self.width).collect();
            if c % GROUP_CHUNKS == 0 {
                let empty: Arc<[T]> = Arc::from(Vec::new());
                self.groups
                    .push(std::iter::repeat_n(empty, GROUP_CHUNKS).collect());
            }
            let g = Arc::make_mut(&mut self.groups[c / GROUP_CHUNKS]);
            g[c % GROUP_CHUNKS] = chunk;
        } else {
            self.row_mut(i).fill(fill);
        }
        self.len += 1;
        i
    }

    /// Address of row `i` (for prefetching; `i < len`).
    #[inline]
    pub fn row_ptr(&self, i: usize) -> *const T {
        self.row(i).as_ptr()
    }

    /// Bytes held by the table.
    pub fn heap_bytes(&self) -> usize {
        let chunks = self.len.div_ceil(CHUNK_ROWS);
        chunks * (CHUNK_ROWS * self.width * std::mem::size_of::<T>() + 16)
            + self.groups.len() * (GROUP_CHUNKS * std::mem::size_of::<Arc<[T]>>() + 16)
            + self.groups.capacity() * std::mem::size_of::<Arc<[Arc<[T]>]>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_shares_until_written() {
        let mut a = CowRows::<u32>::new(3);
        let n = CHUNK_ROWS * GROUP_CHUNKS + 300; // more than one group
        for i in 0..n {
            let r = a.push(0);
            a.row_mut(r).fill(i as u32);
        }
        let snap = a.clone();
        a.row_mut(5)[1] = 99;
        a.row_mut(n - 1)[0] = 7;
        a.push(1);
        assert_eq!(snap.row(5), &[5, 5, 5]);
        assert_eq!(a.row(5), &[5, 99, 5]);
        assert_eq!(snap.row(n - 1), &[n as u32 - 1; 3]);
        assert_eq!(a.row(n - 1), &[7, n as u32 - 1, n as u32 - 1]);
        assert_eq!(a.row(n), &[1, 1, 1]);
        assert_eq!((a.len(), snap.len()), (n + 1, n));
        // Untouched rows still share memory.
        assert!(std::ptr::eq(a.row(1000).as_ptr(), snap.row(1000).as_ptr()));
    }
}
