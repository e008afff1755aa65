//! sattva: a real-time embodied learning agent for ROS 2.
//!
//! One control cycle, top-down (see `docs/ARCHITECTURE.md`: the assembly, the task graph, the modes):
//!
//! ```text
//! backend.read(t) -> SensorFrame -> fusion -> FusedState -> action -> safety clamp -> backend.write(t)
//!                                        \-> encode -> Experience -> substrate.learn / activate
//! ```
//!
//! Modules follow the pipeline stages. Native parts are behind features: `mujoco`, `render`,
//! `ros2`, `realsense`, `opencv`; the core (config, types, stages) builds and tests without them.

#![warn(missing_docs)]
// Unsafe code is denied except where the crate talks to C or the OS, or builds a lock-free or
// SIMD primitive; there an `allow(unsafe_code)` with a comment saying why marks the module or
// item, and every unsafe block and impl says why it is sound (`// SAFETY:`, enforced below):
// - `alloc_count`: the counting global allocator of the allocation tests (`GlobalAlloc`);
// - `backend::mujoco::log`: MuJoCo's process-wide log handler (C globals);
// - `backend::realsense::{sys, ffi, software, device}` and `bench::realsense`: librealsense's C
//   API, opened at run time, its frame callbacks and software device;
// - `sched::{clock, rt, channel}`: clock_nanosleep/mlockall/sched_*/prctl syscalls and the
//   lock-free SPSC ring; items of `bench::sched`: the cycle counter and the hog's `pre_exec`;
// - `substrate::{cow, simd}`: the huge-page row store, AVX2/FMA dot products and prefetch;
// - item `backend::camera::ThreadBound`: makes the renderer's thread-bound GL context movable.
// (MuJoCo itself is reached through mujoco-rs's safe API.)
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod action;
pub mod agent;
pub mod alloc_count;
pub mod backend;
pub mod bench;
pub mod cli;
pub mod config;
pub mod encode;
pub mod eval;
pub mod fusion;
pub mod language;
pub mod learn;
pub mod monitor;
pub mod observe;
pub mod peers;
pub mod pipeline;
pub mod record;
pub mod repeat;
pub mod replay;
pub mod ros;
pub mod run;
pub mod sched;
#[cfg(feature = "mujoco")]
pub mod sim;
pub mod substrate;
pub mod team;
pub mod types;
pub mod validate;
pub mod vision;
