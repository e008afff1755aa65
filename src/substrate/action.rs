//! Action memory: beside its center, each attractor keeps what was done in the experiences it
//! absorbed - the command profile over phase bins relative to the start state, and the
//! duration - averaged like the center (the same rate `max(1 / count, min_rate)` when an
//! experience strengthens it, count-weighted when two attractors merge). `action::perform`
//! plays it back.

/// What an attractor's experiences did, on average.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionMemory {
    /// Phase bins of the profile.
    pub bins: u32,
    /// Joints per bin.
    pub joints: u32,
    /// Mean duration of the experiences, s.
    pub duration_s: f32,
    /// `profile[bin * joints + j]`: joint j's commanded position relative to the start state
    /// at the end of phase bin `bin`, rad (or m).
    pub profile: Vec<f32>,
}

impl ActionMemory {
    /// An action memory from one experience's command profile (`bins * joints` values).
    /// None when the shape does not fit, a value is not finite or the duration is not positive.
    pub fn new(bins: usize, joints: usize, duration_s: f32, profile: &[f32]) -> Option<Self> {
        let ok = bins > 0
            && joints > 0
            && profile.len() == bins * joints
            && duration_s.is_finite()
            && duration_s > 0.0
            && profile.iter().all(|x| x.is_finite());
        ok.then(|| ActionMemory {
            bins: bins as u32,
            joints: joints as u32,
            duration_s,
            profile: profile.to_vec(),
        })
    }

    /// True when `other` has the same shape (bins, joints).
    pub fn same_shape(&self, other: &ActionMemory) -> bool {
        self.bins == other.bins && self.joints == other.joints
    }

    /// Moves this memory toward `x` by `rate` (the center's learning step). A memory of
    /// another shape replaces this one (the robot's layout changed).
    pub(crate) fn blend(&mut self, x: &ActionMemory, rate: f32) {
        if !self.same_shape(x) {
            self.clone_from(x);
            return;
        }
        for (a, b) in self.profile.iter_mut().zip(&x.profile) {
            *a += rate * (b - *a);
        }
        self.duration_s += rate * (x.duration_s - self.duration_s);
    }

    /// The count-weighted mean of two memories (a merge: `self` has weight `wa`, `other` `wb`).
    pub(crate) fn merge(&mut self, other: &ActionMemory, wa: f32, wb: f32) {
        let w = wa + wb;
        if w <= 0.0 {
            return;
        }
        self.blend(other, wb / w);
    }

    /// Values before the profile in the flat layout ([`ActionMemory::flat`]).
    pub const FLAT_HEADER: usize = 3;

    /// The memory as one flat vector, the peer protocol's `action_memory`:
    /// `[bins, joints, duration_s, profile...]` ([`ActionMemory::flat_len`] values).
    pub fn flat(&self) -> impl Iterator<Item = f32> + '_ {
        [self.bins as f32, self.joints as f32, self.duration_s]
            .into_iter()
            .chain(self.profile.iter().copied())
    }

    /// Length of [`ActionMemory::flat`].
    pub fn flat_len(&self) -> usize {
        Self::FLAT_HEADER + self.profile.len()
    }

    /// Reads the flat layout back; None when `v` is not one (bins or joints not a positive
    /// whole number, a length that does not match them, a value not finite, a duration not
    /// positive).
    pub fn from_flat(v: &[f32]) -> Option<Self> {
        let (&[bins, joints, duration_s], profile) = (v.first_chunk::<3>()?, &v[3..]);
        let whole = |x: f32| x.is_finite() && x >= 1.0 && x.fract() == 0.0 && x <= 1e6;
        if !whole(bins) || !whole(joints) {
            return None;
        }
        Self::new(bins as usize, joints as usize, duration_s, profile)
    }

    /// Heap bytes (for memory accounting).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.profile.capacity() * 4 + std::mem::size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_shapes_and_values() {
        assert!(ActionMemory::new(2, 1, 1.0, &[0.0, 1.0]).is_some());
        assert!(ActionMemory::new(2, 1, 1.0, &[0.0]).is_none());
        assert!(ActionMemory::new(2, 1, 0.0, &[0.0, 1.0]).is_none());
        assert!(ActionMemory::new(2, 1, 1.0, &[0.0, f32::NAN]).is_none());
    }

    #[test]
    fn the_flat_layout_round_trips_and_rejects_what_is_not_one() {
        let a = ActionMemory::new(2, 3, 1.5, &[0.0, 0.1, 0.2, 0.3, 0.4, 0.5]).unwrap();
        let v: Vec<f32> = a.flat().collect();
        assert_eq!(v, vec![2.0, 3.0, 1.5, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5]);
        assert_eq!(a.flat_len(), 9);
        assert_eq!(ActionMemory::from_flat(&v), Some(a));
        // too short for its shape, fractional or zero shape, bad duration, empty
        assert!(ActionMemory::from_flat(&v[..8]).is_none());
        assert!(ActionMemory::from_flat(&[1.5, 1.0, 1.0, 0.0]).is_none());
        assert!(ActionMemory::from_flat(&[0.0, 1.0, 1.0]).is_none());
        assert!(ActionMemory::from_flat(&[1.0, 1.0, -1.0, 0.0]).is_none());
        assert!(ActionMemory::from_flat(&[]).is_none());
        assert!(ActionMemory::from_flat(&[f32::NAN, 1.0, 1.0, 0.0]).is_none());
    }

    #[test]
    fn blend_and_merge_are_weighted_means() {
        let mut a = ActionMemory::new(1, 2, 1.0, &[0.0, 2.0]).unwrap();
        let b = ActionMemory::new(1, 2, 3.0, &[4.0, 2.0]).unwrap();
        a.blend(&b, 0.5); // the second experience of an attractor: rate 1/2
        assert_eq!(a.profile, vec![2.0, 2.0]);
        assert_eq!(a.duration_s, 2.0);
        // a has absorbed 3 experiences, b 1: (3 * 2 + 1 * 4) / 4 = 2.5
        a.merge(&b, 3.0, 1.0);
        assert_eq!(a.profile, vec![2.5, 2.0]);
        assert_eq!(a.duration_s, 2.25);
    }
}
