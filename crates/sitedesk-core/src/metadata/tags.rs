//! REDCap's action tags: the `@NAME` words of a field's annotation that
//! change what its form does. `parse_tags` reads them as tolerantly as
//! REDCap does (`@READONLY`, `@CHARLIMIT=50`, `@DEFAULT='a b'`,
//! `@NONEOFTHEABOVE=99,98`, `@CALCTEXT(if([x]='1','yes','no'))`);
//! `FieldTags::of` says what a field's tags ask of the desk's forms, and
//! `unapplied_tags` lists, for the import screen, every tag the desk does
//! not apply.
//!
//! Applied, as REDCap's mobile app applies them: `@CALCTEXT`, `@CALCDATE`,
//! `@READONLY` (and `-FORM`, `-APP`), `@HIDDEN` (and `-FORM`, `-APP`: the
//! desk is an app), `@DEFAULT`, `@NOW`, `@TODAY`, `@NONEOFTHEABOVE`,
//! `@CHARLIMIT`, `@WORDLIMIT`. Tags for surveys and PDFs only change
//! nothing a form does, so they are neither applied nor reported; the
//! `@SITEDESK-*` tags belong to `screening`.
//!
//! Deliberately not here: evaluating `@CALCTEXT`'s logic (`logic`) and
//! computing values (`crate::forms`).

use serde::Serialize;
use ts_rs::TS;

use super::validate::Kind;
use super::{Dictionary, Field, FieldType};

/// One tag as written: its name in upper case without the `@`, and its
/// argument (the text after `=`, unquoted, or inside the brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionTag {
    pub name: String,
    pub arg: Option<String>,
    /// The tag as it appears in the annotation, for the import screen.
    pub written: String,
}

/// Reads every action tag of an annotation. A tag starts with `@` at the
/// start or after white space (so an e-mail address is no tag), its name
/// is letters, digits, `_` and `-`; a `(` right after the name opens an
/// argument up to its matching `)` (quotes respected), and a `=` (spaces
/// around it allowed) gives a quoted value or one up to the next space.
pub fn parse_tags(annotation: &str) -> Vec<ActionTag> {
    let chars: Vec<char> = annotation.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i] == '@' && (i == 0 || chars[i - 1].is_whitespace());
        if !starts {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i + 1;
        while end < chars.len()
            && (chars[end].is_ascii_alphanumeric() || chars[end] == '_' || chars[end] == '-')
        {
            end += 1;
        }
        let name: String = chars[i + 1..end].iter().collect();
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            i = end.max(i + 1);
            continue;
        }
        let mut arg = None;
        if chars.get(end) == Some(&'(') {
            let close = closing(&chars, end);
            arg = Some(chars[end + 1..close.min(chars.len())].iter().collect());
            end = (close + 1).min(chars.len());
        } else {
            let mut eq = end;
            while eq < chars.len() && chars[eq] == ' ' {
                eq += 1;
            }
            if chars.get(eq) == Some(&'=') {
                let mut v = eq + 1;
                while v < chars.len() && chars[v] == ' ' {
                    v += 1;
                }
                match chars.get(v) {
                    Some(&q) if q == '\'' || q == '"' => {
                        let close = chars[v + 1..]
                            .iter()
                            .position(|&c| c == q)
                            .map_or(chars.len(), |p| v + 1 + p);
                        arg = Some(chars[v + 1..close].iter().collect());
                        end = (close + 1).min(chars.len());
                    }
                    Some(_) => {
                        let stop = chars[v..]
                            .iter()
                            .position(|c| c.is_whitespace())
                            .map_or(chars.len(), |p| v + p);
                        arg = Some(chars[v..stop].iter().collect());
                        end = stop;
                    }
                    None => {
                        arg = Some(String::new());
                        end = v;
                    }
                }
            }
        }
        out.push(ActionTag {
            name: name.to_ascii_uppercase(),
            arg: arg.map(|a: String| a.trim().to_owned()),
            written: chars[start..end]
                .iter()
                .collect::<String>()
                .trim()
                .to_owned(),
        });
        i = end.max(start + 1);
    }
    out
}

/// The index of the `)` closing the `(` at `open`, skipping quoted text;
/// the end of the text when it is never closed.
fn closing(chars: &[char], open: usize) -> usize {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (k, &c) in chars.iter().enumerate().skip(open) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    chars.len()
}

/// Splits a bracketed argument at its top-level commas (not those inside
/// brackets, square brackets or quotes).
fn split_args(arg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for c in arg.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_owned());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur.trim().to_owned());
    out
}

fn unquote(s: &str) -> &str {
    for q in ['\'', '"'] {
        if let Some(inner) = s.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

/// The unit of `@CALCDATE`'s offset, as REDCap's `datediff` names units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DateUnit {
    /// 365.2425 days.
    Years,
    /// 30.44 days.
    Months,
    Days,
    Hours,
    Minutes,
    Seconds,
}

impl DateUnit {
    fn parse(s: &str) -> Option<DateUnit> {
        Some(match s {
            "y" => DateUnit::Years,
            "M" => DateUnit::Months,
            "d" => DateUnit::Days,
            "h" => DateUnit::Hours,
            "m" => DateUnit::Minutes,
            "s" => DateUnit::Seconds,
            _ => return None,
        })
    }

    /// Seconds in one unit (REDCap's year and month are averages).
    pub fn seconds(self) -> f64 {
        match self {
            DateUnit::Years => 365.2425 * 86_400.0,
            DateUnit::Months => 30.44 * 86_400.0,
            DateUnit::Days => 86_400.0,
            DateUnit::Hours => 3_600.0,
            DateUnit::Minutes => 60.0,
            DateUnit::Seconds => 1.0,
        }
    }
}

/// `@CALCDATE([visit_date], 7, 'd')`: a date or datetime field plus an
/// offset.
#[derive(Debug, Clone, PartialEq)]
pub struct CalcDate {
    /// The source field as logic (`[visit_date]`, `[baseline_arm_1][d]`).
    pub source: String,
    pub offset: f64,
    pub unit: DateUnit,
}

/// What a field's action tags ask of the desk's forms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldTags {
    /// `@CALCTEXT(logic)`: the logic whose result is the field's text.
    pub calctext: Option<String>,
    pub calcdate: Option<CalcDate>,
    /// `@READONLY`, `-FORM`, `-APP`, or implied by a computing tag.
    pub readonly: bool,
    /// `@HIDDEN`, `-FORM`, `-APP`.
    pub hidden: bool,
    /// `@DEFAULT`: the raw value (a checkbox: codes separated by commas).
    pub default: Option<String>,
    pub now: bool,
    pub today: bool,
    /// `@NONEOFTHEABOVE`: the exclusive checkbox codes.
    pub none_of_the_above: Vec<String>,
    pub char_limit: Option<usize>,
    pub word_limit: Option<usize>,
    /// Tags the desk does not apply (unknown to it, on a field type they
    /// do not fit, or with an argument it cannot read), as written.
    pub unapplied: Vec<String>,
}

/// Tags that only change surveys or PDFs: nothing of a form.
const NOT_FOR_FORMS: [&str; 3] = ["HIDDEN-SURVEY", "READONLY-SURVEY", "HIDDEN-PDF"];

impl FieldTags {
    /// Reads `field`'s annotation.
    pub fn of(field: &Field) -> FieldTags {
        let mut t = FieldTags::default();
        let Some(annotation) = field.annotation.as_deref() else {
            return t;
        };
        let text = field.field_type == FieldType::Text;
        let kind = field.validation.as_deref().and_then(Kind::parse);
        for tag in parse_tags(annotation) {
            let arg = tag.arg.as_deref();
            let applied = match tag.name.as_str() {
                "READONLY" | "READONLY-FORM" | "READONLY-APP" => {
                    t.readonly = true;
                    true
                }
                "HIDDEN" | "HIDDEN-FORM" | "HIDDEN-APP" => {
                    t.hidden = true;
                    true
                }
                "CALCTEXT" => match arg.filter(|a| !a.is_empty()) {
                    Some(logic) if text => {
                        t.calctext = Some(logic.to_owned());
                        t.readonly = true;
                        true
                    }
                    _ => false,
                },
                "CALCDATE" => {
                    let dated = matches!(kind, Some(Kind::Date { .. } | Kind::Datetime { .. }));
                    match arg.and_then(calcdate).filter(|_| text && dated) {
                        Some(c) => {
                            t.calcdate = Some(c);
                            t.readonly = true;
                            true
                        }
                        None => false,
                    }
                }
                "DEFAULT" => match arg {
                    Some(v) if !v.contains('[') && enterable(field) => {
                        t.default = Some(v.to_owned());
                        true
                    }
                    // Piping (`@DEFAULT='[visit_date]'`) is not applied.
                    _ => false,
                },
                "NOW"
                    if text
                        && arg.is_none()
                        && matches!(
                            kind,
                            None | Some(Kind::Datetime { .. } | Kind::Time | Kind::TimeSeconds)
                        ) =>
                {
                    t.now = true;
                    true
                }
                "TODAY"
                    if text && arg.is_none() && matches!(kind, None | Some(Kind::Date { .. })) =>
                {
                    t.today = true;
                    true
                }
                "NONEOFTHEABOVE" => {
                    let codes: Vec<String> = arg
                        .unwrap_or("")
                        .split(',')
                        .map(|c| unquote(c.trim()).trim().to_owned())
                        .filter(|c| !c.is_empty())
                        .collect();
                    let fits = field.field_type == FieldType::Checkbox
                        && !codes.is_empty()
                        && codes
                            .iter()
                            .all(|c| field.choices.iter().any(|ch| &ch.code == c));
                    if fits {
                        t.none_of_the_above = codes;
                    }
                    fits
                }
                "CHARLIMIT" | "WORDLIMIT" => {
                    let n = arg
                        .and_then(|a| a.parse::<usize>().ok())
                        .filter(|n| *n > 0)
                        .filter(|_| matches!(field.field_type, FieldType::Text | FieldType::Notes));
                    match (tag.name.as_str(), n) {
                        ("CHARLIMIT", Some(n)) => t.char_limit = Some(n),
                        (_, Some(n)) => t.word_limit = Some(n),
                        _ => {}
                    }
                    n.is_some()
                }
                name if NOT_FOR_FORMS.contains(&name) || name.starts_with("SITEDESK-") => true,
                _ => false,
            };
            if !applied {
                t.unapplied.push(tag.written);
            }
        }
        t
    }

    /// Whether the field's value is computed by the desk from a tag, not
    /// typed, and so never sent to the EDC (as a calc field).
    pub fn computed(&self) -> bool {
        self.calctext.is_some() || self.calcdate.is_some()
    }
}

/// Fields a person types or picks a value for.
fn enterable(f: &Field) -> bool {
    !matches!(
        f.field_type,
        FieldType::Calc | FieldType::Descriptive | FieldType::File | FieldType::Sql
    )
}

/// Reads `@CALCDATE`'s three arguments: a field, a number, a unit.
fn calcdate(arg: &str) -> Option<CalcDate> {
    let args = split_args(arg);
    let [source, offset, unit] = args.as_slice() else {
        return None;
    };
    if !source.starts_with('[') || !source.ends_with(']') {
        return None;
    }
    Some(CalcDate {
        source: source.clone(),
        offset: unquote(offset).trim().parse().ok()?,
        unit: DateUnit::parse(unquote(unit).trim())?,
    })
}

/// One action tag the desk does not apply, for the import screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct TagIssue {
    pub field: String,
    /// The tag as written (`@MAXCHECKED=2`).
    pub tag: String,
}

/// Every action tag of a dictionary that the desk's forms do not apply.
pub fn unapplied_tags(d: &Dictionary) -> Vec<TagIssue> {
    d.fields
        .iter()
        .flat_map(|f| {
            FieldTags::of(f).unapplied.into_iter().map(|tag| TagIssue {
                field: f.name.clone(),
                tag,
            })
        })
        .collect()
}

/// The exclusive code that was ticked with others, if one was: a
/// `@NONEOFTHEABOVE` code (or a missing-data code) stands alone.
pub fn exclusive_conflict<'c>(exclusive: &[&str], ticked: &[&'c str]) -> Option<&'c str> {
    if ticked.len() < 2 {
        return None;
    }
    ticked.iter().copied().find(|c| exclusive.contains(c))
}

/// How many words `text` has, as `@WORDLIMIT` counts them: runs of
/// characters between white space.
pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}
