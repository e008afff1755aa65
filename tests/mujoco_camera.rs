//! Headless RGB-D rendering of the scene camera (feature `render`): geometry checked against
//! the simulator's own camera pose, not against numbers the renderer produced.
#![cfg(feature = "render")]

use std::path::PathBuf;

use mujoco_rs::prelude::*;
use sattva::config::Config;
use sattva::types::RgbdFrame;

#[test]
fn scene_camera_renders_the_object_where_the_pinhole_model_puts_it() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let c = Config::load(&root.join("config/sim.yaml"), &[]).unwrap();
    let mut b = sattva::backend::mujoco::MujocoBackend::open(&c).unwrap();
    let mut cam = b.open_camera().expect("EGL offscreen renderer");
    let mut f = RgbdFrame::default();
    b.render(&mut cam, &mut f).unwrap();
    assert_eq!((f.width, f.height), (320, 240));
    assert_eq!(f.rgb.len(), 320 * 240 * 3);
    assert_eq!(f.depth.len(), 320 * 240);

    // project the object's centre with the camera pose from the simulator
    let (cam_pos, cam_mat, obj) = {
        let d = b.data().unwrap();
        let m = d.model();
        let cid = m.name_to_id(MjtObjBase::mjOBJ_CAMERA, "scene_cam").unwrap();
        let bid = m.name_to_id(MjtObjBase::mjOBJ_BODY, "object").unwrap();
        (d.cam_xpos()[cid], d.cam_xmat()[cid], d.xpos()[bid])
    };
    let rel = [
        obj[0] - cam_pos[0],
        obj[1] - cam_pos[1],
        obj[2] - cam_pos[2],
    ];
    // columns of cam_xmat are the camera axes; MuJoCo cameras look along -z, y up
    let axis = |k: usize| [cam_mat[k], cam_mat[3 + k], cam_mat[6 + k]];
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let (xc, yc, zc) = (dot(axis(0), rel), dot(axis(1), rel), -dot(axis(2), rel));
    let k = f.intrinsics;
    let u = (k.cx + k.fx * xc / zc).round() as usize;
    let v = (k.cy - k.fy * yc / zc).round() as usize;
    let i = v * 320 + u;
    let (r, g, bl) = (f.rgb[3 * i], f.rgb[3 * i + 1], f.rgb[3 * i + 2]);
    assert!(
        bl as i32 > r as i32 + 40,
        "object pixel ({u},{v}) should be blue, got rgb({r},{g},{bl})"
    );
    // depth at that pixel: the cube's near face is up to one half-diagonal (4.3 cm) in front of its centre
    let d = f.depth[i] as f64;
    assert!(
        d < zc && d > zc - 0.06,
        "depth {d} m vs centre depth {zc} m"
    );
    // the table fills the lower image: finite, positive depth everywhere on the bottom row
    assert!(f.depth[239 * 320..].iter().all(|&z| z > 0.3 && z < 3.0));
}
