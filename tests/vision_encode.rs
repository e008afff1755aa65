//! The visual modality separates experiences that move the arm alike but look different
//! (feature `render`). Runs through the full `sattva sim` episode path: the vision task renders
//! the scene camera at 10 Hz, 160x120 px in the virtual-time executor beside the control task.
//!
//! Two episodes of the same primitive (`reach_back`, same seed: identical arm motion) with the
//! object on the left (y = +0.25 m) vs the right (y = -0.25 m) of the table, out of the arm's
//! way. Without the visual modality their experiences collide (cosine above the substrate's
//! vigilance 0.9: one attractor); with it they separate (below 0.9).
#![cfg(feature = "render")]

use std::path::Path;

use sattva::action::{PlanRequest, PrimitiveParams};
use sattva::agent::AgentOptions;
use sattva::config::Config;
use sattva::encode::cosine;
use sattva::eval::Split;

fn config(vision: bool) -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut c = Config::load(&root.join("config/sim.yaml"), &[]).expect("config/sim.yaml");
    if let Some(m) = c.mujoco.as_mut() {
        if let Some(cam) = m.camera.as_mut() {
            cam.width = 160;
            cam.height = 120;
        }
    }
    c.vision.enabled = vision;
    c.vision.rate_hz = 10.0;
    c
}

fn pair(vision: bool) -> (f32, u64) {
    let c = config(vision);
    // encoder statistics from a short calibration (then frozen), then the two episodes,
    // recognised only (novel): the agent's journal keeps their experiences
    let sc = |y: f64| {
        (
            "reach_back".to_string(),
            Split::Novel,
            PrimitiveParams {
                object: [0.0, y],
                seed: 3,
                ..PrimitiveParams::default()
            },
        )
    };
    let plan = PlanRequest {
        calibration: 8,
        then: vec![sc(0.25), sc(-0.25)],
        ..Default::default()
    };
    let r = sattva::agent::run(
        &c,
        AgentOptions {
            virtual_rate: Some(0.0),
            curriculum: Some(plan),
            journal: true,
            ..Default::default()
        },
    )
    .expect("agent");
    let j = r.learner.as_ref().expect("learner").journal();
    let v: Vec<&Vec<f32>> = j
        .iter()
        .filter(|e| e.tag.is_some_and(|t| t.episode >= 8))
        .map(|e| &e.vector)
        .collect();
    assert_eq!(v.len(), 2, "both episodes became experiences");
    (cosine(v[0], v[1]), r.vision.map_or(0, |v| v.results))
}

#[test]
fn visual_modality_separates_what_the_arm_cannot_tell_apart() {
    let (without, frames0) = pair(false);
    let (with, frames) = pair(true);
    println!(
        "cosine(object left, object right), same arm motion: without vision {without:.4}, with vision {with:.4} ({frames} frames processed)"
    );
    assert_eq!(frames0, 0);
    assert!(
        frames > 100,
        "the vision task must have run ({frames} frames)"
    );
    assert!(
        without > 0.95,
        "without vision the two should collide: {without}"
    );
    assert!(with < 0.9, "with vision they should separate: {with}");
}
