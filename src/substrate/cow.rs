//! Row storage shared by reference count in two levels, so that a snapshot is a cheap clone
//! of a few group pointers and the learner copies only what it writes afterwards
//! (copy-on-write via [`Arc::make_mut`]).
//!
//! Rows live in chunks of [`CHUNK_ROWS`] rows (`Arc<[T]>`, values inline); chunks live in groups
//! of [`GROUP_CHUNKS`] (`Arc<[Arc<[T]>]>`). Cloning the table clones one `Arc` per group
//! (61 at 1M rows). After a clone, the first write into a group copies its 256 chunk pointers,
//! and the first write into a chunk copies that chunk (64 KiB for 256-float rows: below glibc's
//! mmap threshold, so chunks come from and return to the heap).

// Unsafe code: the huge-page row store (`Block`: raw aligned allocation, `madvise`,
// and `HugeRows`' flat table of row pointers).
#![allow(unsafe_code)]

use std::sync::Arc;

/// Rows per chunk.
const CHUNK_ROWS: usize = 64;
/// Chunks per group.
const GROUP_CHUNKS: usize = 256;

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

    #[test]
    fn huge_rows_clone_shares_until_written() {
        for width in [3usize, 256, 300_000, 600_000] {
            let mut a = HugeRows::new(width);
            let n = 2 * a.rows_per_block + 5; // three blocks
            for i in 0..n {
                let r = a.push(0.0);
                assert_eq!(r, i);
                assert!(a.row(r).iter().all(|&x| x == 0.0));
                a.row_mut(r).fill(i as f32);
            }
            let snap = a.clone();
            a.row_mut(1)[0] = -1.0;
            a.row_mut(n - 1)[width - 1] = -2.0;
            a.push(0.5);
            for i in 0..n {
                assert_eq!(snap.row(i).len(), width);
                assert!(
                    snap.row(i).iter().all(|&x| x == i as f32),
                    "width {width} row {i}"
                );
            }
            assert_eq!(a.row(1)[0], -1.0);
            assert_eq!(a.row(1)[1], 1.0);
            assert_eq!(a.row(n - 1)[width - 1], -2.0);
            assert!(a.row(n).iter().all(|&x| x == 0.5));
            assert_eq!((a.len, snap.len), (n + 1, n));
            // Rows of untouched blocks still share memory.
            // (one row per block at the two large widths: rows 1, n - 1 and n were written)
            let mid = if a.rows_per_block == 1 {
                3
            } else {
                a.rows_per_block
            };
            assert!(std::ptr::eq(a.row(mid).as_ptr(), snap.row(mid).as_ptr()));
        }
    }

    #[test]
    fn huge_rows_block_of_row_matches_division() {
        for width in [1usize, 3, 7, 33, 256, 1000] {
            let t = HugeRows::new(width);
            for i in (0..5_000_000usize)
                .step_by(997)
                .chain([t.rows_per_block - 1, t.rows_per_block])
            {
                let (b, o) = t.split(i);
                assert_eq!(b, i / t.rows_per_block, "width {width} i {i}");
                assert_eq!(o, (i % t.rows_per_block) * width);
            }
        }
    }
}

/// Bytes of one chunk of a [`HugeRows`] table (one transparent huge page on x86-64 Linux).
const HUGE_CHUNK_BYTES: usize = 2 << 20;

/// One 2 MiB-aligned block of zero-initialised `f32`, marked for transparent huge pages.
///
/// Why not `Arc<[f32]>`: the global allocator gives no 2 MiB alignment, and on a machine with
/// THP in `madvise` mode (Debian's default) only `madvise(MADV_HUGEPAGE)`d, aligned blocks get
/// huge pages. Graph search reads ~1 KiB vectors at random addresses, so with 4 KiB pages almost
/// every neighbour costs a TLB miss (measured: ~25% of query time at 100k vectors).
struct Block {
    ptr: std::ptr::NonNull<f32>,
    floats: usize,
}

// SAFETY: `Block` owns its allocation exclusively, like a `Box<[f32]>`: moving it moves the
// ownership of plain `f32`s.
unsafe impl Send for Block {}
// SAFETY: through `&Block` the data is only read (`as_slice`); writing needs `&mut Block`.
unsafe impl Sync for Block {}

impl Block {
    fn layout(floats: usize) -> std::alloc::Layout {
        let bytes = (floats * 4).max(4).next_multiple_of(HUGE_CHUNK_BYTES);
        // Size and alignment are nonzero powers-of-two multiples: always a valid layout.
        std::alloc::Layout::from_size_align(bytes, HUGE_CHUNK_BYTES)
            .unwrap_or(std::alloc::Layout::new::<[f32; 1]>())
    }

    /// A zeroed block of `floats` values.
    fn zeroed(floats: usize) -> Self {
        let layout = Self::layout(floats);
        // SAFETY: `layout` has a nonzero size (at least one huge chunk) and a power-of-two
        // alignment, as `alloc` requires; null is handled below.
        let raw = unsafe { std::alloc::alloc(layout) } as *mut f32;
        let Some(ptr) = std::ptr::NonNull::new(raw) else {
            std::alloc::handle_alloc_error(layout)
        };
        #[cfg(target_os = "linux")]
        // SAFETY: `raw..raw + layout.size()` is the allocation just made, owned by us and
        // aligned to the huge-page chunk; MADV_HUGEPAGE is only a hint (it never changes the
        // contents or frees the range).
        unsafe {
            libc::madvise(raw as *mut libc::c_void, layout.size(), libc::MADV_HUGEPAGE);
        }
        // SAFETY: the allocation holds at least `floats * 4` bytes (`layout`), so writing
        // `floats` values stays inside it; all-zero bits are a valid `f32` (0.0).
        unsafe { std::ptr::write_bytes(raw, 0, floats) };
        Self { ptr, floats }
    }

    fn as_slice(&self) -> &[f32] {
        // SAFETY: `ptr` holds `floats` initialised values (zeroed in `zeroed`), owned by `self`
        // and alive while the returned borrow of `self` is.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.floats) }
    }

    fn as_mut_slice(&mut self) -> &mut [f32] {
        // SAFETY: as in `as_slice`, and `&mut self` makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.floats) }
    }
}

impl Clone for Block {
    fn clone(&self) -> Self {
        let mut b = Self::zeroed(self.floats);
        b.as_mut_slice().copy_from_slice(self.as_slice());
        b
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: `ptr` was allocated in `zeroed` with `Self::layout(self.floats)`, the same
        // layout (`floats` never changes), and is freed only here, once.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr() as *mut u8, Self::layout(self.floats)) };
    }
}

/// Rows of `f32` in 2 MiB huge-page blocks, shared copy-on-write like [`CowRows`] (a clone
/// shares every block; the first write into a shared block copies that block, 2 MiB).
///
/// Used for the index's vectors (the bulk of the memory, read at random by every search).
/// Rows never straddle blocks; the block of a row is found with a multiply instead of a
/// division (Lemire's fast division), and row addresses come from one flat pointer table.
#[derive(Clone)]
pub struct HugeRows {
    width: usize,
    len: usize,
    rows_per_block: usize,
    /// `ceil(2^64 / rows_per_block)`: `i / rows_per_block == (magic * i) >> 64` for `i < 2^32`.
    magic: u64,
    blocks: Vec<Arc<Block>>,
    /// Data pointer of each block (kept in step with `blocks`).
    ptrs: Vec<*const f32>,
}

// SAFETY: `ptrs` only caches the data addresses of the blocks that `self.blocks` keeps alive
// (`Arc<Block>`, and `Block` is `Send + Sync`); the raw pointers carry no thread affinity.
unsafe impl Send for HugeRows {}
// SAFETY: through `&HugeRows` the blocks are only read (via `ptrs`); writes need `&mut self`
// (`row_mut`, which first makes its block unique with `Arc::make_mut`).
unsafe impl Sync for HugeRows {}

impl std::fmt::Debug for HugeRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HugeRows")
            .field("width", &self.width)
            .field("len", &self.len)
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

impl HugeRows {
    /// An empty table of rows of `width` floats (`width >= 1`).
    pub fn new(width: usize) -> Self {
        let width = width.max(1);
        let rows_per_block = (HUGE_CHUNK_BYTES / (width * 4)).max(1);
        Self {
            width,
            len: 0,
            rows_per_block,
            magic: (u64::MAX / rows_per_block as u64).wrapping_add(1),
            blocks: Vec::new(),
            ptrs: Vec::new(),
        }
    }

    /// Values per row.
    pub fn width(&self) -> usize {
        self.width
    }

    #[inline(always)]
    fn split(&self, i: usize) -> (usize, usize) {
        let b = if self.rows_per_block == 1 {
            i
        } else if i <= u32::MAX as usize {
            ((self.magic as u128 * i as u128) >> 64) as usize
        } else {
            // the multiply is exact for 32-bit `i` only (the index's slots are `u32`)
            i / self.rows_per_block
        };
        (b, (i - b * self.rows_per_block) * self.width)
    }

    /// Row `i` (panics if its block does not exist; callers index only slots they created).
    #[inline(always)]
    pub fn row(&self, i: usize) -> &[f32] {
        let (b, o) = self.split(i);
        let p = self.ptrs[b];
        // SAFETY: block `b` exists (`self.ptrs[b]` is bounds-checked) and holds `rows_per_block`
        // rows of `width` initialised values; `split` gives `b = i / rows_per_block` for every
        // `i`, so `o` is the start of one of those rows and `o + width` is within the block;
        // `self.blocks[b]` keeps it alive, and no `&mut` to it exists while `self` is borrowed.
        unsafe { std::slice::from_raw_parts(p.add(o), self.width) }
    }

    /// Row `i` for writing; copies its block first if a snapshot still shares it.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        let (b, o) = self.split(i);
        let w = self.width;
        let blk = Arc::make_mut(&mut self.blocks[b]);
        self.ptrs[b] = blk.ptr.as_ptr();
        &mut blk.as_mut_slice()[o..o + w]
    }

    /// Appends a row filled with `fill`; returns its index.
    pub fn push(&mut self, fill: f32) -> usize {
        let i = self.len;
        if i == self.blocks.len() * self.rows_per_block {
            let blk = Block::zeroed(self.rows_per_block * self.width);
            self.ptrs.push(blk.ptr.as_ptr());
            self.blocks.push(Arc::new(blk));
        }
        self.len += 1;
        if fill != 0.0 {
            self.row_mut(i).fill(fill);
        }
        i
    }

    /// Address of row `i` (for prefetching).
    #[inline(always)]
    pub fn row_ptr(&self, i: usize) -> *const f32 {
        self.row(i).as_ptr()
    }

    /// Bytes held by the table (whole blocks: the last one is only partly used).
    pub fn heap_bytes(&self) -> usize {
        self.blocks.len() * (Block::layout(self.rows_per_block * self.width).size() + 24)
            + self.ptrs.capacity() * 8
            + self.blocks.capacity() * 8
    }
}
