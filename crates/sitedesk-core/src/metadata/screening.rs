//! The screening instrument: the REDCap form that holds the screening log
//! (screening date, initials, consent, the eligibility checklist, status),
//! found through the `@SITEDESK-*` action tags a data manager puts in its
//! fields' annotations, beside REDCap's own (`@HIDDEN`, `@DEFAULT='x'`).
//! [`find_screening_instrument`] reads the tags and checks what SiteDesk
//! relies on: each role on one field of the right type, every tagged field
//! in one form, placed at an event where it does not repeat, the status
//! codes SiteDesk shows, the enrollment targets. A mistyped tag is an
//! error, never ignored.
//!
//! [`SCREENING_SNIPPET`] is the instrument as a data dictionary to upload,
//! and [`snippet_instrument`] the same instrument for a desk whose project
//! has none yet.
//!
//! Deliberately not here: the values (the domain checks a screening log,
//! the store keeps it) and labels made safe to show: a criterion's label is
//! kept as written, HTML and all.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::design::{CLASSIC_EVENT, Design};
use super::logic::{self, FieldRef};
use super::{Choice, Dictionary, Field, FieldType, parse_csv};
use crate::i18n::{Arg, Lang, Message};

/// The status field's choice codes: 1 screening, 2 screen failed,
/// 3 enrolled, 4 completed, 5 withdrawn.
/// An instrument's status field has exactly these.
pub const STATUS_CODES: [&str; 5] = ["1", "2", "3", "4", "5"];

/// The instrument ready to upload into REDCap (Project Setup > Data
/// Dictionary, or Online Designer > upload instrument): a data dictionary
/// CSV with REDCap's header and the instrument `screening_log`, without a
/// record id row (the project has one).
pub const SCREENING_SNIPPET: &str = include_str!("../forms/screening_instrument.csv");

/// What every SiteDesk tag starts with.
const PREFIX: &str = "@SITEDESK-";
/// The study's enrollment target, `@SITEDESK-TARGET=40`; a site's is
/// `@SITEDESK-TARGET-<data access group>=12`.
const TARGET: &str = "@SITEDESK-TARGET";

/// A field of the screening log that SiteDesk reads and writes. Each is on
/// exactly one field of an instrument; all but [`Role::StatusReasonOther`]
/// are required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    ScreeningDate,
    Initials,
    ConsentDate,
    ConsentVersion,
    EnrollmentDate,
    Status,
    StatusDate,
    StatusReason,
    StatusReasonOther,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::ScreeningDate,
        Role::Initials,
        Role::ConsentDate,
        Role::ConsentVersion,
        Role::EnrollmentDate,
        Role::Status,
        Role::StatusDate,
        Role::StatusReason,
        Role::StatusReasonOther,
    ];

    /// The action tag that gives a field this role, as REDCap users write it.
    pub fn tag(self) -> &'static str {
        match self {
            Role::ScreeningDate => "@SITEDESK-SCREENING-DATE",
            Role::Initials => "@SITEDESK-INITIALS",
            Role::ConsentDate => "@SITEDESK-CONSENT-DATE",
            Role::ConsentVersion => "@SITEDESK-CONSENT-VERSION",
            Role::EnrollmentDate => "@SITEDESK-ENROLLMENT-DATE",
            Role::Status => "@SITEDESK-STATUS",
            Role::StatusDate => "@SITEDESK-STATUS-DATE",
            Role::StatusReason => "@SITEDESK-STATUS-REASON",
            Role::StatusReasonOther => "@SITEDESK-STATUS-REASON-OTHER",
        }
    }

    /// Whether every screening instrument has it: all but the "other,
    /// specify" text.
    pub fn required(self) -> bool {
        self != Role::StatusReasonOther
    }

    /// What a field with this role must be.
    fn expected(self) -> Expected {
        match self {
            Role::ScreeningDate | Role::ConsentDate | Role::EnrollmentDate | Role::StatusDate => {
                Expected::Date
            }
            Role::Initials | Role::ConsentVersion => Expected::Text,
            Role::Status | Role::StatusReason => Expected::Choice,
            Role::StatusReasonOther => Expected::TextOrNotes,
        }
    }
}

/// Which side of the eligibility checklist a criterion is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Eligibility {
    /// Must be met (answered yes) before enrollment.
    Inclusion,
    /// Must not apply (answered no) before enrollment.
    Exclusion,
}

impl Eligibility {
    pub const ALL: [Eligibility; 2] = [Eligibility::Inclusion, Eligibility::Exclusion];

    /// The action tag that makes a yes/no field a criterion of this kind.
    pub fn tag(self) -> &'static str {
        match self {
            Eligibility::Inclusion => "@SITEDESK-INCLUSION",
            Eligibility::Exclusion => "@SITEDESK-EXCLUSION",
        }
    }
}

/// One criterion of the eligibility checklist: a yes/no field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CriterionField {
    pub field: String,
    pub kind: Eligibility,
    /// The criterion's text: the field's label as written (it may hold
    /// HTML; whoever shows it escapes or sanitizes it).
    pub label: String,
}

/// Enrollment targets, from `@SITEDESK-TARGET=n` and
/// `@SITEDESK-TARGET-<data access group>=n`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Targets {
    pub study: Option<u32>,
    /// By the data access group's unique name, in lower case.
    pub sites: BTreeMap<String, u32>,
}

/// The field of each role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RoleFields {
    pub screening_date: String,
    pub initials: String,
    pub consent_date: String,
    pub consent_version: String,
    pub enrollment_date: String,
    pub status: String,
    pub status_date: String,
    pub status_reason: String,
    pub status_reason_other: Option<String>,
}

impl RoleFields {
    pub fn get(&self, role: Role) -> Option<&str> {
        Some(match role {
            Role::ScreeningDate => &self.screening_date,
            Role::Initials => &self.initials,
            Role::ConsentDate => &self.consent_date,
            Role::ConsentVersion => &self.consent_version,
            Role::EnrollmentDate => &self.enrollment_date,
            Role::Status => &self.status,
            Role::StatusDate => &self.status_date,
            Role::StatusReason => &self.status_reason,
            Role::StatusReasonOther => return self.status_reason_other.as_deref(),
        })
    }

    /// The fields found for each role, or the required roles without one.
    fn from_found(found: &BTreeMap<Role, &Field>) -> Result<RoleFields, Vec<Role>> {
        let get = |role| found.get(&role).map(|f| f.name.clone());
        let (
            Some(screening_date),
            Some(initials),
            Some(consent_date),
            Some(consent_version),
            Some(enrollment_date),
            Some(status),
            Some(status_date),
            Some(status_reason),
        ) = (
            get(Role::ScreeningDate),
            get(Role::Initials),
            get(Role::ConsentDate),
            get(Role::ConsentVersion),
            get(Role::EnrollmentDate),
            get(Role::Status),
            get(Role::StatusDate),
            get(Role::StatusReason),
        )
        else {
            return Err(Role::ALL
                .into_iter()
                .filter(|r| r.required() && !found.contains_key(r))
                .collect());
        };
        Ok(RoleFields {
            screening_date,
            initials,
            consent_date,
            consent_version,
            enrollment_date,
            status,
            status_date,
            status_reason,
            status_reason_other: get(Role::StatusReasonOther),
        })
    }
}

/// A project's screening instrument: where the screening log is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ScreeningInstrument {
    pub form: String,
    /// The event its one instance per record is at: the first event the
    /// form is designated for (a classic project's only event).
    pub event: String,
    pub fields: RoleFields,
    /// The eligibility checklist, in dictionary order.
    pub criteria: Vec<CriterionField>,
    /// The status reason field's choices, in order.
    pub reasons: Vec<Choice>,
    /// The reason codes for which the "other, specify" field shows (its
    /// branching logic evaluated with the reason alone); every code when
    /// that field has no branching logic, or when there is no such field.
    pub other_codes: Vec<String>,
    pub targets: Targets,
}

/// What a field of a screening instrument is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRole<'a> {
    Role(Role),
    Criterion(&'a CriterionField),
}

impl ScreeningInstrument {
    /// The field with `role` (`None` only for an optional role not given).
    pub fn field(&self, role: Role) -> Option<&str> {
        self.fields.get(role)
    }

    /// What a stored field name is for, if the instrument uses it. (No
    /// role or criterion is a checkbox, so stored names are field names.)
    pub fn role_of(&self, field: &str) -> Option<FieldRole<'_>> {
        if let Some(role) = Role::ALL
            .into_iter()
            .find(|r| self.field(*r) == Some(field))
        {
            return Some(FieldRole::Role(role));
        }
        self.criteria
            .iter()
            .find(|c| c.field == field)
            .map(FieldRole::Criterion)
    }

    /// Every field SiteDesk reads and writes: the roles' in [`Role::ALL`]
    /// order, then the criteria's.
    pub fn stored_fields(&self) -> Vec<&str> {
        Role::ALL
            .into_iter()
            .filter_map(|r| self.field(r))
            .chain(self.criteria.iter().map(|c| c.field.as_str()))
            .collect()
    }
}

/// What a field with a role or criterion tag must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Text validated as `date_ymd`.
    Date,
    Text,
    /// Radio or dropdown.
    Choice,
    TextOrNotes,
    Yesno,
}

impl Expected {
    fn fits(self, f: &Field) -> bool {
        match self {
            Expected::Date => {
                f.field_type == FieldType::Text && f.validation.as_deref() == Some("date_ymd")
            }
            Expected::Text => f.field_type == FieldType::Text,
            Expected::Choice => matches!(f.field_type, FieldType::Radio | FieldType::Dropdown),
            Expected::TextOrNotes => matches!(f.field_type, FieldType::Text | FieldType::Notes),
            Expected::Yesno => f.field_type == FieldType::Yesno,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Expected::Date => "a text field validated as date_ymd",
            Expected::Text => "a text field",
            Expected::Choice => "a radio or dropdown field",
            Expected::TextOrNotes => "a text or notes field",
            Expected::Yesno => "a yes/no field",
        }
    }

    fn msg(self) -> Message {
        Message::new(match self {
            Expected::Date => "core.screening.expected.date",
            Expected::Text => "core.screening.expected.text",
            Expected::Choice => "core.screening.expected.choice",
            Expected::TextOrNotes => "core.screening.expected.textOrNotes",
            Expected::Yesno => "core.screening.expected.yesno",
        })
    }
}

/// Why a project's screening instrument cannot be used. Each names the
/// fields and tags to fix, for the data manager.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScreeningError {
    /// An `@SITEDESK-` tag SiteDesk does not know, as written.
    #[error("field {field} has {tag}, which is not a SiteDesk tag")]
    UnknownTag { field: String, tag: String },
    #[error("{} is on two fields, {first} and {second}", role.tag())]
    DuplicateRole {
        role: Role,
        first: String,
        second: String,
    },
    /// One field with two roles (or a role and a criterion, or both kinds
    /// of criterion): its one value cannot mean both.
    #[error("field {field} has both {first} and {second}")]
    TwoRoles {
        field: String,
        first: &'static str,
        second: &'static str,
    },
    /// Every required role that no field has.
    #[error("no field has {}", tag_list(roles))]
    Missing { roles: Vec<Role> },
    #[error("field {field} has {tag} but is not {}", expected.describe())]
    WrongType {
        field: String,
        tag: &'static str,
        expected: Expected,
    },
    /// The forms of the tagged fields, in dictionary order.
    #[error("the tagged fields are in several forms: {}", forms.join(", "))]
    SeveralForms { forms: Vec<String> },
    #[error("status field {field} lacks the codes {}", codes.join(", "))]
    StatusCodesMissing { field: String, codes: Vec<String> },
    #[error("status field {field} has codes SiteDesk cannot show: {}", codes.join(", "))]
    StatusCodesExtra { field: String, codes: Vec<String> },
    /// A target that is not a whole number of 0 or more, as written.
    #[error("field {field}: {tag} is not a whole number of 0 or more: {value:?}")]
    BadTarget {
        field: String,
        tag: String,
        value: String,
    },
    #[error("{tag} is given twice, on {first} and {second}")]
    DuplicateTarget {
        tag: String,
        first: String,
        second: String,
    },
    /// A site's target naming a data access group the design lacks (checked
    /// only when the design lists its groups).
    #[error("field {field}: {tag} names site {site}, which is not a data access group")]
    UnknownSite {
        field: String,
        tag: String,
        site: String,
    },
    /// A longitudinal project's form designated for no event.
    #[error("form {form} is not designated for any event")]
    NotDesignated { form: String },
    #[error("form {form} repeats at event {event}")]
    Repeating { form: String, event: String },
    /// The "other, specify" field's branching logic; `detail` is the logic
    /// parser's words.
    #[error("the branching logic of {field} cannot be evaluated: {detail}")]
    OtherLogic { field: String, detail: String },
}

fn tag_list(roles: &[Role]) -> String {
    roles.iter().map(|r| r.tag()).collect::<Vec<_>>().join(", ")
}

impl ScreeningError {
    /// The error in words for the data manager, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        self.msg().render(lang)
    }

    /// The message, in no language yet.
    pub fn msg(&self) -> Message {
        use ScreeningError::*;
        let list = |items: &[String]| Arg::list(items, "core.list.comma");
        let problem = match self {
            UnknownTag { field, tag } => Message::new("core.screening.unknownTag")
                .with("field", field)
                .with("tag", tag),
            DuplicateRole {
                role,
                first,
                second,
            } => Message::new("core.screening.duplicateRole")
                .with("tag", role.tag())
                .with("first", first)
                .with("second", second),
            TwoRoles {
                field,
                first,
                second,
            } => Message::new("core.screening.twoRoles")
                .with("field", field)
                .with("first", *first)
                .with("second", *second),
            Missing { roles } => Message::new("core.screening.missing")
                .count(roles.len())
                .with(
                    "tags",
                    Arg::list(roles.iter().map(|r| r.tag()), "core.list.comma"),
                ),
            WrongType {
                field,
                tag,
                expected,
            } => Message::new("core.screening.wrongType")
                .with("field", field)
                .with("tag", *tag)
                .with("expected", expected.msg()),
            SeveralForms { forms } => {
                Message::new("core.screening.severalForms").with("forms", list(forms))
            }
            StatusCodesMissing { field, codes } => {
                Message::new("core.screening.statusCodesMissing")
                    .with("field", field)
                    .with("codes", list(codes))
            }
            StatusCodesExtra { field, codes } => Message::new("core.screening.statusCodesExtra")
                .with("field", field)
                .with("codes", list(codes)),
            BadTarget { field, tag, value } => Message::new("core.screening.badTarget")
                .with("field", field)
                .with("tag", tag)
                .with("value", value),
            DuplicateTarget { tag, first, second } => {
                Message::new("core.screening.duplicateTarget")
                    .with("tag", tag)
                    .with("first", first)
                    .with("second", second)
            }
            UnknownSite { field, tag, site } => Message::new("core.screening.unknownSite")
                .with("field", field)
                .with("tag", tag)
                .with("site", site),
            NotDesignated { form } => {
                Message::new("core.screening.notDesignated").with("form", form)
            }
            Repeating { form, event } => Message::new("core.screening.repeating")
                .with("form", form)
                .with("event", event),
            OtherLogic { field, detail } => Message::new("core.screening.otherLogic")
                .with("field", field)
                .with("detail", detail),
        };
        Message::new("core.screening.error").with("problem", problem)
    }
}

/// Finds the project's screening instrument through its fields' tags:
/// `Ok(None)` when no field has an `@SITEDESK-` tag, an error naming what
/// to fix when the tags do not make an instrument SiteDesk can use.
pub fn find_screening_instrument(
    d: &Dictionary,
    design: &Design,
) -> Result<Option<ScreeningInstrument>, ScreeningError> {
    let Some(tagged) = Tagged::read(d, design)? else {
        return Ok(None);
    };
    assemble(tagged, |form| placement(form, design)).map(Some)
}

/// The instrument a desk uses while its project lacks one: the snippet's
/// fields, placed at the design's first event (a classic project's only
/// event).
pub fn snippet_instrument(design: &Design) -> ScreeningInstrument {
    let snippet = parse_csv(SCREENING_SNIPPET.as_bytes()).expect("the screening snippet parses");
    let event = design
        .event_names()
        .into_iter()
        .next()
        .unwrap_or_else(|| CLASSIC_EVENT.to_owned());
    Tagged::read(&snippet, &Design::default())
        .and_then(|t| assemble(t.expect("the screening snippet has tags"), |_| Ok(event)))
        .expect("the screening snippet is a screening instrument")
}

/// Checks what the tags say and builds the instrument at the event `place`
/// gives its form: first what the form holds, then where it is.
fn assemble(
    tagged: Tagged<'_>,
    place: impl FnOnce(&str) -> Result<String, ScreeningError>,
) -> Result<ScreeningInstrument, ScreeningError> {
    let form = tagged.form()?;
    let fields = tagged.check()?;
    let event = place(&form)?;
    tagged.instrument(form, fields, event)
}

/// One `@SITEDESK-` tag, read.
enum Tag {
    Role(Role),
    Criterion(Eligibility),
    /// A target: `None` for the study's, else the site's group name in
    /// lower case; the value as written.
    Target {
        site: Option<String>,
        value: String,
    },
}

impl Tag {
    /// Reads one whitespace-free token that starts with [`PREFIX`]; `None`
    /// for a tag SiteDesk does not know.
    fn read(token: &str) -> Option<Tag> {
        // Upper-casing ASCII keeps every byte where it was, so offsets into
        // `upper` are offsets into `token`.
        let upper = token.to_ascii_uppercase();
        if let Some(role) = Role::ALL.into_iter().find(|r| r.tag() == upper) {
            return Some(Tag::Role(role));
        }
        if let Some(kind) = Eligibility::ALL.into_iter().find(|k| k.tag() == upper) {
            return Some(Tag::Criterion(kind));
        }
        let rest = upper.strip_prefix(TARGET)?;
        let at = TARGET.len();
        let value = |from: usize| unquote(&token[from..]).to_owned();
        if rest.is_empty() {
            return Some(Tag::Target {
                site: None,
                value: String::new(),
            });
        }
        if rest.starts_with('=') {
            return Some(Tag::Target {
                site: None,
                value: value(at + 1),
            });
        }
        // `@SITEDESK-TARGETS=4` and the like are no target.
        if !rest.starts_with('-') {
            return None;
        }
        let site_at = at + 1;
        let (site, value) = match token[site_at..].find('=') {
            Some(eq) => (&token[site_at..site_at + eq], value(site_at + eq + 1)),
            None => (&token[site_at..], String::new()),
        };
        (!site.is_empty()).then(|| Tag::Target {
            site: Some(site.to_ascii_lowercase()),
            value,
        })
    }
}

/// A value without the quotes REDCap users put around action tag values
/// (`@DEFAULT='x'`).
fn unquote(value: &str) -> &str {
    for q in ['\'', '"'] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    value
}

/// A target's value: a whole number of 0 or more, digits only.
fn target_value(value: &str) -> Option<u32> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// The tags of a dictionary, read and checked field by field.
struct Tagged<'d> {
    /// Every field with a SiteDesk tag, in dictionary order.
    fields: Vec<&'d Field>,
    roles: BTreeMap<Role, &'d Field>,
    criteria: Vec<(&'d Field, Eligibility)>,
    targets: Targets,
}

impl<'d> Tagged<'d> {
    /// `None` when no field has a SiteDesk tag.
    fn read(d: &'d Dictionary, design: &Design) -> Result<Option<Tagged<'d>>, ScreeningError> {
        let mut tagged = Tagged {
            fields: Vec::new(),
            roles: BTreeMap::new(),
            criteria: Vec::new(),
            targets: Targets::default(),
        };
        // Each target's tag and the field it is on.
        let mut target_fields: BTreeMap<String, &str> = BTreeMap::new();
        for field in &d.fields {
            let tokens: Vec<&str> = field
                .annotation
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .filter(|t| {
                    t.get(..PREFIX.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
                })
                .collect();
            if tokens.is_empty() {
                continue;
            }
            tagged.fields.push(field);
            // The role or criterion tag this field has, once known.
            let mut purpose: Option<&'static str> = None;
            let mut take = |tag: &'static str| match purpose {
                Some(first) if first != tag => Err(ScreeningError::TwoRoles {
                    field: field.name.clone(),
                    first,
                    second: tag,
                }),
                Some(_) => Ok(false),
                None => {
                    purpose = Some(tag);
                    Ok(true)
                }
            };
            for token in tokens {
                let unknown = || ScreeningError::UnknownTag {
                    field: field.name.clone(),
                    tag: token.to_owned(),
                };
                match Tag::read(token).ok_or_else(unknown)? {
                    Tag::Role(role) => {
                        if !take(role.tag())? {
                            continue;
                        }
                        if let Some(first) = tagged.roles.insert(role, field) {
                            return Err(ScreeningError::DuplicateRole {
                                role,
                                first: first.name.clone(),
                                second: field.name.clone(),
                            });
                        }
                    }
                    Tag::Criterion(kind) => {
                        if take(kind.tag())? {
                            tagged.criteria.push((field, kind));
                        }
                    }
                    Tag::Target { site, value } => {
                        tagged.target(field, site, &value, design, &mut target_fields)?;
                    }
                }
            }
        }
        Ok((!tagged.fields.is_empty()).then_some(tagged))
    }

    /// Takes one target, read from `field`; `seen` holds the tag of each
    /// target taken and its field.
    fn target(
        &mut self,
        field: &'d Field,
        site: Option<String>,
        value: &str,
        design: &Design,
        seen: &mut BTreeMap<String, &'d str>,
    ) -> Result<(), ScreeningError> {
        let tag = match &site {
            Some(s) => format!("{TARGET}-{s}"),
            None => TARGET.to_owned(),
        };
        let Some(n) = target_value(value) else {
            return Err(ScreeningError::BadTarget {
                field: field.name.clone(),
                tag,
                value: value.to_owned(),
            });
        };
        if let Some(first) = seen.insert(tag.clone(), &field.name) {
            return Err(ScreeningError::DuplicateTarget {
                tag,
                first: first.to_owned(),
                second: field.name.clone(),
            });
        }
        match site {
            None => self.targets.study = Some(n),
            Some(site) => {
                let known = design.dags.iter().any(|g| g.unique_group_name == site);
                if !design.dags.is_empty() && !known {
                    return Err(ScreeningError::UnknownSite {
                        field: field.name.clone(),
                        tag,
                        site,
                    });
                }
                self.targets.sites.insert(site, n);
            }
        }
        Ok(())
    }

    /// The one form every tagged field is in.
    fn form(&self) -> Result<String, ScreeningError> {
        let mut forms: Vec<String> = Vec::new();
        for f in &self.fields {
            if !forms.contains(&f.form) {
                forms.push(f.form.clone());
            }
        }
        match <[String; 1]>::try_from(forms) {
            Ok([form]) => Ok(form),
            Err(forms) => Err(ScreeningError::SeveralForms { forms }),
        }
    }

    /// Checks that every required role is there, each role's and
    /// criterion's field type, and the status codes.
    fn check(&self) -> Result<RoleFields, ScreeningError> {
        let fields = RoleFields::from_found(&self.roles)
            .map_err(|roles| ScreeningError::Missing { roles })?;
        let wrong = |field: &Field, tag, expected: Expected| {
            (!expected.fits(field)).then(|| ScreeningError::WrongType {
                field: field.name.clone(),
                tag,
                expected,
            })
        };
        for (role, field) in &self.roles {
            if let Some(e) = wrong(field, role.tag(), role.expected()) {
                return Err(e);
            }
        }
        for (field, kind) in &self.criteria {
            if let Some(e) = wrong(field, kind.tag(), Expected::Yesno) {
                return Err(e);
            }
        }
        check_status_codes(self.roles[&Role::Status])?;
        Ok(fields)
    }

    /// The instrument at `event`, once [`Tagged::check`] has passed.
    fn instrument(
        self,
        form: String,
        fields: RoleFields,
        event: String,
    ) -> Result<ScreeningInstrument, ScreeningError> {
        let reason = self.roles[&Role::StatusReason];
        let other = self.roles.get(&Role::StatusReasonOther).copied();
        let other_codes = other_codes(reason, other, &event)?;
        Ok(ScreeningInstrument {
            form,
            event,
            fields,
            criteria: self
                .criteria
                .iter()
                .map(|(f, kind)| CriterionField {
                    field: f.name.clone(),
                    kind: *kind,
                    label: f.label.clone(),
                })
                .collect(),
            reasons: reason.choices.clone(),
            other_codes,
            targets: self.targets,
        })
    }
}

/// The status field has exactly [`STATUS_CODES`].
fn check_status_codes(status: &Field) -> Result<(), ScreeningError> {
    let missing: Vec<String> = STATUS_CODES
        .iter()
        .filter(|code| !status.choices.iter().any(|c| c.code == **code))
        .map(|code| (*code).to_owned())
        .collect();
    if !missing.is_empty() {
        return Err(ScreeningError::StatusCodesMissing {
            field: status.name.clone(),
            codes: missing,
        });
    }
    let extra: Vec<String> = status
        .choices
        .iter()
        .filter(|c| !STATUS_CODES.contains(&c.code.as_str()))
        .map(|c| c.code.clone())
        .collect();
    if !extra.is_empty() {
        return Err(ScreeningError::StatusCodesExtra {
            field: status.name.clone(),
            codes: extra,
        });
    }
    Ok(())
}

/// The event the form's one instance is at: the first event it is
/// designated for, where it must not repeat.
fn placement(form: &str, design: &Design) -> Result<String, ScreeningError> {
    let event = if design.is_longitudinal() {
        design
            .events
            .iter()
            .map(|e| &e.unique_event_name)
            .find(|e| {
                design
                    .mapping
                    .iter()
                    .any(|m| &m.unique_event_name == *e && m.form == form)
            })
            .cloned()
            .ok_or_else(|| ScreeningError::NotDesignated {
                form: form.to_owned(),
            })?
    } else {
        CLASSIC_EVENT.to_owned()
    };
    if design.repeats(&event, form) {
        return Err(ScreeningError::Repeating {
            form: form.to_owned(),
            event,
        });
    }
    Ok(event)
}

/// The reason codes for which the "other, specify" field shows: its
/// branching logic evaluated with the reason field at each code (at the
/// instrument's event) and every other field blank.
fn other_codes(
    reason: &Field,
    other: Option<&Field>,
    event: &str,
) -> Result<Vec<String>, ScreeningError> {
    let all = || reason.choices.iter().map(|c| c.code.clone()).collect();
    let Some((other, text)) = other.and_then(|f| Some((f, f.branching_logic.as_deref()?))) else {
        return Ok(all());
    };
    let unusable = |e: logic::LogicError| ScreeningError::OtherLogic {
        field: other.name.clone(),
        detail: e.to_string(),
    };
    let logic = logic::parse(text).map_err(unusable)?;
    let mut codes = Vec::new();
    for choice in &reason.choices {
        let value = |r: &FieldRef| {
            let is_reason = r.field == reason.name
                && r.choice.is_none()
                && r.event.as_deref().is_none_or(|e| e == event);
            if is_reason {
                choice.code.clone()
            } else {
                String::new()
            }
        };
        if logic::shows(&logic, &value).map_err(unusable)? {
            codes.push(choice.code.clone());
        }
    }
    Ok(codes)
}
