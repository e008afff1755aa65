//! The compiled evaluator: a spec becomes a flat list of nodes in post-order, each with its
//! state (ring buffers, monotonic deques) allocated once at compile time. [`Program::step`]
//! evaluates one sample in time bounded by the spec (no allocation, no branch on the trace
//! length).
//!
//! Semantics (discrete time, one sample per control period, quantitative robustness as RTAMT's
//! discrete-time online monitor computes it):
//!
//! - `x > c` / `x >= c`: `x - c`; `x < c` / `x <= c`: `c - x`; `x == c`: `-|x - c|`;
//!   `x != c`: `|x - c|`; `not f`: `-f`; `and`: min; `or`: max; `f implies g`: `max(-f, g)`;
//!   `rise(f)`: `min(-f(t-1), f(t))`, `fall(f)`: `min(f(t-1), -f(t))` (before the first
//!   sample `f(-1)` is `-inf` for rise, `+inf` for fall).
//! - Past operators are exact: `once[a:b] f` = max of `f` over `[t-b, t-a]`, `historically`
//!   = min, over the samples that exist (an empty window gives `-inf` / `+inf`); untimed: over
//!   all of the past. `f since[a:b] g` = max over `k` in `[a, b]` of
//!   `min(g(t-k), min over j in [0, k) of f(t-j))`.
//! - Bounded future operators are evaluated with their bound as a delay: the spec's horizon `H`
//!   (the sum of nested future upper bounds, the larger branch of a binary operator) is how far
//!   ahead it looks; at sample `n` the monitor reports the robustness **at time `n - H`**, exact,
//!   once `n >= H` (before, it reports nothing: NaN, never a violation). `always[a:b] f` = min
//!   of `f` over `[t+a, t+b]`, `eventually` = max. Sub-formulas with a smaller horizon are
//!   delayed to line up.
//!
//! Sliding maxima and minima use a monotonic deque (amortised O(1) per sample, memory the
//! window's length); the bounded `since` scans its window (O(b) per sample).

use super::parse::{Bin, Cmp, Expr, Interval, Temporal};

/// A fixed-capacity ring of the most recent values.
#[derive(Clone, Debug)]
struct Ring {
    buf: Box<[f64]>,
    head: usize,
    len: usize,
}

impl Ring {
    fn new(cap: usize) -> Ring {
        Ring {
            buf: vec![0.0; cap.max(1)].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }
    #[inline]
    fn push(&mut self, v: f64) {
        let cap = self.buf.len();
        self.head = if self.head + 1 == cap {
            0
        } else {
            self.head + 1
        };
        self.buf[self.head] = v;
        if self.len < cap {
            self.len += 1;
        }
    }
    /// The value `k` pushes ago (0 = newest); `k < len`.
    #[inline]
    fn get(&self, k: usize) -> f64 {
        // no `%` on the hot path: k < len <= cap
        let i = if self.head >= k {
            self.head - k
        } else {
            self.head + self.buf.len() - k
        };
        self.buf[i]
    }
    fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

/// Sliding-window max (or min) over the last `window` inserted indices: a monotonic deque in
/// a fixed ring.
#[derive(Clone, Debug)]
struct MonoDeque {
    idx: Box<[u64]>,
    val: Box<[f64]>,
    front: usize,
    len: usize,
    max: bool,
}

impl MonoDeque {
    fn new(window: usize, max: bool) -> MonoDeque {
        MonoDeque {
            idx: vec![0; window.max(1)].into_boxed_slice(),
            val: vec![0.0; window.max(1)].into_boxed_slice(),
            front: 0,
            len: 0,
            max,
        }
    }
    #[inline]
    fn slot(&self, k: usize) -> usize {
        // k <= len <= capacity: one conditional subtraction instead of `%`
        let s = self.front + k;
        if s >= self.idx.len() {
            s - self.idx.len()
        } else {
            s
        }
    }
    /// Inserts `v` at index `i` (indices increase by one per call).
    #[inline]
    fn push(&mut self, i: u64, v: f64) {
        // drop dominated values from the back
        while self.len > 0 {
            let b = self.val[self.slot(self.len - 1)];
            let dominated = if self.max { b <= v } else { b >= v };
            if !dominated {
                break;
            }
            self.len -= 1;
        }
        // the window never holds more than capacity indices: the oldest goes first
        if self.len == self.idx.len() {
            self.front = self.slot(1);
            self.len -= 1;
        }
        let s = self.slot(self.len);
        self.idx[s] = i;
        self.val[s] = v;
        self.len += 1;
    }
    /// Drops indices below `lo`.
    #[inline]
    fn evict_below(&mut self, lo: u64) {
        while self.len > 0 && self.idx[self.front] < lo {
            self.front = self.slot(1);
            self.len -= 1;
        }
    }
    #[inline]
    fn best(&self) -> f64 {
        if self.len == 0 {
            if self.max {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        } else {
            self.val[self.front]
        }
    }
    fn clear(&mut self) {
        self.front = 0;
        self.len = 0;
    }
}

#[derive(Clone, Debug)]
enum Op {
    Sig(usize),
    Const(f64),
    Neg,
    Abs,
    Bin(Bin),
    Cmp(Cmp),
    Not,
    Rise(f64),
    Fall(f64),
    /// Untimed once (max = true) / historically: running extreme.
    Running(bool, f64),
    /// Untimed since: previous output.
    Since(f64),
    /// Windowed max/min: the child delayed by `delay` samples, over the last `window` of them.
    Window {
        delay: usize,
        window: usize,
        hist: Ring,
        dq: MonoDeque,
        steps: u64,
    },
    /// Bounded since over `[lo, hi]` samples.
    SinceTimed {
        lo: usize,
        phi: Ring,
        psi: Ring,
    },
    /// The child delayed by `k` samples.
    Delay(usize, Ring),
}

#[derive(Clone, Debug)]
struct Node {
    op: Op,
    a: usize,
    b: usize,
    /// The node consumes its children from sample `h_in` on.
    h_in: u64,
    /// The node's output exists from sample `h_out` on (it is the value at `n - h_out`).
    h_out: u64,
}

/// Most samples one operator may look back or ahead (memory is allocated for it at start-up).
pub const MAX_WINDOW: u64 = 1 << 20;

/// A compile error: column and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// 1-based column of the offending operator or signal.
    pub col: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

/// A compiled spec: fixed-size, evaluated one sample at a time.
#[derive(Clone, Debug)]
pub struct Program {
    nodes: Vec<Node>,
    vals: Vec<f64>,
    n: u64,
}

struct Compiler<'a> {
    period_ns: i64,
    nodes: Vec<Node>,
    resolve: &'a mut dyn FnMut(&str, usize) -> Result<usize, CompileError>,
}

fn fmt_s(ns: i64) -> String {
    format!("{} s", ns as f64 * 1e-9)
}

impl Compiler<'_> {
    fn samples(&self, iv: &Interval) -> Result<(usize, usize), CompileError> {
        let p = self.period_ns;
        let mut out = [0usize; 2];
        for (k, ns) in [iv.lo_ns, iv.hi_ns].into_iter().enumerate() {
            if ns != 0 && ns < p {
                return Err(CompileError {
                    col: iv.col,
                    message: format!(
                        "interval bound {} is shorter than the control period {}: expected 0 or a multiple of the period",
                        fmt_s(ns),
                        fmt_s(p)
                    ),
                });
            }
            if ns % p != 0 {
                return Err(CompileError {
                    col: iv.col,
                    message: format!(
                        "interval bound {} is not a multiple of the control period {}: the monitor samples once per cycle",
                        fmt_s(ns),
                        fmt_s(p)
                    ),
                });
            }
            let s = (ns / p) as u64;
            if s > MAX_WINDOW {
                return Err(CompileError {
                    col: iv.col,
                    message: format!(
                        "interval bound {} is {s} control periods: expected at most {MAX_WINDOW}",
                        fmt_s(ns)
                    ),
                });
            }
            out[k] = s as usize;
        }
        Ok((out[0], out[1]))
    }

    fn push(&mut self, op: Op, a: usize, b: usize, h_in: u64, h_out: u64) -> usize {
        self.nodes.push(Node {
            op,
            a,
            b,
            h_in,
            h_out,
        });
        self.nodes.len() - 1
    }

    fn h(&self, i: usize) -> u64 {
        self.nodes[i].h_out
    }

    /// Delays node `i` so that its output lines up with horizon `h`.
    fn align(&mut self, i: usize, h: u64) -> usize {
        let hi = self.h(i);
        if hi == h {
            return i;
        }
        let k = (h - hi) as usize;
        self.push(Op::Delay(k, Ring::new(k + 1)), i, i, hi, h)
    }

    fn binary(&mut self, op: Op, a: &Expr, b: &Expr) -> Result<usize, CompileError> {
        let a = self.node(a)?;
        let b = self.node(b)?;
        let h = self.h(a).max(self.h(b));
        if h > MAX_WINDOW {
            return Err(CompileError {
                col: 1,
                message: format!(
                    "the spec looks {h} control periods ahead: expected at most {MAX_WINDOW}"
                ),
            });
        }
        let a = self.align(a, h);
        let b = self.align(b, h);
        Ok(self.push(op, a, b, h, h))
    }

    fn unary(&mut self, op: Op, a: &Expr) -> Result<usize, CompileError> {
        let a = self.node(a)?;
        let h = self.h(a);
        Ok(self.push(op, a, a, h, h))
    }

    fn node(&mut self, e: &Expr) -> Result<usize, CompileError> {
        match e {
            Expr::Num(x) => Ok(self.push(Op::Const(*x), 0, 0, 0, 0)),
            Expr::Signal(s, col) => {
                let slot = (self.resolve)(s, *col)?;
                Ok(self.push(Op::Sig(slot), 0, 0, 0, 0))
            }
            Expr::Neg(a, _) => self.unary(Op::Neg, a),
            Expr::Abs(a, _) => self.unary(Op::Abs, a),
            Expr::Not(a, _) => self.unary(Op::Not, a),
            Expr::Rise(a, _) => self.unary(Op::Rise(f64::NEG_INFINITY), a),
            Expr::Fall(a, _) => self.unary(Op::Fall(f64::INFINITY), a),
            Expr::Bin(op, a, b, _) => self.binary(Op::Bin(*op), a, b),
            Expr::Cmp(op, a, b, _) => self.binary(Op::Cmp(*op), a, b),
            Expr::Since(None, a, b, _) => self.binary(Op::Since(f64::NEG_INFINITY), a, b),
            Expr::Since(Some(iv), a, b, _) => {
                let (lo, hi) = self.samples(iv)?;
                self.binary(
                    Op::SinceTimed {
                        lo,
                        phi: Ring::new(hi + 1),
                        psi: Ring::new(hi + 1),
                    },
                    a,
                    b,
                )
            }
            Expr::Temporal(t, iv, a, col) => {
                let max = matches!(t, Temporal::Once | Temporal::Eventually);
                let Some(iv) = iv else {
                    return match t {
                        Temporal::Once | Temporal::Historically => {
                            let init = if max {
                                f64::NEG_INFINITY
                            } else {
                                f64::INFINITY
                            };
                            self.unary(Op::Running(max, init), a)
                        }
                        _ => Err(CompileError {
                            col: *col,
                            message: format!(
                                "unbounded future operator: `{}` needs an interval, e.g. `{}[0:0.1]`: an online monitor can wait only a bounded time",
                                if max { "eventually" } else { "always" },
                                if max { "eventually" } else { "always" },
                            ),
                        }),
                    };
                };
                let (lo, hi) = self.samples(iv)?;
                let c = self.node(a)?;
                let hc = self.h(c);
                let window = hi - lo + 1;
                let (delay, h_out) = match t {
                    // past: over [t-hi, t-lo]
                    Temporal::Once | Temporal::Historically => (lo, hc),
                    // future: over [t+lo, t+hi], reported hi samples late
                    _ => (0, hc + hi as u64),
                };
                if h_out > MAX_WINDOW {
                    return Err(CompileError {
                        col: *col,
                        message: format!(
                            "the spec looks {h_out} control periods ahead: expected at most {MAX_WINDOW}"
                        ),
                    });
                }
                Ok(self.push(
                    Op::Window {
                        delay,
                        window,
                        hist: Ring::new(delay + 1),
                        dq: MonoDeque::new(window, max),
                        steps: 0,
                    },
                    c,
                    c,
                    hc,
                    h_out,
                ))
            }
        }
    }
}

impl Program {
    /// Compiles a parsed spec for a loop of period `period_ns`; `resolve` maps a signal name
    /// (at a column) to its slot in the values [`Program::step`] gets.
    pub fn compile(
        e: &Expr,
        period_ns: i64,
        resolve: &mut dyn FnMut(&str, usize) -> Result<usize, CompileError>,
    ) -> Result<Program, CompileError> {
        let mut c = Compiler {
            period_ns,
            nodes: Vec::new(),
            resolve,
        };
        c.node(e)?;
        let n = c.nodes.len();
        Ok(Program {
            nodes: c.nodes,
            vals: vec![f64::NAN; n],
            n: 0,
        })
    }

    /// How many samples late the robustness is reported (the spec's future horizon).
    pub fn horizon(&self) -> u64 {
        self.nodes.last().map_or(0, |n| n.h_out)
    }

    /// Evaluates one sample of the signals `sig`; returns the robustness at sample
    /// `n - horizon()`, or NaN while `n < horizon()`. Allocation-free.
    pub fn step(&mut self, sig: &[f64]) -> f64 {
        let n = self.n;
        self.n += 1;
        for i in 0..self.nodes.len() {
            let (done, rest) = self.vals.split_at_mut(i);
            let node = &mut self.nodes[i];
            if n < node.h_in {
                rest[0] = f64::NAN;
                continue;
            }
            let x = done.get(node.a).copied().unwrap_or(f64::NAN);
            let y = done.get(node.b).copied().unwrap_or(f64::NAN);
            let v = match &mut node.op {
                Op::Sig(s) => sig[*s],
                Op::Const(c) => *c,
                Op::Neg | Op::Not => -x,
                Op::Abs => x.abs(),
                Op::Bin(b) => match b {
                    Bin::Add => x + y,
                    Bin::Sub => x - y,
                    Bin::Mul => x * y,
                    Bin::Div => x / y,
                    Bin::And => x.min(y),
                    Bin::Or => x.max(y),
                    Bin::Implies => (-x).max(y),
                },
                Op::Cmp(c) => match c {
                    Cmp::Lt | Cmp::Le => y - x,
                    Cmp::Gt | Cmp::Ge => x - y,
                    Cmp::Eq => -(x - y).abs(),
                    Cmp::Ne => (x - y).abs(),
                },
                Op::Rise(prev) => {
                    let r = (-*prev).min(x);
                    *prev = x;
                    r
                }
                Op::Fall(prev) => {
                    let r = prev.min(-x);
                    *prev = x;
                    r
                }
                Op::Running(max, acc) => {
                    *acc = if *max { acc.max(x) } else { acc.min(x) };
                    *acc
                }
                Op::Since(prev) => {
                    let r = y.max(x.min(*prev));
                    *prev = r;
                    r
                }
                Op::Window {
                    delay,
                    window,
                    hist,
                    dq,
                    steps,
                } => {
                    let m = *steps;
                    *steps += 1;
                    hist.push(x);
                    if hist.len > *delay {
                        dq.push(m - *delay as u64, hist.get(*delay));
                    }
                    // window [m - delay - (window - 1), m - delay]
                    let lo = (m + 1).saturating_sub((*delay + *window) as u64);
                    dq.evict_below(lo);
                    dq.best()
                }
                Op::SinceTimed { lo, phi, psi } => {
                    phi.push(x);
                    psi.push(y);
                    // newest first: the rings are written in step, so one index walks both
                    let mut out = f64::NEG_INFINITY;
                    let mut run = f64::INFINITY;
                    let cap = psi.buf.len();
                    let mut i = psi.head;
                    for k in 0..psi.len {
                        if k >= *lo {
                            out = out.max(psi.buf[i].min(run));
                        }
                        run = run.min(phi.buf[i]);
                        i = if i == 0 { cap - 1 } else { i - 1 };
                    }
                    out
                }
                Op::Delay(k, ring) => {
                    ring.push(x);
                    if ring.len > *k {
                        ring.get(*k)
                    } else {
                        f64::NAN
                    }
                }
            };
            rest[0] = if n < node.h_out { f64::NAN } else { v };
        }
        self.vals.last().copied().unwrap_or(f64::NAN)
    }

    /// Forgets the past (a world reset): the next sample is sample 0 again.
    pub fn reset(&mut self) {
        self.n = 0;
        for node in &mut self.nodes {
            match &mut node.op {
                Op::Rise(p) => *p = f64::NEG_INFINITY,
                Op::Fall(p) => *p = f64::INFINITY,
                Op::Running(max, acc) => {
                    *acc = if *max {
                        f64::NEG_INFINITY
                    } else {
                        f64::INFINITY
                    }
                }
                Op::Since(p) => *p = f64::NEG_INFINITY,
                Op::Window {
                    hist, dq, steps, ..
                } => {
                    hist.clear();
                    dq.clear();
                    *steps = 0;
                }
                Op::SinceTimed { phi, psi, .. } => {
                    phi.clear();
                    psi.clear();
                }
                Op::Delay(_, r) => r.clear(),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse;
    use super::*;

    fn run(spec: &str, period_ns: i64, xs: &[f64]) -> Vec<f64> {
        let e = parse(spec).unwrap();
        let mut p = Program::compile(&e, period_ns, &mut |s, col| match s {
            "x" => Ok(0),
            _ => Err(CompileError {
                col,
                message: "unknown".into(),
            }),
        })
        .unwrap();
        xs.iter().map(|&x| p.step(&[x])).collect()
    }

    #[test]
    fn past_window_by_hand() {
        // once[1:2] x > 0 at t: max of x over t-2..t-1 (nothing before the start: -inf)
        let r = run(
            "once[1:2](x > 0)",
            1_000_000_000,
            &[5.0, 1.0, 2.0, -3.0, 0.0],
        );
        assert_eq!(r[0], f64::NEG_INFINITY);
        assert_eq!(&r[1..], &[5.0, 5.0, 2.0, 2.0]);
    }

    #[test]
    fn future_window_reported_late_by_hand() {
        // always[0:2] x > 0 at t = min(x(t), x(t+1), x(t+2)), known at t+2
        let r = run(
            "always[0:2](x > 0)",
            1_000_000_000,
            &[5.0, 1.0, 2.0, -3.0, 0.0, 7.0],
        );
        assert!(r[0].is_nan() && r[1].is_nan());
        assert_eq!(&r[2..], &[1.0, -3.0, -3.0, -3.0]);
    }

    #[test]
    fn bounded_since_by_hand() {
        // (x > 0) since[0:1] (x > 4): g now, or g one sample ago and f now
        let r = run(
            "(x > 0) since[0:1] (x > 4)",
            1_000_000_000,
            &[5.0, 1.0, -1.0, 6.0],
        );
        assert_eq!(r, vec![1.0, 1.0, -3.0, 2.0]);
    }

    #[test]
    fn sibling_delay_by_hand() {
        // (x > 0) and eventually[0:2](x > 4): both at time n - 2
        let r = run(
            "(x > 0) and eventually[0:2](x > 4)",
            1_000_000_000,
            &[1.0, 2.0, 9.0, 3.0, 4.0],
        );
        assert!(r[0].is_nan() && r[1].is_nan());
        // t=0: min(1, max(-3, -2, 5)) = 1; t=1: min(2, max(-2, 5, -1)) = 2; t=2: min(9, 5) = 5
        assert_eq!(&r[2..], &[1.0, 2.0, 5.0]);
    }

    #[test]
    fn intervals_must_fit_the_period() {
        let e = parse("once[0:0.003](x > 0)").unwrap();
        let err = Program::compile(&e, 2_000_000, &mut |_, _| Ok(0)).unwrap_err();
        assert!(err.message.contains("not a multiple"), "{}", err.message);
        let e = parse("once[0.001:0.004](x > 0)").unwrap();
        let err = Program::compile(&e, 2_000_000, &mut |_, _| Ok(0)).unwrap_err();
        assert!(err.message.contains("shorter than the control period"));
        assert_eq!(err.col, 5);
        let e = parse("always (x > 0)").unwrap();
        let err = Program::compile(&e, 2_000_000, &mut |_, _| Ok(0)).unwrap_err();
        assert!(err.message.contains("unbounded future"));
    }
}
