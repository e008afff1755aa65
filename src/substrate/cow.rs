//! Row storage in fixed-size chunks shared by reference count, so that a snapshot is a cheap
//! clone of chunk pointers and the learner copies only the chunks it writes afterwards
//! (copy-on-write via [`Arc::make_mut`]).

use std::sync::Arc;

/// Rows per chunk: a written chunk of 256-float rows costs one 64 KiB copy per snapshot, below glibc's mmap threshold so chunks come from (and return to) the heap instead of fresh pages.
pub const CHUNK_ROWS: usize = 64;

/// A growable table of rows of `width` values of `T`, chunked for copy-on-write.
#[derive(Clone, Debug)]
pub struct CowRows<T> {
    width: usize,
    len: usize,
    /// Full-size chunks (`CHUNK_ROWS * width` values, rows past `len` hold the fill value);
    /// `Arc<[T]>` keeps the values inline after the count: one pointer hop per row access.
    chunks: Vec<Arc<[T]>>,
}

impl<T: Clone> CowRows<T> {
    /// An empty table of rows with `width` values each (`width >= 1`).
    pub fn new(width: usize) -> Self {
        Self {
            width: width.max(1),
            len: 0,
            chunks: Vec::new(),
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
        let o = (i % CHUNK_ROWS) * self.width;
        &self.chunks[i / CHUNK_ROWS][o..o + self.width]
    }

    /// Row `i` for writing; copies its chunk first if a snapshot still shares it.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [T] {
        let o = (i % CHUNK_ROWS) * self.width;
        let w = self.width;
        &mut Arc::make_mut(&mut self.chunks[i / CHUNK_ROWS])[o..o + w]
    }

    /// Appends a row filled with `fill`; returns its index.
    pub fn push(&mut self, fill: T) -> usize {
        let i = self.len;
        if i % CHUNK_ROWS == 0 {
            self.chunks
                .push(std::iter::repeat_n(fill, CHUNK_ROWS * self.width).collect());
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

    /// Bytes held by the chunks (capacity, not just length).
    pub fn heap_bytes(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| c.len() * std::mem::size_of::<T>() + 16)
            .sum::<usize>()
            + self.chunks.capacity() * std::mem::size_of::<Arc<[T]>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_shares_until_written() {
        let mut a = CowRows::<u32>::new(3);
        for i in 0..300 {
            let r = a.push(0);
            a.row_mut(r).fill(i);
        }
        let snap = a.clone();
        a.row_mut(5)[1] = 99;
        assert_eq!(snap.row(5), &[5, 5, 5]);
        assert_eq!(a.row(5), &[5, 99, 5]);
        assert_eq!(a.row(299), &[299, 299, 299]);
        assert_eq!(a.len(), 300);
    }
}
