//! The STL spec syntax (close to RTAMT's): a hand-written lexer and precedence-climbing parser
//! (start-up only, not on the RT path; a parser generator would add a build step for a grammar
//! of a dozen rules). Errors carry the 1-based column in the spec and what was expected.
//!
//! ```text
//! formula  := implies
//! implies  := or [ ("implies" | "->") implies ]           right-associative
//! or       := and { ("or" | "||") and }
//! and      := since { ("and" | "&&") since }
//! since    := unary { "since" [interval] unary }
//! unary    := "not" unary | ("always" | "eventually") interval unary
//!           | ("historically" | "once") [interval] unary
//!           | ("rise" | "fall") "(" formula ")" | cmp
//! cmp      := sum [ ("<" | "<=" | ">" | ">=" | "==" | "!=" | "!==") sum ]
//! sum      := prod { ("+" | "-") prod }
//! prod     := neg { ("*" | "/") neg }
//! neg      := "-" neg | number | signal | "abs" "(" sum ")" | "(" formula ")"
//! interval := "[" time (":" | ",") time "]"    time := number [s | ms | us | ns]   (seconds)
//! ```
//!
//! Formulas (boolean, robustness-valued) and expressions (real-valued signals) are told apart
//! after parsing ([`Expr::kind`]), so that `(x + 1) > 2` and `(x > 2) and (y < 1)` both parse.

use std::fmt;

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

/// Binary arithmetic and boolean operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bin {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `and`
    And,
    /// `or`
    Or,
    /// `implies`
    Implies,
}

/// Temporal operators over one operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Temporal {
    /// `always[a:b]` (bounded future: min over `[t+a, t+b]`).
    Always,
    /// `eventually[a:b]` (bounded future: max over `[t+a, t+b]`).
    Eventually,
    /// `historically[a:b]` (past: min over `[t-b, t-a]`; untimed: over all of the past).
    Historically,
    /// `once[a:b]` (past: max over `[t-b, t-a]`; untimed: over all of the past).
    Once,
}

/// An interval in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    /// Lower bound, ns.
    pub lo_ns: i64,
    /// Upper bound, ns.
    pub hi_ns: i64,
    /// Column of the `[`.
    pub col: usize,
}

/// A parsed spec node. `col` is the 1-based column of the node's operator or first token.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A number.
    Num(f64),
    /// A signal by name.
    Signal(String, usize),
    /// Unary minus.
    Neg(Box<Expr>, usize),
    /// `abs(e)`.
    Abs(Box<Expr>, usize),
    /// `not f`.
    Not(Box<Expr>, usize),
    /// Arithmetic or boolean binary operator.
    Bin(Bin, Box<Expr>, Box<Expr>, usize),
    /// Comparison: a predicate over two expressions.
    Cmp(Cmp, Box<Expr>, Box<Expr>, usize),
    /// `rise(f)` (true: false at the previous sample, true now).
    Rise(Box<Expr>, usize),
    /// `fall(f)`.
    Fall(Box<Expr>, usize),
    /// A unary temporal operator, optionally bounded.
    Temporal(Temporal, Option<Interval>, Box<Expr>, usize),
    /// `f since[a:b] g` (optionally bounded).
    Since(Option<Interval>, Box<Expr>, Box<Expr>, usize),
}

/// Whether a node is real-valued (an expression) or robustness-valued (a formula).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Numbers, signals, arithmetic.
    Real,
    /// Comparisons and everything built on them.
    Formula,
}

impl Expr {
    /// What the node yields.
    pub fn kind(&self) -> Kind {
        match self {
            Expr::Num(_) | Expr::Signal(..) | Expr::Neg(..) | Expr::Abs(..) => Kind::Real,
            Expr::Bin(Bin::Add | Bin::Sub | Bin::Mul | Bin::Div, ..) => Kind::Real,
            _ => Kind::Formula,
        }
    }

    /// Column of the node.
    pub fn col(&self) -> usize {
        match self {
            Expr::Num(_) => 0,
            Expr::Signal(_, c)
            | Expr::Neg(_, c)
            | Expr::Abs(_, c)
            | Expr::Not(_, c)
            | Expr::Bin(_, _, _, c)
            | Expr::Cmp(_, _, _, c)
            | Expr::Rise(_, c)
            | Expr::Fall(_, c)
            | Expr::Temporal(_, _, _, c)
            | Expr::Since(_, _, _, c) => *c,
        }
    }
}

/// A syntax error: column (1-based) and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based column (characters) in the spec.
    pub col: usize,
    /// What was found and what was expected.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.col, self.message)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Sym(&'static str),
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Num(x) => write!(f, "number `{x}`"),
            Tok::Ident(s) => write!(f, "`{s}`"),
            Tok::Sym(s) => write!(f, "`{s}`"),
            Tok::End => write!(f, "end of the spec"),
        }
    }
}

const SYMBOLS: [&str; 20] = [
    "!==", "->", "<=", ">=", "==", "!=", "&&", "||", "<", ">", "(", ")", "[", "]", ",", ":", "+",
    "-", "*", "/",
];

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, SyntaxError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    'outer: while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            // exponent: 1e-3, 2.5E6
            if i < chars.len()
                && (chars[i] == 'e' || chars[i] == 'E')
                && chars
                    .get(i + 1)
                    .is_some_and(|d| d.is_ascii_digit() || *d == '-' || *d == '+')
            {
                i += 2;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let text: String = chars[start..i].iter().collect();
            let x: f64 = text.parse().map_err(|_| SyntaxError {
                col,
                message: format!("`{text}` is not a number"),
            })?;
            out.push((Tok::Num(x), col));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), col));
            continue;
        }
        for s in SYMBOLS {
            let n = s.chars().count();
            if chars[i..].iter().take(n).copied().eq(s.chars()) {
                out.push((Tok::Sym(s), col));
                i += n;
                continue 'outer;
            }
        }
        return Err(SyntaxError {
            col,
            message: format!("unexpected character `{c}`"),
        });
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

/// Words that cannot name a signal.
pub const KEYWORDS: [&str; 13] = [
    "not",
    "and",
    "or",
    "implies",
    "always",
    "eventually",
    "historically",
    "once",
    "since",
    "rise",
    "fall",
    "abs",
    "until",
];

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

type R<T> = Result<T, SyntaxError>;

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn col(&self) -> usize {
        self.toks[self.pos].1
    }
    fn bump(&mut self) -> (Tok, usize) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Sym(x) if *x == s)
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Ident(x) if x == w)
    }
    fn err<T>(&self, expected: &str) -> R<T> {
        Err(SyntaxError {
            col: self.col(),
            message: format!("unexpected {}, expected {expected}", self.peek()),
        })
    }
    fn expect_sym(&mut self, s: &str) -> R<usize> {
        if self.is_sym(s) {
            Ok(self.bump().1)
        } else {
            self.err(&format!("`{s}`"))
        }
    }

    fn implies(&mut self) -> R<Expr> {
        let l = self.or()?;
        if self.is_word("implies") || self.is_sym("->") {
            let col = self.bump().1;
            let r = self.implies()?;
            return Ok(Expr::Bin(Bin::Implies, Box::new(l), Box::new(r), col));
        }
        Ok(l)
    }
    fn or(&mut self) -> R<Expr> {
        let mut l = self.and()?;
        while self.is_word("or") || self.is_sym("||") {
            let col = self.bump().1;
            let r = self.and()?;
            l = Expr::Bin(Bin::Or, Box::new(l), Box::new(r), col);
        }
        Ok(l)
    }
    fn and(&mut self) -> R<Expr> {
        let mut l = self.since()?;
        while self.is_word("and") || self.is_sym("&&") {
            let col = self.bump().1;
            let r = self.since()?;
            l = Expr::Bin(Bin::And, Box::new(l), Box::new(r), col);
        }
        Ok(l)
    }
    fn since(&mut self) -> R<Expr> {
        let mut l = self.unary()?;
        while self.is_word("since") {
            let col = self.bump().1;
            let iv = if self.is_sym("[") {
                Some(self.interval()?)
            } else {
                None
            };
            let r = self.unary()?;
            l = Expr::Since(iv, Box::new(l), Box::new(r), col);
        }
        Ok(l)
    }
    fn unary(&mut self) -> R<Expr> {
        let (tok, col) = (self.peek().clone(), self.col());
        let Tok::Ident(w) = tok else {
            return self.cmp();
        };
        let temporal = match w.as_str() {
            "not" => {
                self.bump();
                return Ok(Expr::Not(Box::new(self.unary()?), col));
            }
            "rise" | "fall" => {
                self.bump();
                self.expect_sym("(")?;
                let f = self.implies()?;
                self.expect_sym(")")?;
                return Ok(if w == "rise" {
                    Expr::Rise(Box::new(f), col)
                } else {
                    Expr::Fall(Box::new(f), col)
                });
            }
            "until" => {
                return Err(SyntaxError {
                    col,
                    message: "`until` is not supported: write the requirement with `since` (past) or `eventually[a:b]`".into(),
                })
            }
            "always" => Temporal::Always,
            "eventually" => Temporal::Eventually,
            "historically" => Temporal::Historically,
            "once" => Temporal::Once,
            _ => return self.cmp(),
        };
        self.bump();
        let iv = if self.is_sym("[") {
            Some(self.interval()?)
        } else {
            None
        };
        let f = self.unary()?;
        Ok(Expr::Temporal(temporal, iv, Box::new(f), col))
    }
    fn cmp(&mut self) -> R<Expr> {
        let l = self.sum()?;
        let op = match self.peek() {
            Tok::Sym("<") => Cmp::Lt,
            Tok::Sym("<=") => Cmp::Le,
            Tok::Sym(">") => Cmp::Gt,
            Tok::Sym(">=") => Cmp::Ge,
            Tok::Sym("==") => Cmp::Eq,
            Tok::Sym("!=") | Tok::Sym("!==") => Cmp::Ne,
            _ => return Ok(l),
        };
        let col = self.bump().1;
        let r = self.sum()?;
        Ok(Expr::Cmp(op, Box::new(l), Box::new(r), col))
    }
    fn sum(&mut self) -> R<Expr> {
        let mut l = self.prod()?;
        loop {
            let op = match self.peek() {
                Tok::Sym("+") => Bin::Add,
                Tok::Sym("-") => Bin::Sub,
                _ => return Ok(l),
            };
            let col = self.bump().1;
            let r = self.prod()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r), col);
        }
    }
    fn prod(&mut self) -> R<Expr> {
        let mut l = self.neg()?;
        loop {
            let op = match self.peek() {
                Tok::Sym("*") => Bin::Mul,
                Tok::Sym("/") => Bin::Div,
                _ => return Ok(l),
            };
            let col = self.bump().1;
            let r = self.neg()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r), col);
        }
    }
    fn neg(&mut self) -> R<Expr> {
        let (tok, col) = (self.peek().clone(), self.col());
        match tok {
            Tok::Sym("-") => {
                self.bump();
                Ok(Expr::Neg(Box::new(self.neg()?), col))
            }
            Tok::Num(x) => {
                self.bump();
                Ok(Expr::Num(x))
            }
            Tok::Sym("(") => {
                self.bump();
                let e = self.implies()?;
                self.expect_sym(")")?;
                Ok(e)
            }
            Tok::Ident(w) if w == "abs" => {
                self.bump();
                self.expect_sym("(")?;
                let e = self.sum()?;
                self.expect_sym(")")?;
                Ok(Expr::Abs(Box::new(e), col))
            }
            Tok::Ident(w) if !KEYWORDS.contains(&w.as_str()) => {
                self.bump();
                Ok(Expr::Signal(w, col))
            }
            _ => self.err("a signal, a number, `abs(`, `(` or a temporal operator"),
        }
    }
    fn time(&mut self) -> R<i64> {
        let col = self.col();
        let x = match self.bump().0 {
            Tok::Num(x) => x,
            t => {
                return Err(SyntaxError {
                    col,
                    message: format!("unexpected {t}, expected a time bound in seconds"),
                })
            }
        };
        let scale = match self.peek() {
            Tok::Ident(u) => match u.as_str() {
                "s" => 1e9,
                "ms" => 1e6,
                "us" => 1e3,
                "ns" => 1.0,
                _ => return self.err("a time unit (s, ms, us, ns), `:` or `]`"),
            },
            _ => 1e9,
        };
        if matches!(self.peek(), Tok::Ident(_)) {
            self.bump();
        }
        let ns = x * scale;
        if !ns.is_finite() || ns > 1e15 {
            return Err(SyntaxError {
                col,
                message: format!("time bound {x} is out of range"),
            });
        }
        Ok(ns.round() as i64)
    }
    fn interval(&mut self) -> R<Interval> {
        let col = self.expect_sym("[")?;
        let lo_ns = self.time()?;
        if !(self.is_sym(":") || self.is_sym(",")) {
            return self.err("`:` between the interval's bounds");
        }
        self.bump();
        let hi_col = self.col();
        let hi_ns = self.time()?;
        self.expect_sym("]")?;
        if hi_ns < lo_ns {
            return Err(SyntaxError {
                col: hi_col,
                message: format!(
                    "interval [{} s, {} s] is empty: expected the upper bound >= the lower bound",
                    lo_ns as f64 * 1e-9,
                    hi_ns as f64 * 1e-9
                ),
            });
        }
        Ok(Interval { lo_ns, hi_ns, col })
    }
}

/// Parses a spec into its syntax tree and checks that it is a formula (robustness-valued) with
/// formulas and expressions where each operator expects them.
pub fn parse(src: &str) -> Result<Expr, SyntaxError> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
    };
    if matches!(p.peek(), Tok::End) {
        return p.err("a formula, e.g. `always[0:0.1](vel_max < 2)`");
    }
    let e = p.implies()?;
    if !matches!(p.peek(), Tok::End) {
        return p.err(
            "an operator (`and`, `or`, `implies`, `since`, a comparison) or the end of the spec",
        );
    }
    want(&e, Kind::Formula, 1)?;
    Ok(e)
}

fn want(e: &Expr, k: Kind, parent_col: usize) -> Result<(), SyntaxError> {
    let col = if e.col() == 0 { parent_col } else { e.col() };
    if e.kind() != k {
        return Err(SyntaxError {
            col,
            message: match k {
                Kind::Formula => "expected a formula (a comparison such as `x > 1`, or a temporal or boolean formula), found a number-valued expression".into(),
                Kind::Real => "expected a number-valued expression (signal, number, arithmetic), found a formula".into(),
            },
        });
    }
    let f = Kind::Formula;
    let r = Kind::Real;
    match e {
        Expr::Num(_) | Expr::Signal(..) => Ok(()),
        Expr::Neg(a, c) | Expr::Abs(a, c) => want(a, r, *c),
        Expr::Not(a, c) | Expr::Rise(a, c) | Expr::Fall(a, c) | Expr::Temporal(_, _, a, c) => {
            want(a, f, *c)
        }
        Expr::Cmp(_, a, b, c) => {
            want(a, r, *c)?;
            want(b, r, *c)
        }
        Expr::Bin(op, a, b, c) => {
            let k = match op {
                Bin::Add | Bin::Sub | Bin::Mul | Bin::Div => r,
                _ => f,
            };
            want(a, k, *c)?;
            want(b, k, *c)
        }
        Expr::Since(_, a, b, c) => {
            want(a, f, *c)?;
            want(b, f, *c)
        }
    }
}

/// Signal names a spec uses, in order of first use, with their columns.
pub fn signals(e: &Expr, out: &mut Vec<(String, usize)>) {
    match e {
        Expr::Num(_) => {}
        Expr::Signal(s, c) => {
            if !out.iter().any(|(n, _)| n == s) {
                out.push((s.clone(), *c));
            }
        }
        Expr::Neg(a, _)
        | Expr::Abs(a, _)
        | Expr::Not(a, _)
        | Expr::Rise(a, _)
        | Expr::Fall(a, _)
        | Expr::Temporal(_, _, a, _) => signals(a, out),
        Expr::Bin(_, a, b, _) | Expr::Cmp(_, a, b, _) | Expr::Since(_, a, b, _) => {
            signals(a, out);
            signals(b, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        let e = parse("not x > 1 and y < 2 implies once[0:0.1] z >= 3").unwrap();
        let Expr::Bin(Bin::Implies, l, r, _) = e else {
            panic!("{e:?}")
        };
        assert!(matches!(*l, Expr::Bin(Bin::And, ..)));
        assert!(matches!(*r, Expr::Temporal(Temporal::Once, Some(_), ..)));
        let e = parse("(x + 1) * 2 > abs(-y)").unwrap();
        assert!(matches!(e, Expr::Cmp(Cmp::Gt, ..)));
    }

    #[test]
    fn intervals_in_seconds_with_units() {
        let Expr::Temporal(_, Some(iv), ..) = parse("always[10ms:0.2](x < 1)").unwrap() else {
            panic!()
        };
        assert_eq!((iv.lo_ns, iv.hi_ns), (10_000_000, 200_000_000));
    }

    #[test]
    fn errors_name_column_and_expectation() {
        let e = parse("x > ").unwrap_err();
        assert_eq!(e.col, 5);
        assert!(e.message.contains("expected a signal"), "{e}");
        let e = parse("always[0:0.1] (x + 1)").unwrap_err();
        assert_eq!(e.col, 18);
        assert!(e.message.contains("expected a formula"), "{e}");
        let e = parse("x > 1 y").unwrap_err();
        assert_eq!(e.col, 7);
        let e = parse("once[0.2:0.1] x > 1").unwrap_err();
        assert!(e.message.contains("empty"), "{e}");
    }
}
