//! Where a control cycle stands in the command source's plan, as the learning segmenter needs
//! it: a curriculum marks the first and last cycle of each episode and tags it (label, role);
//! other sources leave cycles free (fixed windows).

/// What an experience is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// The learner decides: the first `learn.calibration_windows` calibrate, then learn.
    #[default]
    Auto,
    /// Calibrate the encoder's feature statistics only.
    Calibrate,
    /// Recognise, then learn.
    Learn,
    /// Recognise only (evaluation of novel scenarios).
    Recognise,
    /// Recognise only: the experience of a performance (`action::perform`), tagged with the
    /// requested attractor's label; the learn task reports what it was recognised as.
    Perform,
}

/// The teacher's word on an episode (fixed size: crosses the ring by value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tag {
    /// Label (e.g. the primitive's name); empty = none.
    pub label: &'static str,
    /// What the experience is for.
    pub role: Role,
    /// Index of the episode in its source (to find the scenario again).
    pub episode: u32,
}

/// Where a cycle stands in the command source's plan.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Mark {
    /// No plan: fixed windows.
    #[default]
    Free,
    /// Not part of any experience (a world reset, settling): the current one is dropped.
    Pause,
    /// First cycle of an episode.
    Begin(Tag),
    /// Inside the episode at this phase in `[0, 1]`.
    Within(f64),
    /// Last cycle of the episode at this phase.
    End(f64),
}
