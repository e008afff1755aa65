//! Offscreen RGB-D camera for the MuJoCo backend (feature `render`, headless EGL via Mesa).
//!
//! Rendering is slow next to physics (milliseconds per frame on a CPU), so it never runs inside
//! the RT control task: the camera-rate task calls [`crate::backend::mujoco::MujocoBackend::render`]
//! or keeps its own copy of the state.

use std::sync::Arc;

use mujoco_rs::prelude::*;
use mujoco_rs::renderer::MjRenderer;

use super::mujoco_config::CameraConfig;
use super::BackendError;
use crate::types::{CameraIntrinsics, RgbdFrame, Time};

/// A named MJCF camera rendered offscreen to RGB + metric depth.
pub struct MujocoCamera {
    renderer: MjRenderer,
    width: u32,
    height: u32,
    intrinsics: CameraIntrinsics,
}

impl std::fmt::Debug for MujocoCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MujocoCamera")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("intrinsics", &self.intrinsics)
            .finish()
    }
}

impl MujocoCamera {
    /// Opens an offscreen renderer for camera `cfg.name` of `model`.
    pub fn new(
        model: &MjModel,
        cfg: &CameraConfig,
        config_file: &str,
    ) -> Result<MujocoCamera, BackendError> {
        let mapping = |key: &str, message: String| BackendError::Mapping {
            file: config_file.to_string(),
            key: format!("sattva.ros__parameters.mujoco.camera.{key}"),
            message,
        };
        let id = model
            .name_to_id(MjtObjBase::mjOBJ_CAMERA, &cfg.name)
            .ok_or_else(|| {
                mapping(
                    "name",
                    format!("the model has no camera named `{}`", cfg.name),
                )
            })?;
        let global = &model.vis().global;
        if cfg.width > global.offwidth as u32 || cfg.height > global.offheight as u32 {
            return Err(mapping(
                "width",
                format!(
                    "{}x{} exceeds the model's offscreen buffer {}x{} (<visual><global offwidth offheight>)",
                    cfg.width, cfg.height, global.offwidth, global.offheight
                ),
            ));
        }
        let renderer = MjRenderer::builder()
            .width(cfg.width)
            .height(cfg.height)
            .rgb(true)
            .depth(true)
            .camera(MjvCamera::new_fixed(id))
            .build(model)
            .map_err(|e| BackendError::Model {
                file: config_file.to_string(),
                message: format!("offscreen renderer (EGL) for camera `{}`: {e:?}", cfg.name),
            })?;
        let fovy = model.cam_fovy()[id].to_radians();
        let fy = (cfg.height as f64 / 2.0) / (fovy / 2.0).tan();
        Ok(MujocoCamera {
            renderer,
            width: cfg.width,
            height: cfg.height,
            intrinsics: CameraIntrinsics {
                fx: fy,
                fy,
                cx: cfg.width as f64 / 2.0,
                cy: cfg.height as f64 / 2.0,
            },
        })
    }

    /// The camera's pinhole intrinsics.
    pub fn intrinsics(&self) -> CameraIntrinsics {
        self.intrinsics
    }

    /// Renders the current state of `data` into `out` (buffers reused across calls).
    pub fn render(
        &mut self,
        data: &mut MjData<Arc<MjModel>>,
        t: Time,
        out: &mut RgbdFrame,
    ) -> Result<(), BackendError> {
        let err = |e: mujoco_rs::renderer::RendererError| BackendError::Model {
            file: "<renderer>".into(),
            message: format!("render failed: {e:?}"),
        };
        self.renderer.sync_data(data).map_err(err)?;
        self.renderer.render().map_err(err)?;
        let (rgb, depth) = match (self.renderer.rgb_flat(), self.renderer.depth_flat()) {
            (Some(r), Some(d)) => (r, d),
            _ => {
                return Err(BackendError::Model {
                    file: "<renderer>".into(),
                    message: "renderer returned no image".into(),
                })
            }
        };
        out.t = t;
        out.width = self.width;
        out.height = self.height;
        out.intrinsics = self.intrinsics;
        out.rgb.clear();
        out.rgb.extend_from_slice(rgb);
        out.depth.clear();
        out.depth.extend_from_slice(depth);
        Ok(())
    }
}
