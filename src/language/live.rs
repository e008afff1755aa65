//! The lexicon on a running agent: operator labels (`sattva/label`) ground in the most recent
//! experience's attractor; `sattva/understand` answers in the current context. Runs on the learn
//! task beside the learner (not the control task: the lexicon allocates as it grows).

use crate::repeat::Repeated;
use crate::substrate::{AttractorId, Learned, Substrate};

use super::{Context, LanguageError, Lexicon, Understanding};

/// The most recent experience the learner absorbed.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Recent {
    attractor: u32,
    /// When it was learned, ns (the learn task's clock).
    at_ns: i64,
}

/// A lexicon taught and asked while the agent runs.
pub struct LiveLexicon {
    lexicon: Lexicon,
    window_ns: i64,
    last: Option<Recent>,
    /// The attractor learned before the last one (the last experience's context).
    before: Option<u32>,
    /// What the previous utterance was understood as (dialogue context).
    dialogue: Option<u32>,
    dirty: bool,
    refused: Repeated,
}

impl LiveLexicon {
    /// A live lexicon starting from `lexicon`; labels name an experience learned at most
    /// `window_s` before.
    pub fn new(lexicon: Lexicon, window_s: f64) -> LiveLexicon {
        LiveLexicon {
            lexicon,
            window_ns: (window_s * 1e9) as i64,
            last: None,
            before: None,
            dialogue: None,
            dirty: false,
            refused: Repeated::default(),
        }
    }

    /// The lexicon.
    pub fn lexicon(&self) -> &Lexicon {
        &self.lexicon
    }

    /// The learner absorbed an experience into `l.id` at `now_ns`: follows the substrate's
    /// merges and evictions, and remembers it as the most recent experience.
    pub fn learned(&mut self, l: &Learned, now_ns: i64) {
        if let Some(e) = l.evicted {
            self.lexicon.forget(e.0);
        }
        if let Some(m) = l.merged {
            self.lexicon.merge(m.0, l.id.0);
        }
        if l.created {
            // a reused slot starts without words
            self.lexicon.forget(l.id.0);
        }
        self.before = self.last.map(|r| r.attractor);
        self.last = Some(Recent {
            attractor: l.id.0,
            at_ns: now_ns,
        });
    }

    /// An operator's label `text` at `now_ns`: grounds it in the most recent experience's
    /// attractor (and adds it to the attractor's labels) when that experience was learned within
    /// the window; otherwise refuses it (logged once per power of ten). Returns the attractor.
    pub fn label(
        &mut self,
        text: &str,
        now_ns: i64,
        substrate: &mut Substrate,
    ) -> Result<u32, LanguageError> {
        let r = self.try_label(text, now_ns, substrate);
        if let Err(e) = &r {
            crate::warn_repeated!(self.refused, error = %e, "sattva/label refused");
        }
        r
    }

    fn try_label(
        &mut self,
        text: &str,
        now_ns: i64,
        substrate: &mut Substrate,
    ) -> Result<u32, LanguageError> {
        let words = super::words(text);
        if words.is_empty() {
            return Err(LanguageError::Empty);
        }
        let Some(r) = self.last else {
            return Err(LanguageError::NoRecentExperience(
                "no experience learned yet".into(),
            ));
        };
        let age = now_ns.saturating_sub(r.at_ns);
        if age > self.window_ns {
            return Err(LanguageError::NoRecentExperience(format!(
                "the last experience was learned {:.1} s ago (window {:.1} s)",
                age as f64 * 1e-9,
                self.window_ns as f64 * 1e-9
            )));
        }
        if !substrate.add_label(AttractorId(r.attractor), &words.join(" ")) {
            return Err(LanguageError::NoRecentExperience(
                "the last experience's attractor is gone".into(),
            ));
        }
        let ctx = Context {
            scene: None,
            recent: self.before.map(|b| vec![(b, 1.0)]).unwrap_or_default(),
        };
        self.lexicon
            .observe_in(text, &ctx, r.attractor, None, &*substrate);
        self.dirty = true;
        Ok(r.attractor)
    }

    /// Understands `text` in the current context: the last experience's attractor and what the
    /// previous utterance was understood as, and how the attractors' acts (their action
    /// memories) relate to theirs. Meanings whose attractor is gone are dropped.
    pub fn understand(
        &mut self,
        text: &str,
        substrate: &Substrate,
        k: usize,
    ) -> Result<Understanding, LanguageError> {
        let mut recent = Vec::with_capacity(2);
        if let Some(r) = self.last {
            recent.push((r.attractor, 1.0));
        }
        if let Some(d) = self
            .dialogue
            .filter(|d| Some(*d) != self.last.map(|r| r.attractor))
        {
            recent.push((d, 0.5));
        }
        let ctx = Context {
            scene: None,
            recent,
        };
        let mut u = self.lexicon.understand_in(text, &ctx, k + 4, substrate)?;
        u.meanings.retain(|m| {
            substrate
                .attractor(AttractorId(m.attractor), crate::types::Time::ZERO)
                .is_some()
        });
        u.meanings.truncate(k);
        self.dialogue = u.meanings.first().map(|m| m.attractor);
        Ok(u)
    }

    /// True once after labels changed the lexicon (time to save it).
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::substrate::SubstrateConfig;
    use crate::types::Time;

    fn substrate() -> Substrate {
        Substrate::new(SubstrateConfig {
            dim: 8,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn a_label_names_the_recent_experience_or_is_refused() {
        let mut s = substrate();
        let mut live = LiveLexicon::new(Lexicon::new(), 1.0);
        // nothing learned yet: refused
        assert!(matches!(
            live.label("wave", 0, &mut s),
            Err(LanguageError::NoRecentExperience(_))
        ));
        let l = s
            .learn(Time(0), &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
            .unwrap();
        live.learned(&l, 1_000_000_000);
        // within the window (1 s): grounded, the attractor carries the label
        assert_eq!(live.label("Wave!", 1_500_000_000, &mut s).unwrap(), l.id.0);
        assert_eq!(s.attractor(l.id, Time(0)).unwrap().labels, ["wave"]);
        // 1.5 s after the experience: refused, nothing learned from it
        let e = live.label("nod", 2_500_000_000, &mut s).unwrap_err();
        assert!(e.to_string().contains("1.5 s ago"), "{e}");
        assert!(matches!(
            live.label("   ", 1_100_000_000, &mut s),
            Err(LanguageError::Empty)
        ));
        let u = live.understand("wave", &s, 3).unwrap();
        assert_eq!(u.meanings[0].attractor, l.id.0);
        assert!(matches!(
            live.understand("nod", &s, 3),
            Err(LanguageError::Unknown(_))
        ));
        assert!(live.take_dirty() && !live.take_dirty());
    }
}
