//! Case report forms as a CRC fills them: what a form shows (labels made
//! safe, choices, sliders, matrices), what it shows *now* for the values
//! typed so far (branching logic, calculations, validation messages), what
//! saving it writes, and the visit grid of a subject.
//!
//! The UI asks this module; it never validates or evaluates by itself, so
//! the desk applies exactly the rules the import checked. Everything here
//! is a pure function over the dictionary, the design and the record's
//! saved values; the store reads and writes them.
//!
//! Storage follows REDCap's flat layout: a checkbox choice is its own
//! value `meds___2` (`1` when ticked, no value otherwise), and a form's
//! status is the value `<form>_complete` (`0`, `1`, `2`).

mod demo;
mod sanitize;
#[cfg(test)]
mod tags_tests;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::domain::RecordEdit;
use crate::i18n::{Arg, Lang, Message};
use crate::metadata::design::{Design, MissingCode};
use crate::metadata::logic::{self, FieldRef};
use crate::metadata::tags::{self, FieldTags};
use crate::metadata::validate::{self, Kind, Verdict};
use crate::metadata::{Dictionary, Field, FieldType};

pub use demo::demo_forms;
pub use sanitize::{plain_text, sanitize_html};

/// A form's status, as REDCap keeps it in `<form>_complete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum FormStatus {
    #[default]
    Incomplete,
    Unverified,
    Complete,
}

impl FormStatus {
    pub fn code(self) -> &'static str {
        match self {
            FormStatus::Incomplete => "0",
            FormStatus::Unverified => "1",
            FormStatus::Complete => "2",
        }
    }

    pub fn from_code(code: &str) -> Option<FormStatus> {
        match code {
            "0" => Some(FormStatus::Incomplete),
            "1" => Some(FormStatus::Unverified),
            "2" => Some(FormStatus::Complete),
            _ => None,
        }
    }
}

/// The field holding a form's status.
pub fn status_field(form: &str) -> String {
    format!("{form}_complete")
}

/// The stored name of one checkbox choice, as REDCap names its export
/// column: the code lower-cased, anything but letters, digits and `_` as
/// `_` (`race` choice `-99` is `race____99`).
pub fn choice_field(field: &str, code: &str) -> String {
    let code: String = code
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_') => c,
            _ => '_',
        })
        .collect();
    format!("{field}___{code}")
}

/// One saved value of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedValue {
    pub event: String,
    pub instance: u32,
    pub field: String,
    pub value: String,
}

/// All saved values of one record, by event, instance and stored name.
#[derive(Debug, Clone, Default)]
pub struct RecordValues {
    values: HashMap<(String, u32, String), String>,
}

impl RecordValues {
    pub fn new(rows: impl IntoIterator<Item = SavedValue>) -> RecordValues {
        RecordValues {
            values: rows
                .into_iter()
                .map(|v| ((v.event, v.instance, v.field), v.value))
                .collect(),
        }
    }

    pub fn get(&self, event: &str, instance: u32, field: &str) -> Option<&str> {
        self.values
            .get(&(event.to_owned(), instance, field.to_owned()))
            .map(String::as_str)
    }

    fn rows(&self) -> impl Iterator<Item = (&str, u32, &str)> {
        self.values
            .keys()
            .map(|(e, i, f)| (e.as_str(), *i, f.as_str()))
    }
}

/// Why a form cannot be opened or saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("no study forms have been imported on this desk")]
    NoDictionary,
    #[error("there is no form {0}")]
    UnknownForm(String),
    #[error("there is no event {0}")]
    UnknownEvent(String),
    #[error("form {form} is not part of event {event}")]
    NotInEvent { form: String, event: String },
    #[error("form {form} does not repeat in event {event}")]
    NotRepeating { form: String, event: String },
    #[error("{0} is not a field of this form")]
    UnknownField(String),
    #[error("{} values need attention", .0.len())]
    Values(Vec<FieldProblem>),
    #[error("a reason is required to keep a value outside its expected range")]
    ReasonRequired,
}

impl FormError {
    /// The message shown to the user.
    pub fn message(&self, lang: Lang) -> String {
        self.msg().render(lang)
    }

    /// The message, in no language yet.
    pub fn msg(&self) -> Message {
        match self {
            FormError::NoDictionary => Message::new("core.forms.noDictionary"),
            FormError::UnknownForm(f) => Message::new("core.forms.unknownForm").with("form", f),
            FormError::UnknownEvent(e) => Message::new("core.forms.unknownEvent").with("event", e),
            FormError::NotInEvent { form, event } => Message::new("core.forms.notInEvent")
                .with("form", form)
                .with("event", event),
            FormError::NotRepeating { form, event } => Message::new("core.forms.notRepeating")
                .with("form", form)
                .with("event", event),
            FormError::UnknownField(f) => Message::new("core.forms.unknownField").with("field", f),
            FormError::Values(problems) => {
                let each = problems.iter().map(|p| {
                    Message::new("core.forms.problem")
                        .with("label", &p.label)
                        .with("message", &p.message)
                });
                Message::new("core.forms.values")
                    .count(problems.len())
                    .with("problems", Arg::list(each, "core.forms.problemSeparator"))
            }
            FormError::ReasonRequired => Message::new("core.forms.reasonRequired"),
        }
    }
}

/// A field whose typed value cannot be saved as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FieldProblem {
    pub field: String,
    /// The field's label, as plain text.
    pub label: String,
    pub message: String,
}

/// One choice as the form shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ChoiceView {
    pub code: String,
    /// Sanitized HTML.
    pub label_html: String,
    /// For a checkbox, the name its value is stored and sent under.
    pub stored: Option<String>,
}

/// A slider's three labels (left, middle, right) and whether the number
/// shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SliderView {
    pub left: String,
    pub middle: String,
    pub right: String,
    pub show_number: bool,
    /// The range the core accepts (0 to 100 unless the field says).
    pub min: i32,
    pub max: i32,
}

/// Why a field cannot be filled at the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Unavailable {
    File,
    Signature,
    Sql,
}

/// One field of a form as the UI renders it. Every `*_html` is sanitized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FieldView {
    pub name: String,
    pub field_type: FieldType,
    pub label_html: String,
    pub section_html: Option<String>,
    pub note_html: Option<String>,
    pub choices: Vec<ChoiceView>,
    pub slider: Option<SliderView>,
    /// The validation type, for the input's hint (`date_ymd`).
    pub validation: Option<String>,
    pub required: bool,
    pub identifier: bool,
    /// Consecutive fields with the same group render as one grid.
    pub matrix_group: Option<String>,
    pub unavailable: Option<Unavailable>,
    /// Branching logic or calculation SiteDesk cannot evaluate: the field
    /// always shows, with this message.
    pub logic_problem: Option<String>,
    /// The stored names a person enters values under here (a checkbox: one
    /// per choice and one per missing-data code); none for calculations,
    /// descriptive text, read-only and hidden fields and fields the desk
    /// cannot fill.
    pub inputs: Vec<String>,
    /// `@READONLY`, `@CALCTEXT`, `@CALCDATE`: shown, never typed; its value
    /// is the evaluation's `calc`.
    pub readonly: bool,
    /// `@HIDDEN`, `@HIDDEN-FORM`, `@HIDDEN-APP`: not shown at the desk; its
    /// value is kept.
    pub hidden: bool,
    /// `@NONEOFTHEABOVE`: checkbox codes that stand alone.
    pub exclusive: Vec<String>,
    /// `@CHARLIMIT`, `@WORDLIMIT`.
    pub char_limit: Option<u32>,
    pub word_limit: Option<u32>,
}

/// A form of one record at one event and instance, ready to fill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FormView {
    pub record_id: String,
    pub form: String,
    pub form_label: String,
    pub event: String,
    pub event_label: String,
    pub instance: u32,
    pub repeating: bool,
    pub fields: Vec<FieldView>,
    /// Saved values as the fields show them, by stored name.
    pub values: BTreeMap<String, String>,
    /// The saved status; `None` when the form was never saved.
    pub status: Option<FormStatus>,
    /// The project's missing-data codes, which any field takes.
    pub missing_codes: Vec<MissingCode>,
    /// Stored names whose value in `values` is a default of this new
    /// instance (`@DEFAULT`, `@NOW`, `@TODAY`), not saved: the UI sends them
    /// back as entered, so that the time shown is the time saved.
    pub prefilled: Vec<String>,
}

/// What the form shows for the values typed so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FieldState {
    pub name: String,
    pub visible: bool,
    /// The value of a field the CRC does not type (a calc, `@CALCTEXT`,
    /// `@CALCDATE`, `@READONLY`), as shown; a checkbox's ticked codes
    /// separated by commas.
    pub calc: Option<String>,
    pub message: Option<FieldMessage>,
}

/// A message under a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FieldMessage {
    pub severity: Severity,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Malformed: the form cannot be saved until it is fixed.
    Error,
    /// Outside the expected range: saved only when confirmed with a reason.
    Confirm,
    /// Required and empty: the form saves, marked.
    Missing,
}

/// The whole form's state, and what saving it now would need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Evaluation {
    pub fields: Vec<FieldState>,
    /// Fields whose saved value would change or be cleared: saving needs a
    /// reason for change.
    pub changes_saved: Vec<String>,
    /// Fields outside their expected range: saving needs them confirmed.
    pub out_of_range: Vec<String>,
    /// Fields that would be written.
    pub changed: Vec<String>,
    /// Fields branching logic hides now that hold a value (typed or
    /// saved): the form asks before such a value is erased.
    pub hidden_with_values: Vec<String>,
}

/// What the CRC asks to save.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct FormInput {
    /// Values as typed (dates in the field's order), by stored name; a
    /// field left out keeps its saved value.
    pub values: BTreeMap<String, String>,
    pub status: FormStatus,
    /// Out-of-range fields the CRC confirmed.
    #[serde(default)]
    pub confirmed: Vec<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// A dictionary and design in force: what every function here works from.
/// With a [`LogicCache`] (`with_logic`) its branching logic and calcs are
/// parsed once per dictionary version; without one, at each use.
#[derive(Clone, Copy)]
pub struct Study<'a> {
    pub dictionary: &'a Dictionary,
    pub design: &'a Design,
    logic: Option<&'a LogicCache>,
}

/// The parsed branching logic and calculations of one dictionary, by their
/// text: built once per dictionary version, so that evaluating a form as
/// the CRC types parses nothing.
#[derive(Debug, Default)]
pub struct LogicCache {
    parsed: HashMap<String, Result<logic::Expr, logic::LogicError>>,
    /// Each field's action tags, by field name.
    tags: HashMap<String, FieldTags>,
}

impl LogicCache {
    /// Parses every branching logic, calculation and action tag of
    /// `dictionary`.
    pub fn of(dictionary: &Dictionary) -> LogicCache {
        let mut parsed = HashMap::new();
        let mut tags = HashMap::new();
        for f in &dictionary.fields {
            let t = FieldTags::of(f);
            for text in logic_texts(f, &t) {
                parsed
                    .entry(text.to_owned())
                    .or_insert_with(|| logic::parse(text));
            }
            tags.insert(f.name.clone(), t);
        }
        LogicCache { parsed, tags }
    }
}

/// Every logic text of a field: branching, calculation, `@CALCTEXT`, and
/// `@CALCDATE`'s source field.
fn logic_texts<'f>(f: &'f Field, t: &'f FieldTags) -> impl Iterator<Item = &'f str> {
    let calc = (f.field_type == FieldType::Calc)
        .then_some(f.choices_text.as_deref())
        .flatten();
    [
        f.branching_logic.as_deref(),
        calc,
        t.calctext.as_deref(),
        t.calcdate.as_ref().map(|c| c.source.as_str()),
    ]
    .into_iter()
    .flatten()
}

/// One form of one record at one event and instance.
pub struct FormAt<'a> {
    pub record_id: &'a str,
    pub event: &'a str,
    pub form: &'a str,
    pub instance: u32,
}

impl<'a> Study<'a> {
    pub fn new(dictionary: &'a Dictionary, design: &'a Design) -> Study<'a> {
        Study {
            dictionary,
            design,
            logic: None,
        }
    }

    /// The same study, reading parsed logic from `cache` (built from this
    /// dictionary).
    pub fn with_logic(self, cache: &'a LogicCache) -> Study<'a> {
        Study {
            logic: Some(cache),
            ..self
        }
    }

    /// `f`'s action tags: from the cache when it has them, else read now.
    fn tags(&self, f: &Field) -> Cow<'a, FieldTags> {
        match self.logic.and_then(|c| c.tags.get(&f.name)) {
            Some(t) => Cow::Borrowed(t),
            None => Cow::Owned(FieldTags::of(f)),
        }
    }

    /// The stored names of `f`'s values: a checkbox has one per choice and
    /// one per missing-data code, as REDCap's export columns.
    fn stored(&self, f: &Field) -> Vec<String> {
        stored_names(f, &self.design.missing_codes)
    }

    /// Whether nothing of `form` is saved at `at`: a new instance, which
    /// `@DEFAULT`, `@NOW` and `@TODAY` fill.
    fn fresh(&self, at: &FormAt<'_>, saved: &RecordValues) -> bool {
        saved
            .get(at.event, at.instance, &status_field(at.form))
            .is_none()
            && self.fields(at.form).all(|f| {
                self.stored(f).iter().all(|n| {
                    saved
                        .get(at.event, at.instance, n)
                        .is_none_or(str::is_empty)
                })
            })
    }

    /// `text` parsed: from the cache when it has it, else now.
    fn parsed(&self, text: &str) -> Cow<'a, Result<logic::Expr, logic::LogicError>> {
        match self.logic.and_then(|c| c.parsed.get(text)) {
            Some(p) => Cow::Borrowed(p),
            None => Cow::Owned(logic::parse(text)),
        }
    }

    /// Checks that `at` names a form the design has at that event, and an
    /// instance it can have.
    pub fn check(&self, at: &FormAt<'_>) -> Result<bool, FormError> {
        if !self
            .dictionary
            .instruments()
            .iter()
            .any(|i| i.name == at.form)
        {
            return Err(FormError::UnknownForm(at.form.to_owned()));
        }
        if !self.design.event_names().iter().any(|e| e == at.event) {
            return Err(FormError::UnknownEvent(at.event.to_owned()));
        }
        if !self
            .design
            .forms_for_event(self.dictionary, at.event)
            .iter()
            .any(|f| f == at.form)
        {
            return Err(FormError::NotInEvent {
                form: at.form.to_owned(),
                event: at.event.to_owned(),
            });
        }
        let repeating = self.design.repeats(at.event, at.form);
        if at.instance == 0 || (!repeating && at.instance != 1) {
            return Err(FormError::NotRepeating {
                form: at.form.to_owned(),
                event: at.event.to_owned(),
            });
        }
        Ok(repeating)
    }

    /// The form's fields in order, without the record id field.
    fn fields(&self, form: &str) -> impl Iterator<Item = &Field> {
        let record_id = self.dictionary.record_id_field().name.clone();
        self.dictionary
            .fields
            .iter()
            .filter(move |f| f.form == form && f.name != record_id)
    }

    fn event_label(&self, event: &str) -> String {
        self.design
            .events
            .iter()
            .find(|e| e.unique_event_name == event)
            .map(|e| {
                e.custom_event_label
                    .clone()
                    .filter(|l| !l.is_empty())
                    .unwrap_or_else(|| e.event_name.clone())
            })
            .unwrap_or_default()
    }

    /// The form ready to fill, with its saved values.
    pub fn form_view(
        &self,
        at: &FormAt<'_>,
        saved: &RecordValues,
        now: NaiveDateTime,
        lang: Lang,
    ) -> Result<FormView, FormError> {
        let repeating = self.check(at)?;
        let mut values = BTreeMap::new();
        let mut fields = Vec::new();
        let fresh = self.fresh(at, saved);
        let mut prefilled = Vec::new();
        for f in self.fields(at.form) {
            let tags = self.tags(f);
            for name in self.stored(f) {
                if let Some(v) = saved.get(at.event, at.instance, &name) {
                    values.insert(name, validate::display(f, v));
                }
            }
            // A new instance shows its defaults as the fields' values: a save
            // writes them unless the CRC changes them.
            if fresh && !tags.readonly && !tags.hidden {
                for (name, v) in prefill(f, &tags, now) {
                    values.insert(name.clone(), validate::display(f, &v));
                    prefilled.push(name);
                }
            }
            fields.push(field_view(f, &tags, &self.design.missing_codes, lang));
        }
        let status = saved
            .get(at.event, at.instance, &status_field(at.form))
            .and_then(FormStatus::from_code);
        Ok(FormView {
            record_id: at.record_id.to_owned(),
            form: at.form.to_owned(),
            form_label: self.design.form_label(at.form),
            event: at.event.to_owned(),
            event_label: self.event_label(at.event),
            instance: at.instance,
            repeating,
            fields,
            values,
            status,
            missing_codes: self.design.missing_codes.clone(),
            prefilled,
        })
    }

    /// Works out what the form shows for `typed` and what saving it would
    /// write: the values to store (by stored name, `""` to clear), and the
    /// per-field verdicts.
    fn work(
        &self,
        at: &FormAt<'_>,
        saved: &RecordValues,
        typed: &BTreeMap<String, String>,
        now: NaiveDateTime,
        lang: Lang,
    ) -> Result<Worked, FormError> {
        self.check(at)?;
        let fields: Vec<&Field> = self.fields(at.form).collect();
        for key in typed.keys() {
            let known = fields
                .iter()
                .any(|f| enterable(f) && self.stored(f).contains(key));
            if !known {
                return Err(FormError::UnknownField(key.clone()));
            }
        }
        let tags: HashMap<&str, Cow<'a, FieldTags>> = fields
            .iter()
            .map(|f| (f.name.as_str(), self.tags(f)))
            .collect();
        let tag = |f: &Field| -> &FieldTags { &tags[f.name.as_str()] };
        // What counts as typed: the CRC's values, except on fields it cannot
        // type (read-only, hidden, computed), which keep their saved values;
        // and on a new instance, the defaults of the fields it left alone.
        let fresh = self.fresh(at, saved);
        let mut input: BTreeMap<String, String> = BTreeMap::new();
        for f in &fields {
            let t = tag(f);
            if t.computed() {
                continue;
            }
            let mut touched = false;
            if !t.readonly && !t.hidden {
                for name in self.stored(f) {
                    if let Some(v) = typed.get(&name) {
                        input.insert(name, v.clone());
                        touched = true;
                    }
                }
            }
            if fresh && !touched {
                input.extend(prefill(f, t, now));
            }
        }
        let typed = &input;
        let saved_here = |name: &str| saved.get(at.event, at.instance, name).unwrap_or("");
        let is_code = |v: &str| self.design.is_missing_code(v);
        // The value each stored name will have, as stored.
        let mut new: BTreeMap<String, String> = BTreeMap::new();
        let mut verdicts: HashMap<&str, FieldMessage> = HashMap::new();
        let mut out_of_range = Vec::new();
        for f in fields.iter().filter(|f| enterable(f) && !tag(f).computed()) {
            if f.field_type == FieldType::Checkbox {
                let mut ticked: Vec<&str> = Vec::new();
                let codes = f
                    .choices
                    .iter()
                    .map(|c| c.code.as_str())
                    .chain(self.design.missing_codes.iter().map(|m| m.code.as_str()));
                for code in codes {
                    let name = choice_field(&f.name, code);
                    let saved_value = saved_here(&name);
                    let v = match typed.get(&name).map(|s| s.trim()) {
                        Some("1") => "1",
                        // The EDC exports an unticked box as "0": keep it,
                        // unticked is no change.
                        Some("" | "0") if saved_value == "0" => "0",
                        Some("" | "0") => "",
                        Some(_) => {
                            verdicts.insert(&f.name, error(validate::Invalid::NotAChoice, lang));
                            saved_value
                        }
                        None => saved_value,
                    };
                    if v == "1" {
                        ticked.push(code);
                    }
                    new.insert(name, v.to_owned());
                }
                let exclusive: Vec<&str> = tag(f)
                    .none_of_the_above
                    .iter()
                    .map(String::as_str)
                    .chain(ticked.iter().copied().filter(|c| is_code(c)))
                    .collect();
                if ticked.is_empty() && f.required {
                    verdicts.entry(&f.name).or_insert(missing(lang));
                } else if let Some(alone) = tags::exclusive_conflict(&exclusive, &ticked) {
                    let label = f
                        .choices
                        .iter()
                        .find(|c| c.code == alone)
                        .map(|c| plain_text(&c.label))
                        .or_else(|| {
                            self.design
                                .missing_codes
                                .iter()
                                .find(|m| m.code == alone)
                                .map(|m| m.label.clone())
                        })
                        .unwrap_or_else(|| alone.to_owned());
                    verdicts.insert(&f.name, stands_alone(&label, lang));
                }
                continue;
            }
            let saved_value = saved_here(&f.name);
            let Some(input) = typed.get(&f.name) else {
                if saved_value.is_empty() && f.required {
                    verdicts.insert(&f.name, missing(lang));
                }
                new.insert(f.name.clone(), saved_value.to_owned());
                continue;
            };
            // A value shown unchanged is not checked again: a dictionary
            // change must not block saving the other fields.
            if !saved_value.is_empty() && input.trim() == validate::display(f, saved_value) {
                new.insert(f.name.clone(), saved_value.to_owned());
                continue;
            }
            // A missing-data code is taken in any field, whatever its
            // validation, and answers it.
            if is_code(input.trim()) {
                new.insert(f.name.clone(), input.trim().to_owned());
                continue;
            }
            match validate::check_value(f, input, now) {
                Verdict::Valid { stored } | Verdict::Unsupported { stored, .. } => {
                    if let Some(m) = limit(tag(f), &stored, lang) {
                        verdicts.insert(&f.name, m);
                    }
                    new.insert(f.name.clone(), stored);
                }
                Verdict::Missing => {
                    new.insert(f.name.clone(), String::new());
                    verdicts.insert(&f.name, missing(lang));
                }
                Verdict::OutOfRange { stored, min, max } => {
                    new.insert(f.name.clone(), stored);
                    out_of_range.push(f.name.clone());
                    verdicts.insert(
                        &f.name,
                        FieldMessage {
                            severity: Severity::Confirm,
                            text: out_of_range_message(min, max, lang),
                        },
                    );
                }
                Verdict::Invalid { problem } => {
                    // Logic sees a malformed value as blank.
                    new.insert(f.name.clone(), String::new());
                    verdicts.insert(&f.name, error(problem, lang));
                }
            }
        }
        // Calculations and the fields `@CALCTEXT` and `@CALCDATE` compute,
        // twice so that one may read another below it.
        let mut calcs: BTreeMap<String, String> = BTreeMap::new();
        for _ in 0..2 {
            for f in fields
                .iter()
                .filter(|f| f.field_type == FieldType::Calc || tag(f).computed())
            {
                let lookup = |r: &FieldRef| self.lookup(at, saved, &new, &calcs, r);
                let scope = logic::Scope {
                    value: &lookup,
                    missing: &is_code,
                };
                let t = tag(f);
                let parsed_ok = |text: &str| self.parsed(text).as_ref().as_ref().ok().cloned();
                // What the desk cannot evaluate keeps its saved value rather
                // than being cleared.
                let value = if let Some(c) = &t.calcdate {
                    parsed_ok(&c.source)
                        .and_then(|e| logic::calculate_in(&e, scope).ok())
                        .map(|source| calc_date(f, &source, c))
                } else {
                    let text = match &t.calctext {
                        Some(text) => Some(text.as_str()),
                        None => f.choices_text.as_deref(),
                    };
                    text.and_then(parsed_ok)
                        .and_then(|e| logic::calculate_in(&e, scope).ok())
                }
                .unwrap_or_else(|| saved_here(&f.name).to_owned());
                calcs.insert(f.name.clone(), value);
            }
        }
        let mut states = Vec::new();
        for f in &fields {
            let t = tag(f);
            let lookup = |r: &FieldRef| self.lookup(at, saved, &new, &calcs, r);
            let scope = logic::Scope {
                value: &lookup,
                missing: &is_code,
            };
            let visible = match f.branching_logic.as_deref().map(|t| self.parsed(t)) {
                None => true,
                Some(p) => match p.as_ref() {
                    Ok(e) => logic::shows_in(e, scope).unwrap_or(true),
                    Err(_) => true,
                },
            };
            let message = if visible && !t.hidden {
                verdicts.get(f.name.as_str()).cloned()
            } else {
                None
            };
            let calc = match calcs.get(&f.name) {
                Some(v) => Some(validate::display(f, v)),
                None if t.readonly && f.field_type == FieldType::Checkbox => Some(
                    self.stored(f)
                        .iter()
                        .zip(
                            f.choices
                                .iter()
                                .map(|c| &c.code)
                                .chain(self.design.missing_codes.iter().map(|m| &m.code)),
                        )
                        .filter(|(n, _)| new.get(*n).is_some_and(|v| v == "1"))
                        .map(|(_, c)| c.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                None if t.readonly => new.get(&f.name).map(|v| validate::display(f, v)),
                None => None,
            };
            states.push(FieldState {
                name: f.name.clone(),
                visible,
                calc,
                message,
            });
        }
        let hidden_with_values = states
            .iter()
            .filter(|s| !s.visible)
            .filter_map(|s| fields.iter().find(|f| f.name == s.name))
            // The CRC cannot erase what it cannot type: those keep their values.
            .filter(|f| !tag(f).readonly && !tag(f).hidden)
            .filter(|f| {
                self.stored(f)
                    .iter()
                    .any(|n| new.get(n).is_some_and(|v| !v.is_empty() && v != "0"))
                    || (f.field_type != FieldType::Checkbox
                        && new.get(&f.name).is_some_and(|v| v == "0"))
            })
            .map(|f| f.name.clone())
            .collect();
        // A hidden field takes no new value: the CRC cannot see it. Only
        // erasing it (after the form asked) is written; anything else typed
        // there keeps the saved value, and its message does not block.
        for s in states.iter().filter(|s| !s.visible) {
            let Some(f) = fields.iter().find(|f| f.name == s.name) else {
                continue;
            };
            for name in self.stored(f) {
                let Some(v) = new.get(&name) else { continue };
                let old = saved_here(&name);
                let erased = typed.get(&name).is_some_and(|t| {
                    matches!(t.trim(), "" | "0")
                        && (t.trim().is_empty() || f.field_type == FieldType::Checkbox)
                });
                if v != old && !erased {
                    new.insert(name.clone(), old.to_owned());
                }
            }
        }
        new.extend(calcs);
        out_of_range.retain(|f| states.iter().any(|s| &s.name == f && s.visible));
        Ok(Worked {
            states,
            hidden_with_values,
            new,
            out_of_range,
        })
    }

    /// A value for the logic: typed on this form, else saved.
    fn lookup(
        &self,
        at: &FormAt<'_>,
        saved: &RecordValues,
        new: &BTreeMap<String, String>,
        calcs: &BTreeMap<String, String>,
        r: &FieldRef,
    ) -> String {
        let name = match &r.choice {
            Some(code) => choice_field(&r.field, code),
            None => r.field.clone(),
        };
        let event = r.event.as_deref().unwrap_or(at.event);
        // In a repeating event every form shares the instance; otherwise a
        // form that does not repeat keeps its values at instance 1.
        let whole_event_repeats = self.design.event_repeats(event);
        let value = if event == at.event {
            new.get(&name)
                .or_else(|| calcs.get(&name))
                .map(String::as_str)
                .or_else(|| saved.get(event, at.instance, &name))
                .or_else(|| {
                    (!whole_event_repeats)
                        .then(|| saved.get(event, 1, &name))
                        .flatten()
                })
        } else {
            saved.get(event, 1, &name)
        };
        if name == self.dictionary.record_id_field().name {
            return at.record_id.to_owned();
        }
        match (&r.choice, value) {
            (Some(_), Some("1")) => "1".into(),
            (Some(_), _) => "0".into(),
            // REDCap stores a `*_comma_decimal` number with its comma and
            // reads it as a number in logic: `1,5` is 1.5.
            (None, Some(v))
                if v.contains(',')
                    && self.dictionary.field(&name).is_some_and(|f| {
                        f.validation
                            .as_deref()
                            .is_some_and(|t| t.ends_with("_comma_decimal"))
                    }) =>
            {
                v.replace(',', ".")
            }
            (None, v) => v.unwrap_or("").to_owned(),
        }
    }

    /// What the form shows now, for the values typed so far.
    pub fn evaluate(
        &self,
        at: &FormAt<'_>,
        saved: &RecordValues,
        typed: &BTreeMap<String, String>,
        now: NaiveDateTime,
        lang: Lang,
    ) -> Result<Evaluation, FormError> {
        let worked = self.work(at, saved, typed, now, lang)?;
        // What the CRC changed: calculations follow by themselves.
        let typed_only: BTreeMap<String, String> = worked
            .new
            .iter()
            .filter(|(k, _)| {
                self.dictionary
                    .field(k)
                    .is_none_or(|f| f.field_type != FieldType::Calc && !self.tags(f).computed())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let (changed, changes_saved) = diff(at, saved, &typed_only);
        Ok(Evaluation {
            fields: worked.states,
            changes_saved,
            out_of_range: worked.out_of_range,
            changed,
            hidden_with_values: worked.hidden_with_values,
        })
    }

    /// The edit that saving `input` writes: the changed values (calc
    /// results recomputed here, never taken from the UI) and the status.
    /// Malformed values, unconfirmed out-of-range values, and confirmed
    /// ones without a reason are refused. The writer still refuses a
    /// change to a saved value without a reason, inside its transaction.
    pub fn plan_save(
        &self,
        at: &FormAt<'_>,
        saved: &RecordValues,
        input: &FormInput,
        now: NaiveDateTime,
        lang: Lang,
    ) -> Result<RecordEdit, FormError> {
        let worked = self.work(at, saved, &input.values, now, lang)?;
        let mut problems = Vec::new();
        for s in &worked.states {
            let label = || {
                self.dictionary
                    .field(&s.name)
                    .map(|f| plain_text(&f.label))
                    .unwrap_or_default()
            };
            match &s.message {
                Some(m) if m.severity == Severity::Error => problems.push(FieldProblem {
                    field: s.name.clone(),
                    label: label(),
                    message: m.text.clone(),
                }),
                Some(m)
                    if m.severity == Severity::Confirm && !input.confirmed.contains(&s.name) =>
                {
                    problems.push(FieldProblem {
                        field: s.name.clone(),
                        label: label(),
                        message: m.text.clone(),
                    })
                }
                _ => {}
            }
        }
        if !problems.is_empty() {
            return Err(FormError::Values(problems));
        }
        let reason = input
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if !worked.out_of_range.is_empty() && reason.is_none() {
            return Err(FormError::ReasonRequired);
        }
        let mut values: BTreeMap<String, Option<String>> = BTreeMap::new();
        let (changed, _) = diff(at, saved, &worked.new);
        for name in changed {
            let v = worked.new[&name].clone();
            values.insert(name, Some(v).filter(|v| !v.is_empty()));
        }
        let status = status_field(at.form);
        if saved.get(at.event, at.instance, &status) != Some(input.status.code()) {
            values.insert(status.clone(), Some(input.status.code().to_owned()));
        }
        // The status and the calculations are the desk's, not typed: they
        // change without a reason (and are audited all the same).
        let mut computed = vec![status];
        computed.extend(
            self.fields(at.form)
                .filter(|f| f.field_type == FieldType::Calc || self.tags(f).computed())
                .map(|f| f.name.clone()),
        );
        Ok(RecordEdit {
            record_id: at.record_id.to_owned(),
            event: at.event.to_owned(),
            instance: at.instance,
            values,
            reason: reason.map(str::to_owned),
            computed,
        })
    }

    /// The visit grid of one record: every event's forms with their
    /// status, and the instances of repeating ones.
    pub fn visit_grid(&self, saved: &RecordValues) -> VisitGrid {
        let events: Vec<EventColumn> = self
            .design
            .event_names()
            .into_iter()
            .map(|name| EventColumn {
                label: match self.event_label(&name) {
                    l if l.is_empty() => self.design.form_label(&name),
                    l => l,
                },
                name,
            })
            .collect();
        let forms: Vec<FormRow> = self
            .dictionary
            .instruments()
            .into_iter()
            .map(|i| FormRow {
                label: self.design.form_label(&i.name),
                name: i.name,
            })
            .collect();
        // Which stored names belong to which form.
        let mut owner: HashMap<String, &str> = HashMap::new();
        for f in &self.dictionary.fields {
            for n in self.stored(f) {
                owner.insert(n, f.form.as_str());
            }
        }
        for i in &forms {
            owner.insert(status_field(&i.name), i.name.as_str());
        }
        let record_id = self.dictionary.record_id_field().name.as_str();
        let mut instances: HashMap<(&str, &str), Vec<u32>> = HashMap::new();
        for (event, instance, field) in saved.rows() {
            if field == record_id {
                continue;
            }
            if let Some(form) = owner.get(field) {
                let list = instances.entry((event, *form)).or_default();
                if !list.contains(&instance) {
                    list.push(instance);
                }
            }
        }
        let instances_of_event = |event: &str| {
            instances
                .iter()
                .filter(|((e, _), _)| *e == event)
                .flat_map(|(_, l)| l.iter().copied())
                .max()
                .unwrap_or(0)
        };
        let list_max = |l: &Vec<InstanceStatus>| l.iter().map(|i| i.instance).max().unwrap_or(0);
        let mut cells = Vec::new();
        for e in &events {
            for form in self.design.forms_for_event(self.dictionary, &e.name) {
                let repeating = self.design.repeats(&e.name, &form);
                let mut list = instances
                    .get(&(e.name.as_str(), form.as_str()))
                    .cloned()
                    .unwrap_or_default();
                list.sort_unstable();
                if list.is_empty() && !repeating {
                    list.push(1);
                }
                let instances = list
                    .into_iter()
                    .map(|instance| {
                        let status = match saved.get(&e.name, instance, &status_field(&form)) {
                            Some(code) => match FormStatus::from_code(code) {
                                Some(FormStatus::Complete) => CellStatus::Complete,
                                Some(FormStatus::Unverified) => CellStatus::Unverified,
                                _ => CellStatus::Incomplete,
                            },
                            None if instances
                                .get(&(e.name.as_str(), form.as_str()))
                                .is_some_and(|l| l.contains(&instance)) =>
                            {
                                CellStatus::Incomplete
                            }
                            None => CellStatus::Empty,
                        };
                        InstanceStatus { instance, status }
                    })
                    .collect();
                let last = if self.design.event_repeats(&e.name) {
                    instances_of_event(&e.name)
                } else {
                    list_max(&instances)
                };
                cells.push(GridCell {
                    event: e.name.clone(),
                    form,
                    repeating,
                    instances,
                    next_instance: last + 1,
                });
            }
        }
        VisitGrid {
            events,
            forms,
            cells,
        }
    }
}

struct Worked {
    states: Vec<FieldState>,
    /// Hidden fields holding a value, before hiding dropped what was typed.
    hidden_with_values: Vec<String>,
    /// By stored name, as stored; `""` is no value.
    new: BTreeMap<String, String>,
    out_of_range: Vec<String>,
}

/// The stored names that differ from the saved ones, and of those the ones
/// that had a saved value.
fn diff(
    at: &FormAt<'_>,
    saved: &RecordValues,
    new: &BTreeMap<String, String>,
) -> (Vec<String>, Vec<String>) {
    let mut changed = Vec::new();
    let mut changes_saved = Vec::new();
    for (name, v) in new {
        let old = saved.get(at.event, at.instance, name).unwrap_or("");
        if old != v {
            changed.push(name.clone());
            if !old.is_empty() {
                changes_saved.push(name.clone());
            }
        }
    }
    (changed, changes_saved)
}

/// Fields a person types or picks a value for.
fn enterable(f: &Field) -> bool {
    !matches!(
        f.field_type,
        FieldType::Calc | FieldType::Descriptive | FieldType::File | FieldType::Sql
    )
}

/// The names a field's values are stored under: a checkbox has one per
/// choice and one per missing-data code (REDCap's export columns).
fn stored_names(f: &Field, codes: &[MissingCode]) -> Vec<String> {
    match f.field_type {
        FieldType::Checkbox => f
            .choices
            .iter()
            .map(|c| c.code.as_str())
            .chain(codes.iter().map(|m| m.code.as_str()))
            .map(|code| choice_field(&f.name, code))
            .collect(),
        FieldType::Descriptive => Vec::new(),
        _ => vec![f.name.clone()],
    }
}

/// The values a new instance starts with, by stored name: `@DEFAULT`,
/// else `@NOW` or `@TODAY`. A default the field would refuse is left out.
fn prefill(f: &Field, t: &FieldTags, now: NaiveDateTime) -> Vec<(String, String)> {
    if f.field_type == FieldType::Checkbox {
        let Some(d) = &t.default else {
            return Vec::new();
        };
        return d
            .split(',')
            .map(str::trim)
            .filter(|c| f.choices.iter().any(|ch| ch.code == *c))
            .map(|c| (choice_field(&f.name, c), "1".to_owned()))
            .collect();
    }
    let value = match (&t.default, t.now, t.today) {
        (Some(d), _, _) => d.clone(),
        (None, true, _) => moment_now(f, now, true),
        (None, false, true) => moment_now(f, now, false),
        _ => return Vec::new(),
    };
    match validate::check_value(f, &value, now) {
        Verdict::Valid { stored } | Verdict::Unsupported { stored, .. } if !stored.is_empty() => {
            vec![(f.name.clone(), stored)]
        }
        _ => Vec::new(),
    }
}

/// The desk's now (`@NOW`) or today (`@TODAY`) in the field's validation
/// format, as stored; without validation `@NOW` is date and time with
/// seconds.
fn moment_now(f: &Field, now: NaiveDateTime, time: bool) -> String {
    let format = match f.validation.as_deref().and_then(Kind::parse) {
        Some(Kind::Date { .. }) => "%Y-%m-%d",
        Some(Kind::Datetime { seconds: true, .. }) => "%Y-%m-%d %H:%M:%S",
        Some(Kind::Datetime { .. }) => "%Y-%m-%d %H:%M",
        Some(Kind::Time) => "%H:%M",
        Some(Kind::TimeSeconds) => "%H:%M:%S",
        _ if time => "%Y-%m-%d %H:%M:%S",
        _ => "%Y-%m-%d",
    };
    now.format(format).to_string()
}

/// `@CALCDATE`'s value: the source date or datetime (as stored) moved by
/// the offset, in the field's format; blank when the source is.
fn calc_date(f: &Field, source: &str, c: &tags::CalcDate) -> String {
    let source = source.trim();
    let start = chrono::NaiveDate::parse_from_str(source, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .or_else(|| NaiveDateTime::parse_from_str(source, "%Y-%m-%d %H:%M:%S").ok())
        .or_else(|| NaiveDateTime::parse_from_str(source, "%Y-%m-%d %H:%M").ok());
    let Some(start) = start else {
        return String::new();
    };
    let millis = (c.offset * c.unit.seconds() * 1000.0).round() as i64;
    let Some(moved) = start.checked_add_signed(chrono::TimeDelta::milliseconds(millis)) else {
        return String::new();
    };
    moment_now(f, moved, true)
}

/// A message when `stored` is over the field's `@CHARLIMIT` or
/// `@WORDLIMIT`.
fn limit(t: &FieldTags, stored: &str, lang: Lang) -> Option<FieldMessage> {
    let chars = stored.chars().count();
    let words = tags::word_count(stored);
    let msg = match (t.char_limit, t.word_limit) {
        (Some(max), _) if chars > max => Message::new("core.forms.charLimit")
            .with("max", max.to_string())
            .with("count", chars.to_string()),
        (_, Some(max)) if words > max => Message::new("core.forms.wordLimit")
            .with("max", max.to_string())
            .with("count", words.to_string()),
        _ => return None,
    };
    Some(FieldMessage {
        severity: Severity::Error,
        text: msg.render(lang),
    })
}

/// A checkbox whose exclusive choice (`@NONEOFTHEABOVE`, or a missing-data
/// code) was ticked with others.
fn stands_alone(label: &str, lang: Lang) -> FieldMessage {
    FieldMessage {
        severity: Severity::Error,
        text: Message::new("core.forms.standsAlone")
            .with("choice", label)
            .render(lang),
    }
}

fn error(problem: validate::Invalid, lang: Lang) -> FieldMessage {
    FieldMessage {
        severity: Severity::Error,
        text: problem.message(lang),
    }
}

fn missing(lang: Lang) -> FieldMessage {
    FieldMessage {
        severity: Severity::Missing,
        text: Message::new("core.forms.missing").render(lang),
    }
}

fn out_of_range_message(min: Option<String>, max: Option<String>, lang: Lang) -> String {
    out_of_range(min, max).render(lang)
}

fn out_of_range(min: Option<String>, max: Option<String>) -> Message {
    let range = match (min, max) {
        (Some(lo), Some(hi)) => Arg::Msg(
            Message::new("core.forms.range.between")
                .with("min", lo)
                .with("max", hi),
        ),
        (Some(lo), None) => Arg::Msg(Message::new("core.forms.range.atLeast").with("min", lo)),
        (None, Some(hi)) => Arg::Msg(Message::new("core.forms.range.atMost").with("max", hi)),
        (None, None) => Arg::from(""),
    };
    Message::new("core.forms.outOfRange").with("range", range)
}

fn field_view(f: &Field, tags: &FieldTags, codes: &[MissingCode], lang: Lang) -> FieldView {
    let html = |s: &Option<String>| {
        s.as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(sanitize_html)
    };
    let slider = (f.field_type == FieldType::Slider).then(|| {
        let parts: Vec<String> = f
            .choices_text
            .as_deref()
            .unwrap_or("")
            .split('|')
            .map(|p| plain_text(p.trim()))
            .collect();
        let part = |i: usize| parts.get(i).cloned().unwrap_or_default();
        let (left, middle, right) = match parts.len() {
            0 | 1 => (part(0), String::new(), String::new()),
            2 => (part(0), String::new(), part(1)),
            _ => (part(0), part(1), part(2)),
        };
        let bound = |b: &Option<String>, default| {
            b.as_deref()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map_or(default, |v| v.round() as i32)
        };
        SliderView {
            left,
            middle,
            right,
            show_number: f.validation.as_deref() == Some("number"),
            min: bound(&f.min, 0),
            max: bound(&f.max, 100),
        }
    });
    let unavailable = match f.field_type {
        FieldType::File if f.validation.as_deref() == Some("signature") => {
            Some(Unavailable::Signature)
        }
        FieldType::File => Some(Unavailable::File),
        FieldType::Sql => Some(Unavailable::Sql),
        _ => None,
    };
    let logic_problem = logic_texts(f, tags)
        .find_map(|text| logic::parse(text).err())
        .map(|e| logic_message(&e, lang));
    FieldView {
        name: f.name.clone(),
        field_type: f.field_type,
        label_html: sanitize_html(&f.label),
        section_html: html(&f.section_header),
        note_html: html(&f.note),
        choices: f
            .choices
            .iter()
            .map(|c| ChoiceView {
                code: c.code.clone(),
                label_html: sanitize_html(&c.label),
                stored: (f.field_type == FieldType::Checkbox)
                    .then(|| choice_field(&f.name, &c.code)),
            })
            .collect(),
        slider,
        validation: f
            .validation
            .clone()
            .filter(|_| f.field_type == FieldType::Text),
        required: f.required,
        identifier: f.identifier,
        matrix_group: f.matrix_group.clone().filter(|g| !g.is_empty()),
        unavailable,
        logic_problem,
        inputs: if enterable(f) && !tags.readonly && !tags.hidden {
            stored_names(f, codes)
        } else {
            Vec::new()
        },
        readonly: tags.readonly,
        hidden: tags.hidden,
        exclusive: tags.none_of_the_above.clone(),
        char_limit: tags.char_limit.map(|n| n as u32),
        word_limit: tags.word_limit.map(|n| n as u32),
    }
}

fn logic_message(e: &logic::LogicError, lang: Lang) -> String {
    logic_unsupported(e).render(lang)
}

fn logic_unsupported(e: &logic::LogicError) -> Message {
    Message::new("core.forms.logicUnsupported").with("detail", e.to_string())
}

/// One of each message a field of a form can show, for the catalogs' tests.
#[cfg(test)]
pub(crate) fn field_message_samples() -> Vec<Message> {
    let some = |v: &str| Some(v.to_owned());
    vec![
        Message::new("core.forms.missing"),
        out_of_range(some("1"), some("9")),
        out_of_range(some("1"), None),
        out_of_range(None, some("9")),
        out_of_range(None, None),
        logic_unsupported(&logic::parse("").expect_err("empty logic is refused")),
        Message::new("core.forms.charLimit")
            .with("max", "50")
            .with("count", "51"),
        Message::new("core.forms.wordLimit")
            .with("max", "10")
            .with("count", "11"),
        Message::new("core.forms.standsAlone").with("choice", "None of the above"),
    ]
}

/// One event column of the visit grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct EventColumn {
    pub name: String,
    pub label: String,
}

/// One form row of the visit grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FormRow {
    pub name: String,
    pub label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CellStatus {
    /// Nothing saved yet.
    Empty,
    Incomplete,
    Unverified,
    Complete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct InstanceStatus {
    pub instance: u32,
    pub status: CellStatus,
}

/// A form the design has at an event: its instances (one for a form that
/// does not repeat; none yet for a repeating one never filled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct GridCell {
    pub event: String,
    pub form: String,
    pub repeating: bool,
    pub instances: Vec<InstanceStatus>,
    /// The instance "add" opens: after the form's own, or in a repeating
    /// event after the last instance of any of the event's forms.
    pub next_instance: u32,
}

/// A subject's forms by event: the participant matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct VisitGrid {
    pub events: Vec<EventColumn>,
    pub forms: Vec<FormRow>,
    pub cells: Vec<GridCell>,
}
