//! REDCap's branching logic and calculations: a parser and an evaluator.
//! `[age] >= 18 and [consent(1)] = '1'` shows a field; `round([w]/([h]/100)^2, 1)`
//! computes one. What the parser does not support (smart variables, unknown
//! functions) is an `Unsupported` error for that field, listed at import
//! (`check_dictionary`), never a crash and never a guess. Logic nested
//! deeper than any project's (`MAX_DEPTH`, `MAX_NESTING`) is `TooDeep`,
//! so that no input can overflow the stack.
//!
//! Values follow REDCap: a blank field is the empty string; comparisons
//! are numeric when both sides are numbers, text otherwise; an ordering
//! comparison with a blank is false; arithmetic with a blank is blank.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use ts_rs::TS;

use super::Dictionary;

/// A reference to a field's value, optionally at an event, or to one
/// checkbox choice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, TS)]
pub struct FieldRef {
    pub event: Option<String>,
    pub field: String,
    /// `[meds(3)]`: the checkbox choice `3`, valued `1` or `0`.
    pub choice: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Field(FieldRef),
    Number(f64),
    Text(String),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    Call(Function, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    If,
    Datediff,
    Round,
    Rounddown,
    Roundup,
    Abs,
    Min,
    Max,
    Mean,
    Sum,
    Sqrt,
    Isnumber,
    Isblankormissingcode,
    Contains,
}

impl Function {
    fn parse(name: &str) -> Option<Function> {
        use Function::*;
        Some(match name.to_ascii_lowercase().as_str() {
            "if" => If,
            "datediff" => Datediff,
            "round" => Round,
            "rounddown" => Rounddown,
            "roundup" => Roundup,
            "abs" => Abs,
            "min" => Min,
            "max" => Max,
            "mean" => Mean,
            "sum" => Sum,
            "sqrt" => Sqrt,
            "isnumber" => Isnumber,
            "isblankormissingcode" => Isblankormissingcode,
            "contains" => Contains,
            _ => return None,
        })
    }
}

/// Why logic cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum LogicError {
    /// Malformed: the text and where it goes wrong.
    #[error("cannot read the logic at character {0}: {1}")]
    Syntax(usize, String),
    /// Valid REDCap, but a construct SiteDesk does not evaluate (a smart
    /// variable, a function it lacks).
    #[error("not supported offline: {0}")]
    Unsupported(String),
    /// Evaluation failed (a function given the wrong number of arguments).
    #[error("cannot evaluate: {0}")]
    Eval(String),
    /// Nested deeper than [`MAX_DEPTH`] or [`MAX_NESTING`] allow: no real
    /// project does, and going on would risk overflowing the stack.
    #[error("too deeply nested: {0}")]
    TooDeep(String),
}

// ---- lexer ----

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ref(String),
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn lex(s: &str) -> Result<Vec<(usize, Tok)>, LogicError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok =
            match c {
                '[' => {
                    let end = chars[i..]
                        .iter()
                        .position(|&c| c == ']')
                        .ok_or_else(|| LogicError::Syntax(i, "a [ is not closed".into()))?;
                    let name: String = chars[i + 1..i + end].iter().collect();
                    i += end + 1;
                    Tok::Ref(name.trim().to_owned())
                }
                '\'' | '"' => {
                    let end = chars[i + 1..]
                        .iter()
                        .position(|&q| q == c)
                        .ok_or_else(|| LogicError::Syntax(i, "a quote is not closed".into()))?;
                    let text: String = chars[i + 1..i + 1 + end].iter().collect();
                    i += end + 2;
                    Tok::Str(text)
                }
                '(' => {
                    i += 1;
                    Tok::LParen
                }
                ')' => {
                    i += 1;
                    Tok::RParen
                }
                ',' => {
                    i += 1;
                    Tok::Comma
                }
                c if c.is_ascii_digit()
                    || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
                {
                    let end = chars[i..]
                        .iter()
                        .position(|c| !(c.is_ascii_digit() || *c == '.'))
                        .map_or(chars.len(), |p| i + p);
                    let text: String = chars[i..end].iter().collect();
                    i = end;
                    Tok::Num(text.parse().map_err(|_| {
                        LogicError::Syntax(start, format!("{text} is not a number"))
                    })?)
                }
                c if c.is_ascii_alphabetic() || c == '_' => {
                    let end = chars[i..]
                        .iter()
                        .position(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
                        .map_or(chars.len(), |p| i + p);
                    let word: String = chars[i..end].iter().collect();
                    i = end;
                    Tok::Ident(word)
                }
                _ => {
                    let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                    let op = ["<>", "!=", "<=", ">=", "=="]
                        .into_iter()
                        .find(|o| *o == two)
                        .or_else(|| {
                            ["=", "<", ">", "+", "-", "*", "/", "^"]
                                .into_iter()
                                .find(|o| o.starts_with(c))
                        })
                        .ok_or_else(|| LogicError::Syntax(i, format!("unexpected {c:?}")))?;
                    i += op.len();
                    Tok::Op(op)
                }
            };
        out.push((start, tok));
    }
    Ok(out)
}

// ---- parser ----

/// How deep an expression tree may be: each operator, `not`, sign and
/// call is a level. Evaluating, walking and dropping a tree recurse once
/// per level. A sum `[q1] + [q2] + ... + [q90]` is 90 levels deep.
pub const MAX_DEPTH: usize = 500;

/// How many sub-expressions may be open at once while parsing: each
/// bracket, call argument, `not`, sign and right-hand operand is one. A
/// lookup table of nested `if`s takes one per row.
pub const MAX_NESTING: usize = 200;

// Both limits keep hostile or corrupt logic from overflowing the stack of
// the thread that reads it: 2 MiB for spawned threads, tokio's workers and
// tests. Measured in a debug build, whose frames are the largest: the
// parser takes about 4 KiB per nesting level, the evaluator about 1 KiB
// per tree level and 3 KiB per level that also nests, so logic at the
// limits needs under 1 MiB. `deeply_nested_logic_is_refused_not_a_stack_
// overflow` runs logic at both limits on a test thread.

/// Binding powers (precedence) of the operators, loosest first. A
/// left-associative operator takes its right operand one power tighter;
/// `^` takes it at its own power (right-associative); a comparison takes
/// an additive operand and does not chain (`a = b = c` is refused).
const OR: u8 = 1;
const AND: u8 = 3;
const CMP: u8 = 5;
const ADD: u8 = 7;
const MUL: u8 = 9;
const POW: u8 = 11;
/// What a bracket, literal, field, call or sign makes: nothing binds
/// tighter.
const ATOM: u8 = u8::MAX;

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    len: usize,
    /// How many sub-expressions the parser is inside.
    nesting: usize,
}

fn is_literal(word: &str) -> bool {
    word.eq_ignore_ascii_case("true") || word.eq_ignore_ascii_case("false")
}

/// An expression, boxed to keep the parser's stack frames small, and the
/// depth of its tree.
struct Parsed(Box<Expr>, usize);

/// Parses branching logic or a calculation.
pub fn parse(text: &str) -> Result<Expr, LogicError> {
    let toks = lex(text)?;
    if toks.is_empty() {
        return Err(LogicError::Syntax(0, "the logic is empty".into()));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        len: text.chars().count(),
        nesting: 0,
    };
    let e = p.expr(0)?.0;
    if p.pos < p.toks.len() {
        return Err(LogicError::Syntax(
            p.at(),
            "unexpected text after the end".into(),
        ));
    }
    Ok(*e)
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.1)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.len, |t| t.0)
    }

    fn word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(x)) if x.eq_ignore_ascii_case(w))
    }

    fn op(&self, ops: &[&str]) -> Option<&'static str> {
        match self.peek() {
            Some(Tok::Op(o)) if ops.contains(o) => Some(o),
            _ => None,
        }
    }

    fn too_deep(&self, limit: usize) -> LogicError {
        LogicError::TooDeep(format!(
            "more than {limit} levels at character {}",
            self.at()
        ))
    }

    /// A node over children of these depths, refused when the tree gets
    /// too deep.
    fn node(&self, e: Expr, children: &[usize]) -> Result<Parsed, LogicError> {
        let depth = 1 + children.iter().copied().max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(self.too_deep(MAX_DEPTH));
        }
        Ok(Parsed(Box::new(e), depth))
    }

    /// The operator at the current token, with its left and right binding
    /// powers.
    fn infix(&self) -> Option<(Op, u8, u8)> {
        Some(match self.peek()? {
            Tok::Ident(w) if w.eq_ignore_ascii_case("or") => (Op::Or, OR, OR + 1),
            Tok::Ident(w) if w.eq_ignore_ascii_case("and") => (Op::And, AND, AND + 1),
            Tok::Op(o) => match *o {
                "=" | "==" => (Op::Eq, CMP, ADD),
                "<>" | "!=" => (Op::Ne, CMP, ADD),
                "<" => (Op::Lt, CMP, ADD),
                "<=" => (Op::Le, CMP, ADD),
                ">" => (Op::Gt, CMP, ADD),
                ">=" => (Op::Ge, CMP, ADD),
                "+" => (Op::Add, ADD, ADD + 1),
                "-" => (Op::Sub, ADD, ADD + 1),
                "*" => (Op::Mul, MUL, MUL + 1),
                "/" => (Op::Div, MUL, MUL + 1),
                "^" => (Op::Pow, POW, POW),
                _ => return None,
            },
            _ => return None,
        })
    }

    /// An expression of the operators that bind at least as tightly as
    /// `min` (precedence climbing: one stack frame per sub-expression, not
    /// one per precedence level).
    fn expr(&mut self, min: u8) -> Result<Parsed, LogicError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.too_deep(MAX_NESTING));
        }
        let (mut lhs, mut made_by) = self.operand(min)?;
        while let Some((op, left, right)) = self.infix() {
            // A comparison only follows an operand tighter than one.
            if left < min || (left == CMP && made_by <= CMP) {
                break;
            }
            self.pos += 1;
            let rhs = self.expr(right)?;
            lhs = self.node(Expr::Binary(op, lhs.0, rhs.0), &[lhs.1, rhs.1])?;
            made_by = left;
        }
        self.nesting -= 1;
        Ok(lhs)
    }

    /// `not` (where a whole comparison may stand), a sign, or a primary;
    /// with the binding power of what made it.
    fn operand(&mut self, min: u8) -> Result<(Parsed, u8), LogicError> {
        if min <= CMP && self.word("not") {
            self.pos += 1;
            let x = self.expr(CMP)?;
            return Ok((self.node(Expr::Not(x.0), &[x.1])?, CMP));
        }
        if self.op(&["-"]).is_some() {
            self.pos += 1;
            // Binds looser than `^`: `-2^2` is -4.
            let x = self.expr(POW)?;
            return Ok((self.node(Expr::Neg(x.0), &[x.1])?, ATOM));
        }
        if self.op(&["+"]).is_some() {
            self.pos += 1;
            return Ok((self.expr(POW)?, ATOM));
        }
        Ok((self.primary()?, ATOM))
    }

    /// A literal, field, bracket or call. Brackets and calls are parsed in
    /// functions of their own, so that the frames that recurse stay small.
    fn primary(&mut self) -> Result<Parsed, LogicError> {
        let at = self.at();
        let Some(tok) = self.peek() else {
            return Err(LogicError::Syntax(at, "the logic ends too early".into()));
        };
        let e = match tok {
            Tok::LParen => {
                self.pos += 1;
                return self.bracket();
            }
            Tok::Ident(name) if !is_literal(name) => return self.call(),
            Tok::Num(n) => Expr::Number(*n),
            Tok::Str(s) => Expr::Text(s.clone()),
            Tok::Ident(name) => Expr::Number(if name.eq_ignore_ascii_case("true") {
                1.0
            } else {
                0.0
            }),
            Tok::Ref(first) => {
                let first = first.clone();
                self.pos += 1;
                return Ok(Parsed(Box::new(self.field_ref(first)?), 1));
            }
            other => return Err(LogicError::Syntax(at, format!("unexpected {other:?}"))),
        };
        self.pos += 1;
        Ok(Parsed(Box::new(e), 1))
    }

    /// What follows a `(`.
    fn bracket(&mut self) -> Result<Parsed, LogicError> {
        let e = self.expr(0)?;
        if !matches!(self.peek(), Some(Tok::RParen)) {
            return Err(LogicError::Syntax(self.at(), "a ( is not closed".into()));
        }
        self.pos += 1;
        Ok(e)
    }

    /// `name(arg, ...)`, at the name.
    fn call(&mut self) -> Result<Parsed, LogicError> {
        let at = self.at();
        let Some(Tok::Ident(name)) = self.peek().cloned() else {
            return Err(LogicError::Syntax(at, "expected a function".into()));
        };
        self.pos += 1;
        let Some(Tok::LParen) = self.peek() else {
            return Err(LogicError::Syntax(at, format!("unexpected word {name}")));
        };
        let f = Function::parse(&name)
            .ok_or_else(|| LogicError::Unsupported(format!("function {name}()")))?;
        self.pos += 1;
        let mut args = Vec::new();
        let mut depths = Vec::new();
        if !matches!(self.peek(), Some(Tok::RParen)) {
            loop {
                let a = self.expr(0)?;
                args.push(*a.0);
                depths.push(a.1);
                match self.peek() {
                    Some(Tok::Comma) => self.pos += 1,
                    Some(Tok::RParen) => break,
                    _ => return Err(LogicError::Syntax(self.at(), "expected , or )".into())),
                }
            }
        }
        self.pos += 1;
        self.node(Expr::Call(f, args), &depths)
    }

    /// `[field]`, `[field(code)]`, `[event][field]`; anything with a `-` or
    /// `:` is a smart variable.
    fn field_ref(&mut self, first: String) -> Result<Expr, LogicError> {
        let (event, name) = match self.peek() {
            Some(Tok::Ref(second)) => {
                let second = second.clone();
                self.pos += 1;
                (Some(first), second)
            }
            _ => (None, first),
        };
        let smart = |s: &str| s.contains('-') || s.contains(':');
        if smart(&name) || event.as_deref().is_some_and(smart) {
            let shown = match &event {
                Some(e) => format!("[{e}][{name}]"),
                None => format!("[{name}]"),
            };
            return Err(LogicError::Unsupported(format!("smart variable {shown}")));
        }
        let (field, choice) = match name.split_once('(') {
            Some((f, rest)) => {
                let code = rest.strip_suffix(')').ok_or_else(|| {
                    LogicError::Syntax(self.at(), format!("[{name}] is not closed"))
                })?;
                (f.trim().to_owned(), Some(code.trim().to_owned()))
            }
            None => (name, None),
        };
        Ok(Expr::Field(FieldRef {
            event,
            field,
            choice,
        }))
    }
}

// ---- evaluation ----

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Blank,
    Number(f64),
    Text(String),
    Bool(bool),
}

impl Value {
    fn from_text(s: String) -> Value {
        if s.is_empty() {
            Value::Blank
        } else {
            Value::Text(s)
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(t) => t.trim().parse().ok(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Blank => None,
        }
    }

    fn text(&self) -> String {
        match self {
            Value::Blank => String::new(),
            Value::Number(n) => format_number(*n),
            Value::Text(t) => t.clone(),
            Value::Bool(b) => if *b { "1" } else { "0" }.into(),
        }
    }

    pub fn truthy(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Number(n) => *n != 0.0,
            Value::Text(t) => !t.is_empty() && t != "0",
            Value::Blank => false,
        }
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        let s = format!("{n:.10}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// What evaluation reads: a field's saved value ("" when blank; a
/// checkbox choice `1` or `0`), and whether a value is one of the
/// project's missing-data codes.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub value: &'a dyn Fn(&FieldRef) -> String,
    pub missing: &'a dyn Fn(&str) -> bool,
}

fn no_missing_codes(_: &str) -> bool {
    false
}

/// Evaluates `e` in a project without missing-data codes; `value` gives a
/// field's saved value.
pub fn eval(e: &Expr, value: &dyn Fn(&FieldRef) -> String) -> Result<Value, LogicError> {
    eval_in(
        e,
        Scope {
            value,
            missing: &no_missing_codes,
        },
    )
}

/// Evaluates `e` in `scope`.
pub fn eval_in(e: &Expr, value: Scope<'_>) -> Result<Value, LogicError> {
    Ok(match e {
        Expr::Field(r) => Value::from_text((value.value)(r)),
        Expr::Number(n) => Value::Number(*n),
        Expr::Text(t) => Value::from_text(t.clone()),
        Expr::Not(x) => Value::Bool(!eval_in(x, value)?.truthy()),
        Expr::Neg(x) => match eval_in(x, value)?.number() {
            Some(n) => Value::Number(-n),
            None => Value::Blank,
        },
        Expr::Binary(op, a, b) => binary(*op, eval_in(a, value)?, || eval_in(b, value))?,
        Expr::Call(f, args) => call(*f, args, value)?,
    })
}

fn binary(
    op: Op,
    a: Value,
    b: impl FnOnce() -> Result<Value, LogicError>,
) -> Result<Value, LogicError> {
    Ok(match op {
        Op::Or => Value::Bool(a.truthy() || b()?.truthy()),
        Op::And => Value::Bool(a.truthy() && b()?.truthy()),
        Op::Eq | Op::Ne => {
            let b = b()?;
            let equal = match (&a, &b) {
                (Value::Blank, Value::Blank) => true,
                (Value::Blank, _) | (_, Value::Blank) => false,
                _ => match (a.number(), b.number()) {
                    (Some(x), Some(y)) => x == y,
                    _ => a.text() == b.text(),
                },
            };
            Value::Bool(equal == (op == Op::Eq))
        }
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let b = b()?;
            let ord = match (&a, &b) {
                (Value::Blank, _) | (_, Value::Blank) => None,
                _ => match (a.number(), b.number()) {
                    (Some(x), Some(y)) => x.partial_cmp(&y),
                    _ => Some(a.text().cmp(&b.text())),
                },
            };
            Value::Bool(ord.is_some_and(|o| match op {
                Op::Lt => o.is_lt(),
                Op::Le => o.is_le(),
                Op::Gt => o.is_gt(),
                _ => o.is_ge(),
            }))
        }
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow => {
            let b = b()?;
            match (a.number(), b.number()) {
                (Some(x), Some(y)) => {
                    let r = match op {
                        Op::Add => x + y,
                        Op::Sub => x - y,
                        Op::Mul => x * y,
                        Op::Div if y == 0.0 => return Ok(Value::Blank),
                        Op::Div => x / y,
                        _ => x.powf(y),
                    };
                    if r.is_finite() {
                        Value::Number(r)
                    } else {
                        Value::Blank
                    }
                }
                _ => Value::Blank,
            }
        }
    })
}

type Lookup<'a> = Scope<'a>;

/// Calls a function. Each kind of function is evaluated in a function of
/// its own, so that nested calls (`if` inside `if`) recurse through small
/// stack frames.
fn call(f: Function, args: &[Expr], value: Lookup) -> Result<Value, LogicError> {
    use Function::*;
    match f {
        If => call_if(args, value),
        Round | Rounddown | Roundup => call_round(f, args, value),
        Abs | Sqrt => call_abs_sqrt(f, args, value),
        Min | Max | Mean | Sum => call_aggregate(f, args, value),
        Isnumber | Isblankormissingcode => call_test(f, args, value),
        Contains => call_contains(args, value),
        Datediff => call_datediff(args, value),
    }
}

fn arity(f: Function, args: &[Expr], ok: bool) -> Result<(), LogicError> {
    if ok {
        Ok(())
    } else {
        Err(LogicError::Eval(format!(
            "{f:?} given {} arguments",
            args.len()
        )))
    }
}

fn call_if(args: &[Expr], value: Lookup) -> Result<Value, LogicError> {
    arity(Function::If, args, args.len() == 3)?;
    let chosen = if eval_in(&args[0], value)?.truthy() {
        &args[1]
    } else {
        &args[2]
    };
    eval_in(chosen, value)
}

fn call_round(f: Function, args: &[Expr], value: Lookup) -> Result<Value, LogicError> {
    arity(f, args, (1..=2).contains(&args.len()))?;
    let places = match args.get(1) {
        Some(p) => eval_in(p, value)?.number().unwrap_or(0.0),
        None => 0.0,
    };
    Ok(match eval_in(&args[0], value)?.number() {
        None => Value::Blank,
        Some(x) => {
            let m = 10f64.powi(places as i32);
            let r = match f {
                Function::Round => (x * m).round(),
                Function::Rounddown => (x * m).floor(),
                _ => (x * m).ceil(),
            } / m;
            Value::Number(r)
        }
    })
}

fn call_abs_sqrt(f: Function, args: &[Expr], value: Lookup) -> Result<Value, LogicError> {
    arity(f, args, args.len() == 1)?;
    Ok(match eval_in(&args[0], value)?.number() {
        None => Value::Blank,
        Some(x) if f == Function::Abs => Value::Number(x.abs()),
        Some(x) if x >= 0.0 => Value::Number(x.sqrt()),
        Some(_) => Value::Blank,
    })
}

fn call_aggregate(f: Function, args: &[Expr], value: Lookup) -> Result<Value, LogicError> {
    arity(f, args, !args.is_empty())?;
    let mut xs = Vec::new();
    for a in args {
        if let Some(x) = eval_in(a, value)?.number() {
            xs.push(x);
        }
    }
    if xs.is_empty() {
        return Ok(Value::Blank);
    }
    Ok(Value::Number(match f {
        Function::Min => xs.iter().copied().fold(f64::INFINITY, f64::min),
        Function::Max => xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Function::Sum => xs.iter().sum(),
        _ => xs.iter().sum::<f64>() / xs.len() as f64,
    }))
}

fn call_test(f: Function, args: &[Expr], value: Lookup) -> Result<Value, LogicError> {
    arity(f, args, args.len() == 1)?;
    let v = eval_in(&args[0], value)?;
    Ok(Value::Bool(if f == Function::Isnumber {
        v.number().is_some()
    } else {
        matches!(v, Value::Blank) || (value.missing)(&v.text())
    }))
}

fn call_contains(args: &[Expr], value: Lookup) -> Result<Value, LogicError> {
    arity(Function::Contains, args, args.len() == 2)?;
    let hay = eval_in(&args[0], value)?.text().to_lowercase();
    let needle = eval_in(&args[1], value)?.text().to_lowercase();
    Ok(Value::Bool(hay.contains(&needle)))
}

fn call_datediff(args: &[Expr], value: Lookup) -> Result<Value, LogicError> {
    arity(Function::Datediff, args, (3..=5).contains(&args.len()))?;
    let a = moment(&eval_in(&args[0], value)?.text());
    let b = moment(&eval_in(&args[1], value)?.text());
    let unit = eval_in(&args[2], value)?.text();
    let signed = args.len() == 5 && eval_in(&args[4], value)?.truthy();
    let (Some(a), Some(b)) = (a, b) else {
        return Ok(Value::Blank);
    };
    let secs = (b - a).num_seconds() as f64;
    let per = match unit.as_str() {
        "y" => 365.2425 * 86400.0,
        "M" => 30.436875 * 86400.0,
        "d" => 86400.0,
        "h" => 3600.0,
        "m" => 60.0,
        "s" => 1.0,
        other => {
            return Err(LogicError::Eval(format!("datediff unit {other:?}")));
        }
    };
    let d = secs / per;
    Ok(Value::Number(if signed { d } else { d.abs() }))
}

/// A stored date or datetime (ISO), or `today`.
fn moment(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("today") {
        return chrono::Local::now().date_naive().and_hms_opt(0, 0, 0);
    }
    if s.len() == 10 {
        return NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0);
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .ok()
}

/// Whether a field with this branching logic shows, given the values.
pub fn shows(logic: &Expr, value: &dyn Fn(&FieldRef) -> String) -> Result<bool, LogicError> {
    Ok(eval(logic, value)?.truthy())
}

/// A calc field's value as stored: blank when an operand is blank.
pub fn calculate(expr: &Expr, value: &dyn Fn(&FieldRef) -> String) -> Result<String, LogicError> {
    Ok(as_stored(eval(expr, value)?))
}

/// [`shows`] in a scope that knows the project's missing-data codes.
pub fn shows_in(logic: &Expr, scope: Scope<'_>) -> Result<bool, LogicError> {
    Ok(eval_in(logic, scope)?.truthy())
}

/// [`calculate`] in a scope that knows the project's missing-data codes.
pub fn calculate_in(expr: &Expr, scope: Scope<'_>) -> Result<String, LogicError> {
    Ok(as_stored(eval_in(expr, scope)?))
}

fn as_stored(v: Value) -> String {
    match v {
        Value::Number(n) => format_number(n),
        other => other.text(),
    }
}

/// Every field an expression reads, for recalculating when one changes.
pub fn references(e: &Expr) -> Vec<FieldRef> {
    let mut out = Vec::new();
    fn walk(e: &Expr, out: &mut Vec<FieldRef>) {
        match e {
            Expr::Field(r) => {
                if !out.contains(r) {
                    out.push(r.clone());
                }
            }
            Expr::Not(x) | Expr::Neg(x) => walk(x, out),
            Expr::Binary(_, a, b) => {
                walk(a, out);
                walk(b, out);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| walk(a, out)),
            Expr::Number(_) | Expr::Text(_) => {}
        }
    }
    walk(e, &mut out);
    out
}

/// One field whose logic cannot be used offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct LogicIssue {
    pub field: String,
    /// `branching_logic`, `calculation`, or the action tag that holds the
    /// logic (`calctext`, `calcdate`).
    pub column: &'static str,
    pub error: LogicError,
}

/// Parses every branching logic, calculation and `@CALCTEXT` or
/// `@CALCDATE` of a dictionary and lists what cannot be used offline, for
/// the import screen.
pub fn check_dictionary(d: &Dictionary) -> Vec<LogicIssue> {
    let mut out = Vec::new();
    for f in &d.fields {
        if let Some(logic) = &f.branching_logic
            && let Err(error) = parse(logic)
        {
            out.push(LogicIssue {
                field: f.name.clone(),
                column: "branching_logic",
                error,
            });
        }
        if f.field_type == super::FieldType::Calc
            && let Some(calc) = &f.choices_text
            && let Err(error) = parse(calc)
        {
            out.push(LogicIssue {
                field: f.name.clone(),
                column: "calculation",
                error,
            });
        }
        let tags = super::tags::FieldTags::of(f);
        let tag_logic = [
            ("calctext", tags.calctext),
            ("calcdate", tags.calcdate.map(|c| c.source)),
        ];
        for (column, text) in tag_logic {
            if let Some(text) = text
                && let Err(error) = parse(&text)
            {
                out.push(LogicIssue {
                    field: f.name.clone(),
                    column,
                    error,
                });
            }
        }
    }
    out
}
