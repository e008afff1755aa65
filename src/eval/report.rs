//! The literacy report: a text summary (Display), an HTML page with SVG figures (confusion
//! matrix, attractors over experiences), and the experience vectors with their true labels as
//! CSV. SVG is written directly: text renders without any system font, and the figures stay
//! small and diffable.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use super::literacy::{export_path, LiteracyReport, Row};
use super::EvalError;

impl fmt::Display for LiteracyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sattva eval literacy (seed {}): {} primitives, {} training experiences, {} novel scenarios",
            self.seed,
            self.labels.len(),
            self.train.len(),
            self.novel.len()
        )?;
        writeln!(f, "  attractors formed            {}", self.attractors)?;
        writeln!(
            f,
            "  attractors with experiences  {}",
            self.labelled_attractors
        )?;
        writeln!(
            f,
            "  primitives distinguished     {} / {}",
            self.distinguished,
            self.labels.len()
        )?;
        writeln!(f, "  purity (training)            {:.3}", self.purity)?;
        writeln!(f, "  NMI (training)               {:.3}", self.nmi)?;
        writeln!(
            f,
            "  recognition (novel)          {:.1} % (goal >= 90 %, chance {:.1} %)",
            100.0 * self.accuracy,
            100.0 * self.chance
        )?;
        if let Some(k) = &self.continual {
            writeln!(
                f,
                "  backward transfer            {:+.1} % (first {} primitives: {:.1} % after their half, {:.1} % at the end; goal >= -2 %)",
                100.0 * k.bwt(),
                k.first_half,
                100.0 * k.before,
                100.0 * k.after
            )?;
        }
        for (what, why) in &self.skipped {
            writeln!(f, "  skipped primitives           {what}: {why}")?;
        }
        writeln!(
            f,
            "  learn time per experience    p50 {:.1} us, p99 {:.1} us, max {:.1} us",
            self.learn_us[0], self.learn_us[1], self.learn_us[2]
        )?;
        writeln!(
            f,
            "  episode wall time            {:.1} ms (mean)",
            self.episode_ms
        )?;
        write!(
            f,
            "  control cycles               {} ({:.1} s simulated in {:.1} s wall, {:.0}x real time; clamp interventions {})",
            self.cycles,
            self.sim_s,
            self.wall_s,
            self.sim_s / self.wall_s.max(1e-9),
            self.clamp_events
        )?;
        for p in &self.files {
            write!(f, "\n  wrote {}", p.display())?;
        }
        Ok(())
    }
}

pub(crate) fn io(file: &Path) -> impl Fn(std::io::Error) -> EvalError + '_ {
    move |source| EvalError::Io {
        file: file.display().to_string(),
        source,
    }
}

fn csv_rows(out: &mut String, split: &str, rows: &[Row]) {
    for r in rows {
        let p = &r.scenario.params;
        let _ = write!(
            out,
            "{split},{},{},{},{},{},{},{},{},{}",
            r.scenario.primitive,
            r.scenario.name,
            p.amplitude,
            p.speed,
            p.object[0],
            p.object[1],
            p.mass,
            p.seed,
            r.cluster,
        );
        for v in &r.vector {
            let _ = write!(out, ",{v:e}");
        }
        out.push('\n');
    }
}

/// The export: one row per experience (training rows in learning order, then novel rows).
fn export_csv(r: &LiteracyReport) -> String {
    let dim = r.train.first().map_or(0, |x| x.vector.len());
    let mut s = String::from(
        "split,label,primitive,amplitude,speed,object_x,object_y,mass,seed,sattva_attractor",
    );
    for i in 0..dim {
        let _ = write!(s, ",v{i}");
    }
    s.push('\n');
    csv_rows(&mut s, "train", &r.train);
    csv_rows(&mut s, "novel", &r.novel);
    s
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// SVG confusion matrix (rows: true primitive, columns: recognised primitive, last: none).
fn confusion_svg(r: &LiteracyReport) -> String {
    let n = r.labels.len();
    let (cell, left, top) = (22.0, 150.0, 150.0);
    let w = left + cell * (n + 1) as f64 + 20.0;
    let h = top + cell * n as f64 + 20.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="10">"#
    );
    let _ = write!(
        s,
        r#"<text x="4" y="14" font-size="12">confusion on novel scenarios (rows: true, columns: recognised; last column: none)</text>"#
    );
    for (i, name) in r.labels.iter().enumerate() {
        let y = top + cell * i as f64 + cell * 0.7;
        let _ = write!(
            s,
            r#"<text x="{}" y="{y}" text-anchor="end">{}</text>"#,
            left - 4.0,
            esc(name)
        );
        let x = left + cell * i as f64 + cell * 0.7;
        let _ = write!(
            s,
            r#"<text transform="translate({x},{}) rotate(-60)">{}</text>"#,
            top - 4.0,
            esc(name)
        );
    }
    let x = left + cell * n as f64 + cell * 0.7;
    let _ = write!(
        s,
        r#"<text transform="translate({x},{}) rotate(-60)">(none)</text>"#,
        top - 4.0
    );
    for (i, row) in r.confusion.iter().enumerate() {
        let total: u64 = row.iter().sum::<u64>().max(1);
        for (j, &c) in row.iter().enumerate() {
            let a = c as f64 / total as f64;
            let (x, y) = (left + cell * j as f64, top + cell * i as f64);
            let color = if i == j { "30,120,200" } else { "210,60,40" };
            let _ = write!(
                s,
                r#"<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="rgba({color},{a:.3})" stroke="silver"/>"#
            );
            if c > 0 {
                let _ = write!(
                    s,
                    r#"<text x="{}" y="{}" text-anchor="middle">{c}</text>"#,
                    x + cell / 2.0,
                    y + cell * 0.7
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

/// SVG line plot: live attractors after each training experience.
fn attractors_svg(r: &LiteracyReport) -> String {
    let (w, h, l, b) = (640.0, 320.0, 50.0, 40.0);
    let v = &r.attractors_over_time;
    let n = v.len().max(1) as f64;
    let ymax = v.iter().copied().max().unwrap_or(1).max(r.labels.len()) as f64 * 1.1;
    let px = |i: f64| l + (w - l - 10.0) * i / n;
    let py = |y: f64| h - b - (h - b - 20.0) * y / ymax;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(
        s,
        r#"<text x="{l}" y="14" font-size="12">live attractors over training experiences (dashed: primitives)</text>"#
    );
    let _ = write!(
        s,
        r#"<line x1="{l}" y1="{}" x2="{}" y2="{}" stroke="black"/>"#,
        h - b,
        w - 10.0,
        h - b
    );
    let _ = write!(
        s,
        r#"<line x1="{l}" y1="20" x2="{l}" y2="{}" stroke="black"/>"#,
        h - b
    );
    for k in 0..=4 {
        let y = ymax / 1.1 * k as f64 / 4.0;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{:.0}</text>"#,
            l - 4.0,
            py(y) + 4.0,
            y
        );
        let x = n * k as f64 / 4.0;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{:.0}</text>"#,
            px(x),
            h - b + 16.0,
            x
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">training experiences</text>"#,
        (l + w) / 2.0,
        h - 6.0
    );
    let np = r.labels.len() as f64;
    let _ = write!(
        s,
        r#"<line x1="{l}" y1="{y}" x2="{}" y2="{y}" stroke="gray" stroke-dasharray="4 3"/>"#,
        w - 10.0,
        y = py(np)
    );
    let pts: Vec<String> = v
        .iter()
        .enumerate()
        .map(|(i, &a)| format!("{:.1},{:.1}", px(i as f64 + 1.0), py(a as f64)))
        .collect();
    let _ = write!(
        s,
        r#"<polyline fill="none" stroke="rgb(30,120,200)" stroke-width="2" points="{}"/>"#,
        pts.join(" ")
    );
    s.push_str("</svg>");
    s
}

/// The HTML page (figures inline).
pub fn html(r: &LiteracyReport, baselines: Option<&str>) -> String {
    let mut s = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>sattva literacy</title>\
         <style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em}</style></head><body>",
    );
    let _ = write!(
        s,
        "<h1>sattva eval literacy</h1><pre>{}</pre>",
        esc(&r.to_string())
    );
    if let Some(b) = baselines {
        let _ = write!(s, "<h2>Baselines (same vectors)</h2><pre>{}</pre>", esc(b));
    }
    let _ = write!(
        s,
        "<h2>Attractors over experiences</h2>{}",
        attractors_svg(r)
    );
    let _ = write!(s, "<h2>Confusion matrix</h2>{}", confusion_svg(r));
    s.push_str(
        "<p>Experience vectors with true labels: <code>experiences.csv</code>.</p></body></html>",
    );
    s
}

/// Writes the export, the figures and the page into `dir`; returns the files.
pub fn write_all(r: &LiteracyReport, dir: &Path) -> Result<Vec<PathBuf>, EvalError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let files = [
        (export_path(dir), export_csv(r)),
        (dir.join("confusion.svg"), confusion_svg(r)),
        (dir.join("attractors.svg"), attractors_svg(r)),
        (dir.join("report.html"), html(r, None)),
    ];
    let mut out = Vec::new();
    for (p, text) in files {
        std::fs::write(&p, text).map_err(io(&p))?;
        out.push(p);
    }
    Ok(out)
}

/// Rewrites `report.html` in `dir` with the baselines table beside sattva's figures.
pub fn write_html_with_baselines(
    r: &LiteracyReport,
    dir: &Path,
    baselines: &str,
) -> Result<(), EvalError> {
    let p = dir.join("report.html");
    std::fs::write(&p, html(r, Some(baselines))).map_err(io(&p))
}
