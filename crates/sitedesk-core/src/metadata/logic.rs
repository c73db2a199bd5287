//! REDCap's branching logic and calculations: a parser and an evaluator.
//! `[age] >= 18 and [consent(1)] = '1'` shows a field; `round([w]/([h]/100)^2, 1)`
//! computes one. What the parser does not support (smart variables, unknown
//! functions) is an `Unsupported` error for that field, listed at import
//! (`check_dictionary`), never a crash and never a guess.
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

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    len: usize,
}

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
    };
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return Err(LogicError::Syntax(
            p.at(),
            "unexpected text after the end".into(),
        ));
    }
    Ok(e)
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

    fn or(&mut self) -> Result<Expr, LogicError> {
        let mut e = self.and()?;
        while self.word("or") {
            self.pos += 1;
            e = Expr::Binary(Op::Or, Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, LogicError> {
        let mut e = self.not()?;
        while self.word("and") {
            self.pos += 1;
            e = Expr::Binary(Op::And, Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<Expr, LogicError> {
        if self.word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, LogicError> {
        let e = self.additive()?;
        if let Some(o) = self.op(&["=", "==", "<>", "!=", "<", "<=", ">", ">="]) {
            self.pos += 1;
            let op = match o {
                "=" | "==" => Op::Eq,
                "<>" | "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                _ => Op::Ge,
            };
            return Ok(Expr::Binary(op, Box::new(e), Box::new(self.additive()?)));
        }
        Ok(e)
    }

    fn additive(&mut self) -> Result<Expr, LogicError> {
        let mut e = self.multiplicative()?;
        while let Some(o) = self.op(&["+", "-"]) {
            self.pos += 1;
            let op = if o == "+" { Op::Add } else { Op::Sub };
            e = Expr::Binary(op, Box::new(e), Box::new(self.multiplicative()?));
        }
        Ok(e)
    }

    fn multiplicative(&mut self) -> Result<Expr, LogicError> {
        let mut e = self.unary()?;
        while let Some(o) = self.op(&["*", "/"]) {
            self.pos += 1;
            let op = if o == "*" { Op::Mul } else { Op::Div };
            e = Expr::Binary(op, Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, LogicError> {
        if self.op(&["-"]).is_some() {
            self.pos += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        if self.op(&["+"]).is_some() {
            self.pos += 1;
            return self.unary();
        }
        let base = self.primary()?;
        if self.op(&["^"]).is_some() {
            self.pos += 1;
            // Right-associative, binding tighter than a leading minus.
            return Ok(Expr::Binary(
                Op::Pow,
                Box::new(base),
                Box::new(self.unary()?),
            ));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Expr, LogicError> {
        let at = self.at();
        let Some(tok) = self.peek().cloned() else {
            return Err(LogicError::Syntax(at, "the logic ends too early".into()));
        };
        self.pos += 1;
        match tok {
            Tok::Num(n) => Ok(Expr::Number(n)),
            Tok::Str(s) => Ok(Expr::Text(s)),
            Tok::LParen => {
                let e = self.or()?;
                match self.peek() {
                    Some(Tok::RParen) => {
                        self.pos += 1;
                        Ok(e)
                    }
                    _ => Err(LogicError::Syntax(self.at(), "a ( is not closed".into())),
                }
            }
            Tok::Ref(first) => self.field_ref(first),
            Tok::Ident(name)
                if name.eq_ignore_ascii_case("true") || name.eq_ignore_ascii_case("false") =>
            {
                Ok(Expr::Number(if name.eq_ignore_ascii_case("true") {
                    1.0
                } else {
                    0.0
                }))
            }
            Tok::Ident(name) => {
                let Some(Tok::LParen) = self.peek() else {
                    return Err(LogicError::Syntax(at, format!("unexpected word {name}")));
                };
                let f = Function::parse(&name)
                    .ok_or_else(|| LogicError::Unsupported(format!("function {name}()")))?;
                self.pos += 1;
                let mut args = Vec::new();
                if !matches!(self.peek(), Some(Tok::RParen)) {
                    loop {
                        args.push(self.or()?);
                        match self.peek() {
                            Some(Tok::Comma) => self.pos += 1,
                            Some(Tok::RParen) => break,
                            _ => {
                                return Err(LogicError::Syntax(
                                    self.at(),
                                    "expected , or )".into(),
                                ));
                            }
                        }
                    }
                }
                self.pos += 1;
                Ok(Expr::Call(f, args))
            }
            other => Err(LogicError::Syntax(at, format!("unexpected {other:?}"))),
        }
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

/// Evaluates `e`; `value` gives a field's saved value ("" when blank; a
/// checkbox choice `1` or `0`).
pub fn eval(e: &Expr, value: &dyn Fn(&FieldRef) -> String) -> Result<Value, LogicError> {
    Ok(match e {
        Expr::Field(r) => Value::from_text(value(r)),
        Expr::Number(n) => Value::Number(*n),
        Expr::Text(t) => Value::from_text(t.clone()),
        Expr::Not(x) => Value::Bool(!eval(x, value)?.truthy()),
        Expr::Neg(x) => match eval(x, value)?.number() {
            Some(n) => Value::Number(-n),
            None => Value::Blank,
        },
        Expr::Binary(op, a, b) => binary(*op, eval(a, value)?, || eval(b, value))?,
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

fn call(
    f: Function,
    args: &[Expr],
    value: &dyn Fn(&FieldRef) -> String,
) -> Result<Value, LogicError> {
    use Function::*;
    let arity = |ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(LogicError::Eval(format!(
                "{f:?} given {} arguments",
                args.len()
            )))
        }
    };
    let arg = |i: usize| eval(&args[i], value);
    let num = |i: usize| -> Result<Option<f64>, LogicError> { Ok(arg(i)?.number()) };
    Ok(match f {
        If => {
            arity(args.len() == 3)?;
            if arg(0)?.truthy() { arg(1)? } else { arg(2)? }
        }
        Round | Rounddown | Roundup => {
            arity((1..=2).contains(&args.len()))?;
            let places = if args.len() == 2 {
                num(1)?.unwrap_or(0.0)
            } else {
                0.0
            };
            match num(0)? {
                None => Value::Blank,
                Some(x) => {
                    let m = 10f64.powi(places as i32);
                    let r = match f {
                        Round => (x * m).round(),
                        Rounddown => (x * m).floor(),
                        _ => (x * m).ceil(),
                    } / m;
                    Value::Number(r)
                }
            }
        }
        Abs | Sqrt => {
            arity(args.len() == 1)?;
            match num(0)? {
                None => Value::Blank,
                Some(x) if f == Abs => Value::Number(x.abs()),
                Some(x) if x >= 0.0 => Value::Number(x.sqrt()),
                Some(_) => Value::Blank,
            }
        }
        Min | Max | Mean | Sum => {
            arity(!args.is_empty())?;
            let mut xs = Vec::new();
            for i in 0..args.len() {
                if let Some(x) = num(i)? {
                    xs.push(x);
                }
            }
            if xs.is_empty() {
                Value::Blank
            } else {
                Value::Number(match f {
                    Min => xs.iter().copied().fold(f64::INFINITY, f64::min),
                    Max => xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    Sum => xs.iter().sum(),
                    _ => xs.iter().sum::<f64>() / xs.len() as f64,
                })
            }
        }
        Isnumber => {
            arity(args.len() == 1)?;
            Value::Bool(num(0)?.is_some())
        }
        Isblankormissingcode => {
            arity(args.len() == 1)?;
            Value::Bool(matches!(arg(0)?, Value::Blank))
        }
        Contains => {
            arity(args.len() == 2)?;
            let hay = arg(0)?.text().to_lowercase();
            Value::Bool(hay.contains(&arg(1)?.text().to_lowercase()))
        }
        Datediff => {
            arity((3..=5).contains(&args.len()))?;
            let (a, b) = (moment(&arg(0)?.text()), moment(&arg(1)?.text()));
            let unit = arg(2)?.text();
            let signed = args.len() == 5 && arg(4)?.truthy();
            match (a, b) {
                (Some(a), Some(b)) => {
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
                    Value::Number(if signed { d } else { d.abs() })
                }
                _ => Value::Blank,
            }
        }
    })
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
    Ok(match eval(expr, value)? {
        Value::Number(n) => format_number(n),
        other => other.text(),
    })
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
    /// `branching_logic` or `calculation`.
    pub column: &'static str,
    pub error: LogicError,
}

/// Parses every branching logic and calculation of a dictionary and lists
/// what cannot be used offline, for the import screen.
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
    }
    out
}
