//! `sattva bench sched`.
