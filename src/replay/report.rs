//! `sattva replay <bag> --report <dir>`: an HTML evaluation report with SVG plots.
//!
//! Plots (SVG via plotters: text stays text, no font files needed on the machine):
//! fused orientation (roll, pitch, yaw) over bag time, against ground truth when frames carry it;
//! attractors over time and each experience as recognised or new (the replay learns);
//! per-cycle execution time of the control loop (wall clock, histogram); bag contents per topic;
//! with STL monitors (`--monitors`), each monitor's robustness over bag time and its counts.
//! A summary table carries the decode counters and the determinism hash.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::run::ReplaySummary;

/// Errors while writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// File system.
    #[error("report {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Plotting.
    #[error("report plot {path}: {message}")]
    Plot {
        /// The plot file.
        path: PathBuf,
        /// plotters' message.
        message: String,
    },
}

/// Time series collected during a replay (decimated; collected on the non-RT replay thread).
#[derive(Clone, Debug, Default)]
pub struct ReportData {
    /// Bag time of each sample, s.
    pub t: Vec<f64>,
    /// Fused roll, pitch, yaw, deg.
    pub rpy: Vec<[f64; 3]>,
    /// Ground-truth roll, pitch, yaw, deg (when frames carry truth).
    pub truth_rpy: Vec<Option<[f64; 3]>>,
    /// Wall-clock execution time of every control cycle, us.
    pub cycle_us: Vec<f64>,
    /// Bag topics: (name, type, message count).
    pub topics: Vec<(String, String, u64)>,
    /// What `truth_rpy` is: `ground truth`, `the bag's Imu.orientation`, or empty.
    pub reference: String,
    /// Vision over the replay (when enabled).
    pub vision: Option<super::run::VisionSummary>,
    /// Learning: per experience, (bag time s, attractors alive after it, created?, similarity to
    /// the nearest attractor before learning).
    pub learning: Vec<(f64, usize, bool, f32)>,
    /// The STL monitors evaluated over the replay.
    pub monitors: Vec<MonitorReport>,
}

/// One STL monitor over a replay.
#[derive(Clone, Debug)]
pub struct MonitorReport {
    /// The spec as written.
    pub spec: String,
    /// Its counters (exact: every cycle).
    pub summary: crate::monitor::MonitorSummary,
    /// `(bag time s, smallest robustness of the window)`, about 5000 windows over the bag.
    pub robustness: Vec<(f64, f64)>,
}

/// Roll, pitch, yaw (ZYX, degrees) of a unit quaternion `[w, x, y, z]`.
pub fn quat_to_rpy_deg(q: &[f64; 4]) -> [f64; 3] {
    let [w, x, y, z] = *q;
    let roll = (2.0 * (w * x + y * z)).atan2(1.0 - 2.0 * (x * x + y * y));
    let pitch = (2.0 * (w * y - z * x)).clamp(-1.0, 1.0).asin();
    let yaw = (2.0 * (w * z + x * y)).atan2(1.0 - 2.0 * (y * y + z * z));
    [roll.to_degrees(), pitch.to_degrees(), yaw.to_degrees()]
}

fn plot_err(path: &Path) -> impl Fn(String) -> ReportError + '_ {
    move |message| ReportError::Plot {
        path: path.to_path_buf(),
        message,
    }
}

fn plot_orientation(d: &ReportData, path: &Path) -> Result<(), ReportError> {
    let err = plot_err(path);
    let root = SVGBackend::new(path, (960, 720)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let panels = root.split_evenly((3, 1));
    let t_max = d.t.last().copied().unwrap_or(1.0).max(1e-3);
    for (k, (panel, name)) in panels.iter().zip(["roll", "pitch", "yaw"]).enumerate() {
        let vals = d
            .rpy
            .iter()
            .map(|r| r[k])
            .chain(d.truth_rpy.iter().flatten().map(|r| r[k]));
        let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let (lo, hi) = if lo.is_finite() {
            (lo - 1.0, hi + 1.0)
        } else {
            (-1.0, 1.0)
        };
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{name} (deg)"), ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..t_max, lo..hi)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("bag time (s)")
            .draw()
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(LineSeries::new(
                d.t.iter().zip(&d.rpy).map(|(t, r)| (*t, r[k])),
                &BLUE,
            ))
            .map_err(|e| err(e.to_string()))?
            .label("sattva fusion")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE));
        if d.truth_rpy.iter().any(Option::is_some) {
            chart
                .draw_series(LineSeries::new(
                    d.t.iter()
                        .zip(&d.truth_rpy)
                        .filter_map(|(t, r)| r.map(|r| (*t, r[k]))),
                    &RED,
                ))
                .map_err(|e| err(e.to_string()))?
                .label(if d.reference.is_empty() {
                    "reference".to_string()
                } else {
                    d.reference.clone()
                })
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(e.to_string()))?;
    }
    root.present().map_err(|e| err(e.to_string()))
}

fn plot_cycle_hist(d: &ReportData, path: &Path) -> Result<(), ReportError> {
    let mut sorted = d.cycle_us.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    // histogram up to the 99.9th percentile, 60 bins
    let hi = sorted
        .get(((sorted.len() as f64) * 0.999) as usize)
        .copied()
        .unwrap_or(1.0)
        .max(1.0);
    let bins = 60usize;
    let mut counts = vec![0u64; bins];
    for v in &sorted {
        let i = ((v / hi) * bins as f64) as usize;
        counts[i.min(bins - 1)] += 1;
    }
    let w = hi / bins as f64;
    let bars: Vec<(f64, f64, u64)> = counts
        .iter()
        .enumerate()
        .map(|(i, c)| (i as f64 * w, (i + 1) as f64 * w, *c))
        .collect();
    plot_bars(
        path,
        "control cycle execution time (wall clock, us)",
        ("us per cycle", "cycles"),
        &bars,
    )
}

/// A histogram as bars `(from, to, count)` into an SVG file (the report's one bar plot; also
/// used by `sattva run`'s summary).
pub(crate) fn plot_bars(
    path: &Path,
    caption: &str,
    (x_desc, y_desc): (&str, &str),
    bars: &[(f64, f64, u64)],
) -> Result<(), ReportError> {
    let err = plot_err(path);
    let root = SVGBackend::new(path, (960, 360)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let lo = bars.first().map_or(0.0, |b| b.0);
    let hi = bars.last().map_or(1.0, |b| b.1).max(lo + 1e-9);
    let max_c = bars.iter().map(|b| b.2).max().unwrap_or(1).max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(56)
        .build_cartesian_2d(lo..hi, 0u64..max_c + max_c / 10 + 1)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    chart
        .draw_series(
            bars.iter()
                .map(|&(a, b, c)| Rectangle::new([(a, 0), (b, c)], BLUE.mix(0.6).filled())),
        )
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))
}

/// Lines over a shared x axis into an SVG file (`sattva run`'s summary: learning over time).
pub(crate) fn plot_lines(
    path: &Path,
    caption: &str,
    (x_desc, y_desc): (&str, &str),
    series: &[(&str, Vec<(f64, f64)>)],
) -> Result<(), ReportError> {
    let err = plot_err(path);
    let root = SVGBackend::new(path, (960, 360)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let pts = series.iter().flat_map(|s| s.1.iter());
    let x_max = pts.clone().map(|p| p.0).fold(1e-3, f64::max);
    let y_max = pts.clone().map(|p| p.1).fold(1.0, f64::max);
    // from 0, or from below it when a series goes negative (robustness)
    let y_min = pts.map(|p| p.1).fold(0.0, f64::min);
    let pad = (y_max - y_min) * 0.05;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(56)
        .build_cartesian_2d(
            0.0..x_max,
            (y_min - if y_min < 0.0 { pad } else { 0.0 })..y_max + 2.0 * pad,
        )
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .map_err(|e| err(e.to_string()))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))
}

/// One monitor's robustness over bag time, with the violation threshold (0).
fn plot_monitor(m: &MonitorReport, path: &Path) -> Result<(), ReportError> {
    let pts: Vec<(f64, f64)> = m
        .robustness
        .iter()
        .copied()
        .filter(|p| p.1.is_finite())
        .collect();
    let t_max = m.robustness.last().map_or(1.0, |p| p.0);
    plot_lines(
        path,
        &format!("monitor {}: {}", m.summary.name, m.spec),
        ("bag time (s)", "robustness"),
        &[
            ("robustness (smallest per window)", pts),
            ("0: below is a violation", vec![(0.0, 0.0), (t_max, 0.0)]),
        ],
    )
}

fn plot_learning(d: &ReportData, path: &Path) -> Result<(), ReportError> {
    let err = plot_err(path);
    let root = SVGBackend::new(path, (960, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let (top, bottom) = root.split_vertically(280);
    let t_max = d.learning.last().map(|l| l.0).unwrap_or(1.0).max(1e-3);
    let n_max = d.learning.iter().map(|l| l.1).max().unwrap_or(1).max(1);
    let mut chart = ChartBuilder::on(&top)
        .caption("attractors over time", ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(48)
        .build_cartesian_2d(0.0..t_max, 0usize..n_max + n_max / 10 + 1)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("bag time (s)")
        .y_desc("attractors")
        .draw()
        .map_err(|e| err(e.to_string()))?;
    chart
        .draw_series(LineSeries::new(
            d.learning.iter().map(|l| (l.0, l.1)),
            &BLUE,
        ))
        .map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&bottom)
        .caption(
            "experiences: recognised (green) or new attractor (red); similarity to nearest",
            ("sans-serif", 16),
        )
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(48)
        .build_cartesian_2d(0.0..t_max, -1.0f32..1.05f32)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("bag time (s)")
        .y_desc("cosine")
        .draw()
        .map_err(|e| err(e.to_string()))?;
    chart
        .draw_series(d.learning.iter().map(|l| {
            let color = if l.2 { RED } else { GREEN };
            Circle::new((l.0, l.3), 3, color.filled())
        }))
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The head of a report page (style, title) and the start of its body.
pub(crate) fn html_head(title: &str, intro: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #999;padding:3px 8px;text-align:left}}</style></head><body>\
         <h1>{title}</h1>{intro}"
    )
}

/// Writes `index.html`, `orientation.svg` and `cycle_time.svg` into `dir`; returns the HTML path.
pub fn write_report(
    dir: &Path,
    bag: &Path,
    s: &ReplaySummary,
    d: &ReportData,
) -> Result<PathBuf, ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    plot_orientation(d, &dir.join("orientation.svg"))?;
    plot_cycle_hist(d, &dir.join("cycle_time.svg"))?;
    plot_learning(d, &dir.join("learning.svg"))?;
    let created = d.learning.iter().filter(|l| l.2).count();
    let mut cyc = d.cycle_us.clone();
    cyc.sort_by(|a, b| a.total_cmp(b));
    let mut h = html_head(
        "sattva replay report",
        &format!(
            "<p>bag: <code>{}</code></p>",
            html_escape(&bag.display().to_string())
        ),
    );
    h.push_str("<h2>Summary</h2><table>");
    let rows: Vec<(&str, String)> = vec![
        ("bag time covered", format!("{:.3} s", s.seconds)),
        ("control cycles", s.cycles.to_string()),
        ("cycles with IMU", s.imu_frames.to_string()),
        ("IMU samples decoded", s.stats.imu_samples.to_string()),
        ("joint samples decoded", s.stats.joint_samples.to_string()),
        ("decode errors", s.stats.decode_errors.to_string()),
        (
            "cycle time p50 / p99 / max",
            format!(
                "{:.1} / {:.1} / {:.1} us",
                pct(&cyc, 0.5),
                pct(&cyc, 0.99),
                cyc.last().copied().unwrap_or(0.0)
            ),
        ),
        ("experiences learned", d.learning.len().to_string()),
        (
            "attractors at the end",
            d.learning.last().map_or(0, |l| l.1).to_string(),
        ),
        (
            "recognised / new attractor",
            format!("{} / {created}", d.learning.len() - created),
        ),
        (
            "orientation reference",
            if d.truth_rpy.iter().any(Option::is_some) {
                html_escape(&d.reference)
            } else {
                "none (no ground truth, no Imu.orientation in the bag)".into()
            },
        ),
        (
            "orientation error vs reference (RMS roll / pitch / yaw)",
            rms_error(d),
        ),
        (
            "vision",
            match &d.vision {
                Some(v) => format!(
                    "{} camera frames, {} processed, {} yaw corrections applied, {} undecodable images",
                    v.frames, v.results, v.applied, v.decode_errors
                ),
                None => "off".into(),
            },
        ),
        (
            "learned-state hash",
            format!(
                "<code>{}</code>",
                s.fingerprint.learned.as_deref().unwrap_or("(no learning)")
            ),
        ),
        (
            "output hash (determinism)",
            format!("<code>{}</code>", s.fingerprint),
        ),
    ];
    for (k, v) in rows {
        let _ = write!(h, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    h.push_str("</table>");
    if !s.stats.bag_warnings.is_empty() {
        h.push_str("<h2>Bag warnings</h2><ul>");
        for w in &s.stats.bag_warnings {
            let _ = write!(h, "<li>{}</li>", html_escape(w));
        }
        h.push_str("</ul>");
    }
    h.push_str("<h2>Topics</h2><table><tr><th>topic</th><th>type</th><th>messages</th></tr>");
    for (n, t, c) in &d.topics {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{c}</td></tr>",
            html_escape(n),
            html_escape(t)
        );
    }
    h.push_str("</table>");
    if !d.monitors.is_empty() {
        h.push_str(
            "<h2>Safety monitors (STL)</h2><p>Evaluated every control cycle over the fused \
             state; robustness below zero is a violation. Counts are exact; the plots show the \
             smallest robustness per window.</p><table><tr><th>monitor</th><th>spec</th>\
             <th>violating cycles</th><th>onsets</th><th>min robustness</th></tr>",
        );
        for m in &d.monitors {
            let s = &m.summary;
            let _ = write!(
                h,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{:.6}</td></tr>",
                html_escape(&s.name),
                html_escape(&m.spec),
                s.violations,
                s.onsets,
                s.min_robustness
            );
        }
        h.push_str("</table>");
        for m in &d.monitors {
            let file = format!("monitor_{}.svg", m.summary.name);
            plot_monitor(m, &dir.join(&file))?;
            let _ = write!(
                h,
                "<h3>{}</h3><img src=\"{file}\" width=\"960\">",
                html_escape(&m.summary.name)
            );
        }
    }
    h.push_str(
        "<h2>Fused orientation</h2><img src=\"orientation.svg\" width=\"960\">\
        <h2>Learning: attractors and recognition</h2><img src=\"learning.svg\" width=\"960\">\
        <h2>Control loop timing</h2><img src=\"cycle_time.svg\" width=\"960\">\
        </body></html>",
    );
    let path = dir.join("index.html");
    std::fs::write(&path, h).map_err(io(&path))?;
    Ok(path)
}

/// RMS of the fused minus the reference roll, pitch and yaw (yaw after removing the mean
/// offset: the two headings need not share a reference), deg; `-` without a reference.
fn rms_error(d: &ReportData) -> String {
    let pairs: Vec<([f64; 3], [f64; 3])> = d
        .rpy
        .iter()
        .zip(&d.truth_rpy)
        .filter_map(|(a, b)| Some((*a, (*b)?)))
        .collect();
    if pairs.is_empty() {
        return "-".into();
    }
    let wrap = |x: f64| (x + 180.0).rem_euclid(360.0) - 180.0;
    let n = pairs.len() as f64;
    let yaw_off = pairs.iter().map(|(a, b)| wrap(a[2] - b[2])).sum::<f64>() / n;
    let rms = |k: usize, off: f64| {
        (pairs
            .iter()
            .map(|(a, b)| wrap(a[k] - b[k] - off).powi(2))
            .sum::<f64>()
            / n)
            .sqrt()
    };
    format!(
        "{:.2} / {:.2} / {:.2} deg ({} samples)",
        rms(0, 0.0),
        rms(1, 0.0),
        rms(2, yaw_off),
        pairs.len()
    )
}

#[cfg(test)]
mod tests {
    use super::quat_to_rpy_deg;

    #[test]
    fn rpy_of_known_rotations() {
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let r = quat_to_rpy_deg(&[h, 0.0, 0.0, h]); // 90 deg yaw
        assert!((r[2] - 90.0).abs() < 1e-9 && r[0].abs() < 1e-9 && r[1].abs() < 1e-9);
        let r = quat_to_rpy_deg(&[h, h, 0.0, 0.0]); // 90 deg roll
        assert!((r[0] - 90.0).abs() < 1e-9);
    }
}
