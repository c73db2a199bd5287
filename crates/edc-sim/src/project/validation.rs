//! REDCap's text validation types, as the simulator checks an imported
//! value against them: the rows of REDCap's `redcap_validation_types`
//! table, each with the PHP pattern REDCap runs (`regex_php`), and the
//! date handling an import needs (values in Y-M-D, `dateFormat`).
//!
//! Source: REDCap 15.7.6, `Resources/sql/install_data.sql`, the
//! `INSERT INTO redcap_validation_types` rows, copied with MySQL's string
//! quoting undone (`\\d` in the SQL is `\d` here, `\'` is `'`). None is
//! reconstructed. The patterns are PHP's (PCRE); the `regex` crate has no
//! backreferences and no lookaround, so [`Matcher::compile`] translates
//! the few that use them, mechanically and checked by the tests: a date
//! pattern's `([-\/])` separator and its backreferences become one pattern
//! per separator (`-` or `/`), and the email pattern's three lookaheads
//! (`(?!\.)` at the start and after `@`, `(?!.*\.{2})`) become checks
//! beside the pattern. A pattern without PHP's `u` flag runs on bytes
//! with Unicode off, as PCRE runs it.
//!
//! What REDCap's import does besides the pattern, as the simulator does
//! it: a date or datetime is stored in Y-M-D whatever order the field
//! shows, so an imported date is checked against the `_ymd` type of its
//! kind (after `dateFormat=MDY` or `DMY` has put it in Y-M-D), and stored
//! with `-` between its parts. Min and max are not checked here: REDCap's
//! import only warns about a value out of range and saves it, and the API
//! answers no warnings.
//!
//! Not here: choices, calculated fields and missing-data codes (`rows`).

use std::sync::OnceLock;

#[cfg(test)]
mod tests;

/// One row of REDCap's `redcap_validation_types`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ValidationType {
    /// The name the data dictionary uses.
    pub name: &'static str,
    /// The Online Designer's label.
    pub label: &'static str,
    /// The PCRE pattern REDCap's server checks with, delimiters and flags
    /// included.
    pub regex_php: &'static str,
    pub data_type: &'static str,
    /// The older name of the type, which dictionaries may still use.
    pub legacy_value: Option<&'static str>,
    /// Shown in the Online Designer (an administrator may enable others).
    pub visible: bool,
}

const fn row(
    name: &'static str,
    label: &'static str,
    regex_php: &'static str,
    data_type: &'static str,
    legacy_value: Option<&'static str>,
    visible: bool,
) -> ValidationType {
    ValidationType {
        name,
        label,
        regex_php,
        data_type,
        legacy_value,
        visible,
    }
}

/// REDCap 15.7.6's validation types, in the order of its install data
/// (`Resources/sql/install_data.sql`), `regex_php` as REDCap ships it.
pub(crate) const TYPES: &[ValidationType] = &[
    row(
        "alpha_only",
        "Letters only",
        r"/^[a-z]+$/i",
        "text",
        None,
        false,
    ),
    row(
        "date_dmy",
        "Date (D-M-Y)",
        r"/^((29([-\/])02\3(\d{2}([13579][26]|[2468][048]|04|08)|(1600|2[048]00)))|((((0[1-9]|1\d|2[0-8])([-\/])(0[1-9]|1[012]))|((29|30)([-\/])(0[13-9]|1[012]))|(31([-\/])(0[13578]|1[02])))(\11|\15|\18)\d{4}))$/",
        "date",
        None,
        true,
    ),
    row(
        "date_mdy",
        "Date (M-D-Y)",
        r"/^((02([-\/])29\3(\d{2}([13579][26]|[2468][048]|04|08)|(1600|2[048]00)))|((((0[1-9]|1[012])([-\/])(0[1-9]|1\d|2[0-8]))|((0[13-9]|1[012])([-\/])(29|30))|((0[13578]|1[02])([-\/])31))(\11|\15|\19)\d{4}))$/",
        "date",
        None,
        true,
    ),
    row(
        "date_ymd",
        "Date (Y-M-D)",
        r"/^(((\d{2}([13579][26]|[2468][048]|04|08)|(1600|2[048]00))([-\/])02(\6)29)|(\d{4}([-\/])((0[1-9]|1[012])(\9)(0[1-9]|1\d|2[0-8])|((0[13-9]|1[012])(\9)(29|30))|((0[13578]|1[02])(\9)31))))$/",
        "date",
        Some("date"),
        true,
    ),
    row(
        "datetime_dmy",
        "Datetime (D-M-Y H:M)",
        r"/^((29([-\/])02\3(\d{2}([13579][26]|[2468][048]|04|08)|(1600|2[048]00)))|((((0[1-9]|1\d|2[0-8])([-\/])(0[1-9]|1[012]))|((29|30)([-\/])(0[13-9]|1[012]))|(31([-\/])(0[13578]|1[02])))(\11|\15|\18)\d{4})) (\d|[0-1]\d|[2][0-3]):[0-5]\d$/",
        "datetime",
        None,
        true,
    ),
    row(
        "datetime_mdy",
        "Datetime (M-D-Y H:M)",
        r"/^((02([-\/])29\3(\d{2}([13579][26]|[2468][048]|04|08)|(1600|2[048]00)))|((((0[1-9]|1[012])([-\/])(0[1-9]|1\d|2[0-8]))|((0[13-9]|1[012])([-\/])(29|30))|((0[13578]|1[02])([-\/])31))(\11|\15|\19)\d{4})) (\d|[0-1]\d|[2][0-3]):[0-5]\d$/",
        "datetime",
        None,
        true,
    ),
    row(
        "datetime_seconds_dmy",
        "Datetime w/ seconds (D-M-Y H:M:S)",
        r"/^((29([-\/])02\3(\d{2}([13579][26]|[2468][048]|04|08)|(1600|2[048]00)))|((((0[1-9]|1\d|2[0-8])([-\/])(0[1-9]|1[012]))|((29|30)([-\/])(0[13-9]|1[012]))|(31([-\/])(0[13578]|1[02])))(\11|\15|\18)\d{4})) (\d|[0-1]\d|[2][0-3])(:[0-5]\d){2}$/",
        "datetime_seconds",
        None,
        true,
    ),
    row(
        "datetime_seconds_mdy",
        "Datetime w/ seconds (M-D-Y H:M:S)",
        r"/^((02([-\/])29\3(\d{2}([13579][26]|[2468][048]|04|08)|(1600|2[048]00)))|((((0[1-9]|1[012])([-\/])(0[1-9]|1\d|2[0-8]))|((0[13-9]|1[012])([-\/])(29|30))|((0[13578]|1[02])([-\/])31))(\11|\15|\19)\d{4})) (\d|[0-1]\d|[2][0-3])(:[0-5]\d){2}$/",
        "datetime_seconds",
        None,
        true,
    ),
    row(
        "datetime_seconds_ymd",
        "Datetime w/ seconds (Y-M-D H:M:S)",
        r"/^(((\d{2}([13579][26]|[2468][048]|04|08)|(1600|2[048]00))([-\/])02(\6)29)|(\d{4}([-\/])((0[1-9]|1[012])(\9)(0[1-9]|1\d|2[0-8])|((0[13-9]|1[012])(\9)(29|30))|((0[13578]|1[02])(\9)31)))) (\d|[0-1]\d|[2][0-3])(:[0-5]\d){2}$/",
        "datetime_seconds",
        Some("datetime_seconds"),
        true,
    ),
    row(
        "datetime_ymd",
        "Datetime (Y-M-D H:M)",
        r"/^(((\d{2}([13579][26]|[2468][048]|04|08)|(1600|2[048]00))([-\/])02(\6)29)|(\d{4}([-\/])((0[1-9]|1[012])(\9)(0[1-9]|1\d|2[0-8])|((0[13-9]|1[012])(\9)(29|30))|((0[13578]|1[02])(\9)31)))) (\d|[0-1]\d|[2][0-3]):[0-5]\d$/",
        "datetime",
        Some("datetime"),
        true,
    ),
    row(
        "email",
        "Email",
        r"/^(?!\.)((?!.*\.{2})[a-zA-Z0-9\x{0080}-\x{02AF}\x{0300}-\x{07FF}\x{0900}-\x{18AF}\x{1900}-\x{1A1F}\x{1B00}-\x{1B7F}\x{1D00}-\x{1FFF}\x{20D0}-\x{214F}\x{2C00}-\x{2DDF}\x{2F00}-\x{2FDF}\x{2FF0}-\x{2FFF}\x{3040}-\x{319F}\x{31C0}-\x{A4CF}\x{A700}-\x{A71F}\x{A800}-\x{A82F}\x{A840}-\x{A87F}\x{AC00}-\x{D7AF}\x{F900}-\x{FAFF}\.!#$%&'*+\-\/=?^_`{|}~\-\d]+)(\.[a-zA-Z0-9\x{0080}-\x{02AF}\x{0300}-\x{07FF}\x{0900}-\x{18AF}\x{1900}-\x{1A1F}\x{1B00}-\x{1B7F}\x{1D00}-\x{1FFF}\x{20D0}-\x{214F}\x{2C00}-\x{2DDF}\x{2F00}-\x{2FDF}\x{2FF0}-\x{2FFF}\x{3040}-\x{319F}\x{31C0}-\x{A4CF}\x{A700}-\x{A71F}\x{A800}-\x{A82F}\x{A840}-\x{A87F}\x{AC00}-\x{D7AF}\x{F900}-\x{FAFF}\.!#$%&'*+\-\/=?^_`{|}~\-\d]+)*@(?!\.)([a-zA-Z0-9\x{0080}-\x{02AF}\x{0300}-\x{07FF}\x{0900}-\x{18AF}\x{1900}-\x{1A1F}\x{1B00}-\x{1B7F}\x{1D00}-\x{1FFF}\x{20D0}-\x{214F}\x{2C00}-\x{2DDF}\x{2F00}-\x{2FDF}\x{2FF0}-\x{2FFF}\x{3040}-\x{319F}\x{31C0}-\x{A4CF}\x{A700}-\x{A71F}\x{A800}-\x{A82F}\x{A840}-\x{A87F}\x{AC00}-\x{D7AF}\x{F900}-\x{FAFF}\-\.\d]+)((\.([a-zA-Z\x{0080}-\x{02AF}\x{0300}-\x{07FF}\x{0900}-\x{18AF}\x{1900}-\x{1A1F}\x{1B00}-\x{1B7F}\x{1D00}-\x{1FFF}\x{20D0}-\x{214F}\x{2C00}-\x{2DDF}\x{2F00}-\x{2FDF}\x{2FF0}-\x{2FFF}\x{3040}-\x{319F}\x{31C0}-\x{A4CF}\x{A700}-\x{A71F}\x{A800}-\x{A82F}\x{A840}-\x{A87F}\x{AC00}-\x{D7AF}\x{F900}-\x{FAFF}]){2,63})+)$/u",
        "email",
        None,
        true,
    ),
    row(
        "integer",
        "Integer",
        r"/^[-+]?\b\d+\b$/",
        "integer",
        Some("int"),
        true,
    ),
    row(
        "mrn_10d",
        "MRN (10 digits)",
        r"/^\d{10}$/",
        "mrn",
        None,
        false,
    ),
    row(
        "mrn_generic",
        "MRN (generic)",
        r"/^[a-z0-9-_]+$/i",
        "mrn",
        None,
        false,
    ),
    row(
        "number",
        "Number",
        r"/^[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$/",
        "number",
        Some("float"),
        true,
    ),
    row(
        "number_1dp",
        "Number (1 decimal place)",
        r"/^-?\d+\.\d$/",
        "number",
        None,
        false,
    ),
    row(
        "number_2dp",
        "Number (2 decimal places)",
        r"/^-?\d+\.\d{2}$/",
        "number",
        None,
        false,
    ),
    row(
        "number_3dp",
        "Number (3 decimal places)",
        r"/^-?\d+\.\d{3}$/",
        "number",
        None,
        false,
    ),
    row(
        "number_4dp",
        "Number (4 decimal places)",
        r"/^-?\d+\.\d{4}$/",
        "number",
        None,
        false,
    ),
    row(
        "phone",
        "Phone (North America)",
        r"/^(?:\(?([2-9]0[1-9]|[2-9]1[02-9]|[2-9][2-9][0-9]|800|811)\)?)\s*(?:[.-]\s*)?([2-9]1[02-9]|[2-9][02-9]1|[2-9][02-9]{2})\s*(?:[.-]\s*)?([0-9]{4})(?:\s*(?:#|x\.?|ext\.?|extension)\s*(\d+))?$/",
        "phone",
        None,
        true,
    ),
    row(
        "phone_australia",
        "Phone (Australia)",
        r"/^(\(0[2-8]\)|0[2-8])\s*\d{4}\s*\d{4}$/",
        "phone",
        None,
        false,
    ),
    row(
        "postalcode_australia",
        "Postal Code (Australia)",
        r"/^\d{4}$/",
        "postal_code",
        None,
        false,
    ),
    row(
        "postalcode_canada",
        "Postal Code (Canada)",
        r"/^[ABCEGHJKLMNPRSTVXY]{1}\d{1}[A-Z]{1}\s*\d{1}[A-Z]{1}\d{1}$/i",
        "postal_code",
        None,
        false,
    ),
    row(
        "ssn",
        "Social Security Number (U.S.)",
        r"/^\d{3}-\d\d-\d{4}$/",
        "ssn",
        None,
        false,
    ),
    row(
        "time",
        "Time (HH:MM)",
        r"/^([0-9]|[0-1][0-9]|[2][0-3]):([0-5][0-9])$/",
        "time",
        None,
        true,
    ),
    row(
        "time_mm_ss",
        "Time (MM:SS)",
        r"/^[0-5]\d:[0-5]\d$/",
        "time",
        None,
        false,
    ),
    row(
        "vmrn",
        "Vanderbilt MRN",
        r"/^[0-9]{4,9}$/",
        "mrn",
        None,
        false,
    ),
    row(
        "zipcode",
        "Zipcode (U.S.)",
        r"/^\d{5}(-\d{4})?$/",
        "postal_code",
        None,
        true,
    ),
    row(
        "number_comma_decimal",
        "Number (comma as decimal)",
        r"/^[-+]?[0-9]*,?[0-9]+([eE][-+]?[0-9]+)?$/",
        "number_comma_decimal",
        None,
        false,
    ),
    row(
        "number_1dp_comma_decimal",
        "Number (1 decimal place - comma as decimal)",
        r"/^-?\d+,\d$/",
        "number_comma_decimal",
        None,
        false,
    ),
    row(
        "number_2dp_comma_decimal",
        "Number (2 decimal places - comma as decimal)",
        r"/^-?\d+,\d{2}$/",
        "number_comma_decimal",
        None,
        false,
    ),
    row(
        "number_3dp_comma_decimal",
        "Number (3 decimal places - comma as decimal)",
        r"/^-?\d+,\d{3}$/",
        "number_comma_decimal",
        None,
        false,
    ),
    row(
        "number_4dp_comma_decimal",
        "Number (4 decimal places - comma as decimal)",
        r"/^-?\d+,\d{4}$/",
        "number_comma_decimal",
        None,
        false,
    ),
    row(
        "postalcode_germany",
        "Postal Code (Germany)",
        r"/^(0[1-9]|[1-9]\d)\d{3}$/",
        "postal_code",
        None,
        false,
    ),
    row(
        "postalcode_uk",
        "Postal Code (UK)",
        r"/^(([A-Z]{1,2}\d{1,2})|([A-Z]{1,2}\d[A-Z])) \d[ABD-HJLNP-Z]{2}$/",
        "postal_code",
        None,
        false,
    ),
    row(
        "postalcode_french",
        "Code Postal 5 caracteres (France)",
        r"/^((0?[1-9])|([1-8][0-9])|(9[0-8]))[0-9]{3}$/",
        "postal_code",
        None,
        false,
    ),
    row(
        "time_hh_mm_ss",
        "Time (HH:MM:SS)",
        r"/^(\d|[01]\d|(2[0-3]))(:[0-5]\d){2}$/",
        "time",
        None,
        true,
    ),
    row(
        "phone_uk",
        "Phone (UK)",
        r"/^((((\+44|0044)\s?\d{4}|\(?0\d{4}\)?)\s?\d{3}\s?\d{3})|(((\+44|0044)\s?\d{3}|\(?0\d{3}\)?)\s?\d{3}\s?\d{4})|(((\+44|0044)\s?\d{2}|\(?0\d{2}\)?)\s?\d{4}\s?\d{4}))(\s?\#(\d{4}|\d{3}))?$/",
        "phone",
        None,
        false,
    ),
    row(
        "phone_france",
        "Phone (France) (xx xx xx xx xx)(+33 x xx xx xx xx)",
        r"/^(?:(?:\+|00)(?:33|262|508|590|594|596|687)[\s.-]{0,3}(?:\(0\)[\s.-]{0,3})?|0)[1-9](?:(?:[\s.-]?\d{2}){4}|\d{2}(?:[\s.-]?\d{3}){2})$/",
        "phone",
        None,
        false,
    ),
];

/// The type a dictionary's validation name means: by its name, or by its
/// legacy name (`int`, `float`, `date`, `datetime`, `datetime_seconds`).
pub(crate) fn lookup(name: &str) -> Option<&'static ValidationType> {
    TYPES
        .iter()
        .find(|t| t.name == name)
        .or_else(|| TYPES.iter().find(|t| t.legacy_value == Some(name)))
}

/// A negative lookahead of a PHP pattern, checked beside the translated
/// pattern: what it forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookahead {
    /// `^(?!\.)`: the value does not start with a dot.
    LeadingDot,
    /// `@(?!\.)`: no dot right after the `@`.
    DotAfterAt,
    /// `(?!.*\.{2})` before anything is consumed: no two dots in a row.
    DoubleDot,
}

impl Lookahead {
    fn holds(self, value: &str) -> bool {
        match self {
            Lookahead::LeadingDot => !value.starts_with('.'),
            Lookahead::DotAfterAt => !value.contains("@."),
            Lookahead::DoubleDot => !value.contains(".."),
        }
    }
}

#[derive(Debug, Clone)]
enum Engine {
    /// PHP's `u` flag: the pattern runs on text, Unicode-aware.
    Text(regex::Regex),
    /// No `u` flag: PCRE runs on bytes; so does this, with Unicode off.
    Bytes(regex::bytes::Regex),
}

impl Engine {
    fn is_match(&self, value: &str) -> bool {
        match self {
            Engine::Text(r) => r.is_match(value),
            Engine::Bytes(r) => r.is_match(value.as_bytes()),
        }
    }
}

/// A PHP pattern as the `regex` crate runs it.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    /// The value matches when one of these does (one per date separator
    /// where the pattern has backreferences, else one).
    variants: Vec<Engine>,
    lookaheads: Vec<Lookahead>,
}

/// The separator group of REDCap's date patterns, which their
/// backreferences repeat.
const SEPARATOR_GROUP: &str = r"([-\/])";

impl Matcher {
    /// Translates `php` (`/pattern/flags`) for the `regex` crate. A
    /// construct the translation does not know is an error, never a
    /// pattern that means something else.
    pub fn compile(php: &str) -> Result<Matcher, String> {
        let (body, flags) = php
            .strip_prefix('/')
            .and_then(|p| p.rsplit_once('/'))
            .ok_or_else(|| format!("{php}: not a /pattern/flags"))?;
        if let Some(f) = flags.chars().find(|f| !matches!(f, 'i' | 'u')) {
            return Err(format!("{php}: flag {f} is not translated"));
        }
        let (body, lookaheads) = lookaheads(body)?;
        let variants: Vec<String> = if has_backreference(&body) {
            if !body.contains(SEPARATOR_GROUP) {
                return Err(format!(
                    "{php}: a backreference to anything but {SEPARATOR_GROUP}"
                ));
            }
            [r"\-", r"/"]
                .iter()
                .map(|sep| expand_separator(&body, sep))
                .collect()
        } else {
            vec![body]
        };
        let unicode = flags.contains('u');
        let prefix = match (unicode, flags.contains('i')) {
            (true, true) => "(?i)",
            (true, false) => "",
            (false, true) => "(?i-u)",
            (false, false) => "(?-u)",
        };
        let variants = variants
            .into_iter()
            .map(|v| {
                let pattern = format!("{prefix}{v}");
                if unicode {
                    regex::Regex::new(&pattern).map(Engine::Text)
                } else {
                    regex::bytes::Regex::new(&pattern).map(Engine::Bytes)
                }
                .map_err(|e| format!("{php}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Matcher {
            variants,
            lookaheads,
        })
    }

    pub fn is_match(&self, value: &str) -> bool {
        self.lookaheads.iter().all(|l| l.holds(value))
            && self.variants.iter().any(|e| e.is_match(value))
    }
}

/// Takes the lookaheads out of a pattern's body: the three forms REDCap's
/// email pattern uses, where they sit in it; any other is an error.
fn lookaheads(body: &str) -> Result<(String, Vec<Lookahead>), String> {
    const NO_DOT: &str = r"(?!\.)";
    const NO_DOUBLE_DOT: &str = r"(?!.*\.{2})";
    let mut out = String::new();
    let mut found = Vec::new();
    let mut rest = body;
    while let Some(c) = rest.chars().next() {
        if c == '\\' {
            // An escaped character, `\(` included, is copied as it is.
            let len = rest[1..].chars().next().map_or(0, char::len_utf8);
            out.push_str(&rest[..1 + len]);
            rest = &rest[1 + len..];
            continue;
        }
        if !rest.starts_with("(?!") && !rest.starts_with("(?=") && !rest.starts_with("(?<") {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        // Only `^` and `(` before it: nothing consumed yet.
        let at_start = out.chars().all(|c| c == '^' || c == '(');
        if let Some(r) = rest.strip_prefix(NO_DOT) {
            found.push(if at_start {
                Lookahead::LeadingDot
            } else if out.ends_with('@') {
                Lookahead::DotAfterAt
            } else {
                return Err(format!("{body}: {NO_DOT} where it is not translated"));
            });
            rest = r;
        } else if let Some(r) = rest.strip_prefix(NO_DOUBLE_DOT).filter(|_| at_start) {
            found.push(Lookahead::DoubleDot);
            rest = r;
        } else {
            return Err(format!("{body}: a lookaround that is not translated"));
        }
    }
    Ok((out, found))
}

/// Whether `body` has a backreference (`\1` .. `\99`).
fn has_backreference(body: &str) -> bool {
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.next().is_some_and(|n| matches!(n, '1'..='9')) {
            return true;
        }
    }
    false
}

/// `body` with every separator group and every backreference made the
/// one separator `sep` (already escaped for the pattern).
fn expand_separator(body: &str, sep: &str) -> String {
    let body = body.replace(SEPARATOR_GROUP, &format!("({sep})"));
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(d) if d.is_ascii_digit() && d != '0' => {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                out.push_str(sep);
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Every type's pattern, translated once.
fn matchers() -> &'static Vec<(&'static str, Matcher)> {
    static MATCHERS: OnceLock<Vec<(&'static str, Matcher)>> = OnceLock::new();
    MATCHERS.get_or_init(|| {
        TYPES
            .iter()
            .map(|t| {
                let m = Matcher::compile(t.regex_php)
                    .unwrap_or_else(|e| panic!("REDCap's {} pattern translates: {e}", t.name));
                (t.name, m)
            })
            .collect()
    })
}

/// Whether `value` passes the type named `name` (a legacy name too);
/// `None` for a name REDCap does not ship.
pub(crate) fn passes(name: &str, value: &str) -> Option<bool> {
    let t = lookup(name)?;
    matchers()
        .iter()
        .find(|(n, _)| *n == t.name)
        .map(|(_, m)| m.is_match(value))
}

/// The order of a date's parts in an import's values: `dateFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum DateFormat {
    #[default]
    Ymd,
    Mdy,
    Dmy,
}

impl DateFormat {
    /// `YMD`, `MDY` or `DMY`, as the API's `dateFormat` names them.
    pub fn parse(text: &str) -> Option<DateFormat> {
        match text {
            "YMD" => Some(DateFormat::Ymd),
            "MDY" => Some(DateFormat::Mdy),
            "DMY" => Some(DateFormat::Dmy),
            _ => None,
        }
    }
}

/// Whether a validation type is a date or datetime (REDCap's data types
/// `date`, `datetime`, `datetime_seconds`).
pub(crate) fn is_date_type(name: &str) -> bool {
    lookup(name).is_some_and(|t| t.data_type.starts_with("date"))
}

/// The type an imported value of a `name` field is checked against: for
/// a date or datetime, its Y-M-D type (REDCap stores every date in Y-M-D,
/// whatever order the form shows); otherwise the type itself.
pub(crate) fn import_type(name: &str) -> &str {
    match lookup(name) {
        Some(t) if t.data_type.starts_with("date") => {
            match t.name.strip_suffix("_mdy").or(t.name.strip_suffix("_dmy")) {
                Some(stem) => TYPES
                    .iter()
                    .find(|y| y.name.strip_suffix("_ymd") == Some(stem))
                    .map_or(t.name, |y| y.name),
                None => t.name,
            }
        }
        Some(t) => t.name,
        None => name,
    }
}

/// A date or datetime value sent in `format`'s order, in Y-M-D order: its
/// date's three parts (split at `-` or `/`) reordered, the time after a
/// space kept. A value whose date does not have three parts is given back
/// as it is (the Y-M-D check then refuses it).
pub(crate) fn to_ymd(value: &str, format: DateFormat) -> String {
    if format == DateFormat::Ymd {
        return value.to_owned();
    }
    let (date, time) = match value.split_once(' ') {
        Some((d, t)) => (d, Some(t)),
        None => (value, None),
    };
    let sep = if date.contains('/') { '/' } else { '-' };
    let parts: Vec<&str> = date.split(sep).collect();
    let [a, b, c] = parts.as_slice() else {
        return value.to_owned();
    };
    let (y, m, d) = match format {
        DateFormat::Mdy => (c, a, b),
        DateFormat::Dmy => (c, b, a),
        DateFormat::Ymd => (a, b, c),
    };
    match time {
        Some(t) => format!("{y}{sep}{m}{sep}{d} {t}"),
        None => format!("{y}{sep}{m}{sep}{d}"),
    }
}

/// A Y-M-D date or datetime that passed its type, as REDCap keeps it:
/// `-` between the date's parts.
pub(crate) fn stored_date(value: &str) -> String {
    match value.split_once(' ') {
        Some((d, t)) => format!("{} {t}", d.replace('/', "-")),
        None => value.replace('/', "-"),
    }
}
