//! Dot products on `f32` slices: AVX2+FMA when the CPU has it (checked once at run time),
//! otherwise a portable 8-lane loop the compiler vectorises.
//!
//! Written by hand because it is the innermost loop of every search; the dispatch costs one
//! predictable branch on a cached flag.

// Unsafe code: AVX2/FMA and prefetch intrinsics.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 portable, 2 avx2+fma

#[inline]
fn level() -> u8 {
    let l = LEVEL.load(Ordering::Relaxed);
    if l != 0 {
        return l;
    }
    #[cfg(target_arch = "x86_64")]
    let l = if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        2
    } else {
        1
    };
    #[cfg(not(target_arch = "x86_64"))]
    let l = 1;
    LEVEL.store(l, Ordering::Relaxed);
    l
}

/// Which kernel [`dot`] uses on this CPU (for reports).
pub fn kernel_name() -> &'static str {
    if level() == 2 {
        "avx2+fma"
    } else {
        "portable"
    }
}

/// Inner product of two equally long slices (the shorter length is used if they differ).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    #[cfg(target_arch = "x86_64")]
    if level() == 2 {
        // SAFETY: `level() == 2` only when the CPU reports AVX2 and FMA at run time
        // (`is_x86_feature_detected!`), the target features `dot_avx2` is compiled for; `a` and
        // `b` have the same length `n`, which is all it reads.
        return unsafe { dot_avx2(a, b) };
    }
    dot_portable(a, b)
}

/// Portable kernel: 8 independent accumulators so the compiler can vectorise without
/// reassociating a single sum.
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Asks the CPU to fetch the two cache lines at `p` (a vector about to be read); a hint only.
#[inline(always)]
pub(crate) fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is part of the x86_64 baseline (SSE) and is a hint: it never faults
    // and reads nothing into the program, whatever the address (`wrapping_add` keeps the
    // address arithmetic defined).
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch(p as *const i8, _MM_HINT_T0);
        _mm_prefetch((p as *const i8).wrapping_add(64), _MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// # Safety
/// The CPU supports AVX2 and FMA, and `b.len() >= a.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len();
    let pa = a.as_ptr();
    let pb = b.as_ptr();
    let mut s0 = _mm256_setzero_ps();
    let mut s1 = _mm256_setzero_ps();
    let mut s2 = _mm256_setzero_ps();
    let mut s3 = _mm256_setzero_ps();
    let mut i = 0;
    while i + 32 <= n {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), s0);
        s1 = _mm256_fmadd_ps(
            _mm256_loadu_ps(pa.add(i + 8)),
            _mm256_loadu_ps(pb.add(i + 8)),
            s1,
        );
        s2 = _mm256_fmadd_ps(
            _mm256_loadu_ps(pa.add(i + 16)),
            _mm256_loadu_ps(pb.add(i + 16)),
            s2,
        );
        s3 = _mm256_fmadd_ps(
            _mm256_loadu_ps(pa.add(i + 24)),
            _mm256_loadu_ps(pb.add(i + 24)),
            s3,
        );
        i += 32;
    }
    while i + 8 <= n {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), s0);
        i += 8;
    }
    let s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    let hi = _mm256_extractf128_ps(s, 1);
    let lo = _mm256_castps256_ps128(s);
    let q = _mm_add_ps(hi, lo);
    let q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    let q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
    let mut r = _mm_cvtss_f32(q);
    while i < n {
        r += *pa.add(i) * *pb.add(i);
        i += 1;
    }
    r
}

/// Scales `v` to unit length; returns the original norm (0 or non-finite: `v` is left as is).
pub fn normalize(v: &mut [f32]) -> f32 {
    let n = dot(v, v).sqrt();
    if n > 0.0 && n.is_finite() {
        let inv = 1.0 / n;
        for x in v.iter_mut() {
            *x *= inv;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_agree_with_naive_sum() {
        for n in [0usize, 1, 7, 8, 31, 32, 33, 256, 257] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.1).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.2).collect();
            let naive: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot(&a, &b) as f64 - naive).abs() < 1e-3, "n={n}");
            assert!((dot_portable(&a, &b) as f64 - naive).abs() < 1e-3, "n={n}");
        }
    }
}
