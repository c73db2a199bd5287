use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::diagnostics::profile::ProfileError;
use crate::domain::{ActionKind, DomainError, Field, SubjectStatus};
use crate::edc::{EdcError, ValueError};
use crate::forms::{FieldProblem, FormError};
use crate::instance::InstanceError;
use crate::metadata::design::DesignError;
use crate::metadata::screening::{Expected, Role, ScreeningError};
use crate::metadata::validate::{Invalid, Kind};
use crate::metadata::{MetadataError, OdmError, Problem};
use crate::sync::SyncError;

const EN_JSON: &str = EMBEDDED[0].1;

fn zh() -> Lang {
    Lang::from_tag("zh-CN").expect("a zh-CN catalog")
}

/// Every key of one language, with plural suffixes cut off.
fn base_keys(catalogs: &Catalogs, lang: Lang) -> BTreeSet<String> {
    catalogs
        .keys(lang)
        .into_iter()
        .map(|k| {
            k.strip_suffix("_one")
                .or_else(|| k.strip_suffix("_other"))
                .unwrap_or(k)
                .to_owned()
        })
        .collect()
}

fn placeholders(text: &str) -> BTreeSet<&str> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        names.insert(rest[start + 2..start + 2 + len].trim());
        rest = &rest[start + 4 + len..];
    }
    names
}

// ---- The catalogs ----------------------------------------------------------

#[test]
fn the_embedded_catalogs_are_english_first_then_the_others() {
    let all: Vec<Lang> = Lang::all().collect();
    assert_eq!(all.first(), Some(&Lang::EN));
    assert_eq!(Lang::EN.tag(), "en");
    assert_eq!(Lang::default(), Lang::EN);
    assert!(all.contains(&zh()));
    for lang in all {
        assert_eq!(Lang::from_tag(lang.tag()), Some(lang));
    }
    assert_eq!(Lang::from_tag("fr"), None);
}

#[test]
fn every_catalog_has_exactly_the_english_keys() {
    let catalogs = catalogs();
    let en = catalogs.keys(Lang::EN);
    for lang in Lang::all().skip(1) {
        let other = catalogs.keys(lang);
        let missing: Vec<_> = en.difference(&other).collect();
        let extra: Vec<_> = other.difference(&en).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{}: missing {missing:?}, not in English {extra:?}",
            lang.tag()
        );
    }
}

#[test]
fn no_translation_names_a_placeholder_english_lacks() {
    let catalogs = catalogs();
    for lang in Lang::all().skip(1) {
        for key in catalogs.keys(lang) {
            let en = catalogs.text(Lang::EN, key, None).unwrap_or_default();
            let text = catalogs.text(lang, key, None).unwrap_or_default();
            let unknown: Vec<_> = placeholders(text)
                .difference(&placeholders(en))
                .copied()
                .collect();
            assert!(unknown.is_empty(), "{} {key}: {unknown:?}", lang.tag());
        }
    }
}

#[test]
fn a_language_travels_as_its_tag() {
    assert_eq!(serde_json::to_string(&zh()).unwrap(), r#""zh-CN""#);
    assert_eq!(serde_json::from_str::<Lang>(r#""en""#).unwrap(), Lang::EN);
    let unknown = serde_json::from_str::<Lang>(r#""fr""#).unwrap_err();
    assert!(unknown.to_string().contains("`fr`"), "{unknown}");
    assert_eq!(format!("{:?}", zh()), r#"Lang("zh-CN")"#);
    let cfg = ts_rs::Config::new();
    assert_eq!(<Lang as TS>::decl(&cfg), r#"type Lang = "en" | "zh-CN";"#);
}

#[test]
fn a_posix_locale_names_its_catalog_or_none() {
    for (locale, lang) in [
        ("zh_CN.UTF-8", Some(zh())),
        ("zh_CN", Some(zh())),
        ("zh_TW.UTF-8", Some(zh())),
        ("zh", Some(zh())),
        ("en_US.UTF-8", Some(Lang::EN)),
        ("en_GB@euro", Some(Lang::EN)),
        ("de_DE.UTF-8", None),
        ("C.UTF-8", None),
        ("C", None),
        ("POSIX", None),
        ("", None),
    ] {
        assert_eq!(Lang::from_locale(locale), lang, "{locale:?}");
    }
}

// ---- tr ---------------------------------------------------------------------

fn small() -> Catalogs {
    Catalogs::parse([
        (
            "xx",
            r#"{ "a": { "hi": "Salut {{ name }} !", "n_one": "{{count}} z", "n_other": "{{count}} zz" } }"#,
        ),
        (
            "en",
            r#"{ "a": { "hi": "Hi {{name}}!", "only": "Only in English",
                        "n_one": "{{count}} item", "n_other": "{{count}} items",
                        "gap": "{{name}} and {{other}}" } }"#,
        ),
    ])
    .unwrap()
}

#[test]
fn tr_interpolates_picks_the_plural_and_falls_back_to_english() {
    let c = small();
    let xx = c.lang("xx").unwrap();
    assert_eq!(c.lang("en"), Some(Lang::EN), "English is put first");
    assert_eq!(c.tr(Lang::EN, "a.hi", &[("name", "Dana")]), "Hi Dana!");
    assert_eq!(c.tr(xx, "a.hi", &[("name", "Dana")]), "Salut Dana !");
    assert_eq!(c.tr(Lang::EN, "a.n", &[("count", "1")]), "1 item");
    assert_eq!(c.tr(Lang::EN, "a.n", &[("count", "0")]), "0 items");
    assert_eq!(c.tr(xx, "a.n", &[("count", "2")]), "2 zz");
    assert_eq!(c.tr(xx, "a.only", &[]), "Only in English");
    assert_eq!(c.tr(xx, "a.nowhere", &[]), "a.nowhere");
    assert_eq!(
        c.tr(Lang::EN, "a.gap", &[("name", "x")]),
        "x and {{other}}",
        "a placeholder without a value shows"
    );
    assert_eq!(
        c.try_render(&Message::new("a.only"), xx),
        Err(MissingKey {
            tag: "xx".into(),
            key: "a.only".into()
        })
    );
}

#[test]
fn messages_nest_and_lists_take_the_catalogs_separator() {
    let c = Catalogs::parse([(
        "en",
        r#"{ "m": "{{who}} said {{what}}", "w": "a {{x}}", "sep": " / " }"#,
    )])
    .unwrap();
    let m = Message::new("m")
        .with("who", Message::new("w").with("x", "cat"))
        .with("what", Arg::list(["1", "2", "3"], "sep"));
    assert_eq!(c.render(&m, Lang::EN), "a cat said 1 / 2 / 3");
}

#[test]
fn a_broken_catalog_is_refused_with_its_name() {
    let e = Catalogs::parse([("en", "{}"), ("xx", "{ nope")]).unwrap_err();
    assert!(e.to_string().starts_with("catalog xx"), "{e}");
    let e = Catalogs::parse([("en", r#"{ "a": ["list"] }"#)]).unwrap_err();
    assert!(
        matches!(e, CatalogError::NotText { ref key, .. } if key == "a"),
        "{e}"
    );
    let e = Catalogs::parse([("xx", "{}")]).unwrap_err();
    assert!(matches!(e, CatalogError::NoEnglish), "{e}");
}

#[test]
fn the_pseudo_catalog_wraps_every_text_and_keeps_placeholders() {
    let pseudo = pseudo_catalog(r#"{ "a": { "b": "Hi {{name}}" } }"#).unwrap();
    let c = Catalogs::parse([("en", "{}"), ("x-pseudo", &pseudo)]).unwrap();
    let p = c.lang("x-pseudo").unwrap();
    assert_eq!(c.tr(p, "a.b", &[("name", "Dana")]), "[!! Hi Dana !!]");
}

// ---- Every message of the core --------------------------------------------

const FIELDS: [Field; 23] = [
    Field::ScreeningDate,
    Field::Label,
    Field::ConsentDate,
    Field::ConsentVersion,
    Field::EnrollmentDate,
    Field::CompletionDate,
    Field::WithdrawalDate,
    Field::ScreenFailDate,
    Field::Reason,
    Field::OtherReason,
    Field::Eligibility,
    Field::DisplayName,
    Field::RecordId,
    Field::Event,
    Field::Instance,
    Field::FieldName,
    Field::Value,
    Field::SyncInterval,
    Field::SyncConcurrency,
    Field::Target,
    Field::Login,
    Field::PersonName,
    Field::Password,
];

const STATUSES: [SubjectStatus; 5] = [
    SubjectStatus::Screening,
    SubjectStatus::ScreenFailed,
    SubjectStatus::Enrolled,
    SubjectStatus::Completed,
    SubjectStatus::Withdrawn,
];

/// Asserts that `samples` hold every variant: `variant` numbers them with
/// an exhaustive match, so a new variant stops the build here until it has
/// a number and a sample.
fn covers<T>(what: &str, samples: &[T], variants: usize, variant: impl Fn(&T) -> usize) {
    let seen: BTreeSet<usize> = samples.iter().map(variant).collect();
    assert_eq!(
        seen,
        (0..variants).collect(),
        "{what}: a variant without a sample"
    );
}

fn domain_errors() -> Vec<DomainError> {
    use DomainError::*;
    let mut all = Vec::new();
    for from in STATUSES {
        for action in ActionKind::ALL {
            all.push(IllegalTransition { from, action });
        }
    }
    for field in FIELDS {
        all.extend([
            Required { field },
            BadDate { field },
            DateInFuture { field },
            DateOrder {
                earlier: field,
                later: Field::EnrollmentDate,
            },
            DateOrder {
                earlier: Field::ConsentDate,
                later: field,
            },
            TooLong { field, max: 80 },
            OutOfRange {
                field,
                min: 1,
                max: 1440,
            },
            ReasonForChangeRequired { field },
            InvalidName { field },
            UnsafeText { field },
        ]);
    }
    all.extend([
        LabelNotInitials,
        UnknownCriterion { id: "IC9".into() },
        UnknownReason { code: "42".into() },
        EligibilityNotMet {
            unmet: vec!["IC1".into(), "EC2".into()],
        },
        NothingChanged,
        ValueReasonRequired {
            field: "weight_kg".into(),
        },
        BadLogin,
        PasswordTooShort { min: 10 },
        LoginTaken {
            login: "mei".into(),
        },
        LastAdmin,
        SignerRequired,
        AlreadySigned,
        SignedFormReasonRequired,
    ]);
    covers("DomainError", &all, 23, |e| match e {
        IllegalTransition { .. } => 0,
        Required { .. } => 1,
        BadDate { .. } => 2,
        DateInFuture { .. } => 3,
        DateOrder { .. } => 4,
        TooLong { .. } => 5,
        OutOfRange { .. } => 6,
        LabelNotInitials => 7,
        UnknownCriterion { .. } => 8,
        EligibilityNotMet { .. } => 9,
        ReasonForChangeRequired { .. } => 10,
        NothingChanged => 11,
        InvalidName { .. } => 12,
        ValueReasonRequired { .. } => 13,
        UnknownReason { .. } => 14,
        UnsafeText { .. } => 15,
        BadLogin => 16,
        PasswordTooShort { .. } => 17,
        LoginTaken { .. } => 18,
        LastAdmin => 19,
        SignerRequired => 20,
        AlreadySigned => 21,
        SignedFormReasonRequired => 22,
    });
    all
}

fn edc_errors() -> Vec<EdcError> {
    let row = |i: usize| ValueError {
        record: format!("r{i}"),
        field: "age".into(),
        value: "x".into(),
        message: "not an integer".into(),
    };
    let all = vec![
        EdcError::BadUrl("ftp://edc".into()),
        EdcError::UnsafeUrl("http://redcap.example.org/api/".into()),
        EdcError::Redirect("https://login.example.org/".into()),
        EdcError::BadToken,
        EdcError::Forbidden("no export rights".into()),
        EdcError::NoRight("You must have 'API Export' privileges and 'Logging' privileges".into()),
        EdcError::Banned("Your IP address has been banned".into()),
        EdcError::Validation(vec![row(1)]),
        EdcError::Validation((0..7).map(row).collect()),
        EdcError::UnknownFields(vec!["a".into(), "b".into()]),
        EdcError::Refused("bad request".into()),
        EdcError::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
        },
        EdcError::RateLimited { retry_after: None },
        EdcError::Server {
            status: 503,
            message: "down".into(),
        },
        EdcError::Transport("connection refused".into()),
        EdcError::Timeout,
        EdcError::Malformed("eof".into()),
    ];
    covers("EdcError", &all, 15, |e| match e {
        EdcError::NoRight(_) => 13,
        EdcError::Banned(_) => 14,
        EdcError::UnsafeUrl(_) => 11,
        EdcError::Redirect(_) => 12,
        EdcError::BadUrl(_) => 0,
        EdcError::BadToken => 1,
        EdcError::Forbidden(_) => 2,
        EdcError::Validation(_) => 3,
        EdcError::UnknownFields(_) => 4,
        EdcError::Refused(_) => 5,
        EdcError::RateLimited { .. } => 6,
        EdcError::Server { .. } => 7,
        EdcError::Transport(_) => 8,
        EdcError::Timeout => 9,
        EdcError::Malformed(_) => 10,
    });
    all
}

fn metadata_errors() -> Vec<MetadataError> {
    use Problem::*;
    let problems = vec![
        Unreadable("bad quote".into()),
        NotADictionary,
        ColumnCount {
            found: 3,
            expected: 18,
        },
        Empty,
        MissingName {
            column: "Variable / Field Name",
        },
        BadName {
            column: "Form Name",
            name: "Bad Name".into(),
        },
        UnknownType("foo".into()),
        DuplicateField,
        BadChoice("x".into()),
        DuplicateChoice("1".into()),
        NoChoices,
        NoCalculation,
        BadFlag {
            column: "Required Field?",
            value: "yes".into(),
        },
    ];
    covers("Problem", &problems, 13, |p| match p {
        Unreadable(_) => 0,
        NotADictionary => 1,
        ColumnCount { .. } => 2,
        Empty => 3,
        MissingName { .. } => 4,
        BadName { .. } => 5,
        UnknownType(_) => 6,
        DuplicateField => 7,
        BadChoice(_) => 8,
        DuplicateChoice(_) => 9,
        NoChoices => 10,
        NoCalculation => 11,
        BadFlag { .. } => 12,
    });
    problems
        .into_iter()
        .flat_map(|problem| {
            [
                MetadataError {
                    line: 7,
                    field: Some("age".into()),
                    problem: problem.clone(),
                },
                MetadataError {
                    line: 1,
                    field: None,
                    problem,
                },
            ]
        })
        .collect()
}

fn design_errors() -> Vec<DesignError> {
    let all = vec![
        DesignError::Unreadable {
            what: "arm",
            detail: "eof".into(),
        },
        DesignError::UnknownArm {
            event: "visit_1_arm_2".into(),
            arm_num: 2,
        },
        DesignError::Duplicate {
            what: "arm",
            name: "Arm 1".into(),
        },
        DesignError::Duplicate {
            what: "event",
            name: "visit_1_arm_1".into(),
        },
        DesignError::UnknownEvent("visit_9_arm_1".into()),
        DesignError::UnknownForm("labs".into()),
    ];
    covers("DesignError", &all, 5, |e| match e {
        DesignError::Unreadable { .. } => 0,
        DesignError::UnknownArm { .. } => 1,
        DesignError::Duplicate { .. } => 2,
        DesignError::UnknownEvent(_) => 3,
        DesignError::UnknownForm(_) => 4,
    });
    all
}

fn odm_errors() -> Vec<OdmError> {
    use OdmError::*;
    let all = vec![
        Xml("unexpected end of stream at 1:2".into()),
        NotOdm("html".into()),
        MissingElement("Study"),
        MissingAttribute {
            line: 4,
            element: "ItemDef \"age\"".into(),
            attribute: "OID",
        },
        UnknownReference {
            line: 5,
            element: "ItemRef".into(),
            kind: "field",
            target: "weight".into(),
        },
        DuplicateOid {
            line: 6,
            element: "ItemDef \"age\"".into(),
        },
        NotANumber {
            line: 8,
            element: "ItemDef \"age\"".into(),
            attribute: "Length",
            value: "ten".into(),
        },
        NoFields,
        RecordIdNotFirst {
            named: "record_id".into(),
            first: "age".into(),
        },
        Field(metadata_errors().remove(0)),
        Design(DesignError::UnknownForm("labs".into())),
    ];
    covers("OdmError", &all, 11, |e| match e {
        Xml(_) => 0,
        NotOdm(_) => 1,
        MissingElement(_) => 2,
        MissingAttribute { .. } => 3,
        UnknownReference { .. } => 4,
        DuplicateOid { .. } => 5,
        NotANumber { .. } => 6,
        NoFields => 7,
        RecordIdNotFirst { .. } => 8,
        Field(_) => 9,
        Design(_) => 10,
    });
    all
}

fn screening_errors() -> Vec<ScreeningError> {
    use ScreeningError::*;
    let mut all = vec![
        UnknownTag {
            field: "scr_date".into(),
            tag: "@SITEDESK-SCREENINGDATE".into(),
        },
        TwoRoles {
            field: "scr_date".into(),
            first: Role::ScreeningDate.tag(),
            second: "@SITEDESK-INCLUSION",
        },
        Missing {
            roles: vec![Role::Status],
        },
        Missing {
            roles: vec![Role::ScreeningDate, Role::StatusReason],
        },
        SeveralForms {
            forms: vec!["screening_log".into(), "demographics".into()],
        },
        StatusCodesMissing {
            field: "scr_status".into(),
            codes: vec!["4".into(), "5".into()],
        },
        StatusCodesExtra {
            field: "scr_status".into(),
            codes: vec!["6".into()],
        },
        BadTarget {
            field: "scr_status".into(),
            tag: "@SITEDESK-TARGET".into(),
            value: "-1".into(),
        },
        DuplicateTarget {
            tag: "@SITEDESK-TARGET-riverside_clinic".into(),
            first: "scr_status".into(),
            second: "scr_date".into(),
        },
        UnknownSite {
            field: "scr_status".into(),
            tag: "@SITEDESK-TARGET-riverside".into(),
            site: "riverside".into(),
        },
        NotDesignated {
            form: "screening_log".into(),
        },
        Repeating {
            form: "screening_log".into(),
            event: "screening_arm_1".into(),
        },
        OtherLogic {
            field: "scr_status_reason_other".into(),
            detail: "cannot read the logic at character 3: ']'".into(),
        },
    ];
    for role in Role::ALL {
        all.push(DuplicateRole {
            role,
            first: "scr_date".into(),
            second: "scr_initials".into(),
        });
    }
    let expected = [
        Expected::Date,
        Expected::Text,
        Expected::Choice,
        Expected::TextOrNotes,
        Expected::Yesno,
    ];
    covers("Expected", &expected, 5, |e| match e {
        Expected::Date => 0,
        Expected::Text => 1,
        Expected::Choice => 2,
        Expected::TextOrNotes => 3,
        Expected::Yesno => 4,
    });
    for expected in expected {
        all.push(WrongType {
            field: "scr_date".into(),
            tag: Role::ScreeningDate.tag(),
            expected,
        });
    }
    covers("ScreeningError", &all, 14, |e| match e {
        UnknownTag { .. } => 0,
        DuplicateRole { .. } => 1,
        TwoRoles { .. } => 2,
        Missing { .. } => 3,
        WrongType { .. } => 4,
        SeveralForms { .. } => 5,
        StatusCodesMissing { .. } => 6,
        StatusCodesExtra { .. } => 7,
        BadTarget { .. } => 8,
        DuplicateTarget { .. } => 9,
        UnknownSite { .. } => 10,
        NotDesignated { .. } => 11,
        Repeating { .. } => 12,
        OtherLogic { .. } => 13,
    });
    all
}

/// Every validation type REDCap has that SiteDesk knows.
const VALIDATIONS: [&str; 36] = [
    "date_ymd",
    "date_mdy",
    "date_dmy",
    "datetime_ymd",
    "datetime_mdy",
    "datetime_dmy",
    "datetime_seconds_ymd",
    "datetime_seconds_mdy",
    "datetime_seconds_dmy",
    "time",
    "time_hh_mm_ss",
    "time_mm_ss",
    "integer",
    "number",
    "number_comma_decimal",
    "number_1dp",
    "number_2dp",
    "number_3dp",
    "number_4dp",
    "number_1dp_comma_decimal",
    "number_2dp_comma_decimal",
    "number_3dp_comma_decimal",
    "number_4dp_comma_decimal",
    "email",
    "phone",
    "phone_australia",
    "zipcode",
    "alpha_only",
    "mrn_10d",
    "mrn_generic",
    "vmrn",
    "ssn",
    "postalcode_australia",
    "postalcode_canada",
    "postalcode_french",
    "postalcode_germany",
];

fn invalid_values() -> Vec<Invalid> {
    let mut all = vec![Invalid::NotAChoice, Invalid::NotEnterable];
    all.extend(VALIDATIONS.iter().map(|name| Invalid::Format {
        kind: Kind::parse(name).unwrap_or_else(|| panic!("{name} is a known type")),
    }));
    covers("Invalid", &all, 3, |e| match e {
        Invalid::Format { .. } => 0,
        Invalid::NotAChoice => 1,
        Invalid::NotEnterable => 2,
    });
    all
}

fn form_errors() -> Vec<FormError> {
    let problem = |field: &str, label: &str| FieldProblem {
        field: field.into(),
        label: label.into(),
        message: "Required.".into(),
    };
    let all = vec![
        FormError::NoDictionary,
        FormError::UnknownForm("labs".into()),
        FormError::UnknownEvent("visit_9_arm_1".into()),
        FormError::NotInEvent {
            form: "labs".into(),
            event: "screening_arm_1".into(),
        },
        FormError::NotRepeating {
            form: "labs".into(),
            event: "visit_1_arm_1".into(),
        },
        FormError::UnknownField("weight".into()),
        FormError::Values(vec![problem("age", "Age")]),
        FormError::Values(vec![
            problem("age", "Age"),
            problem("height", "Height (cm)"),
        ]),
        FormError::ReasonRequired,
    ];
    covers("FormError", &all, 8, |e| match e {
        FormError::NoDictionary => 0,
        FormError::UnknownForm(_) => 1,
        FormError::UnknownEvent(_) => 2,
        FormError::NotInEvent { .. } => 3,
        FormError::NotRepeating { .. } => 4,
        FormError::UnknownField(_) => 5,
        FormError::Values(_) => 6,
        FormError::ReasonRequired => 7,
    });
    all
}

fn sync_errors() -> Vec<SyncError> {
    let all = vec![
        SyncError::Edc(EdcError::Timeout),
        SyncError::Store("disk I/O error".into()),
        SyncError::Cancelled,
        SyncError::Design("labs is not a form".into()),
    ];
    covers("SyncError", &all, 4, |e| match e {
        SyncError::Edc(_) => 0,
        SyncError::Store(_) => 1,
        SyncError::Cancelled => 2,
        SyncError::Design(_) => 3,
    });
    all
}

fn profile_errors() -> Vec<ProfileError> {
    let all = vec![
        ProfileError::Unsupported,
        ProfileError::Busy,
        ProfileError::Cancelled,
        ProfileError::Failed("SIGPROF is taken".into()),
    ];
    covers("ProfileError", &all, 4, |e| match e {
        ProfileError::Unsupported => 0,
        ProfileError::Busy => 1,
        ProfileError::Cancelled => 2,
        ProfileError::Failed(_) => 3,
    });
    all
}

fn instance_errors() -> Vec<InstanceError> {
    let all = vec![
        InstanceError::AlreadyOpen {
            path: "/home/crc/.local/share/org.sitedesk.desk".into(),
        },
        InstanceError::Io {
            path: "/mnt/desk".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        },
    ];
    covers("InstanceError", &all, 2, |e| match e {
        InstanceError::AlreadyOpen { .. } => 0,
        InstanceError::Io { .. } => 1,
    });
    all
}

/// Every message the core can produce: one sample of each error variant
/// (every field, status and action where a message names one) and of
/// each message a form's field shows.
fn every_message() -> Vec<Message> {
    let mut all: Vec<Message> = Vec::new();
    all.extend(domain_errors().iter().map(DomainError::msg));
    all.extend(edc_errors().iter().map(EdcError::msg));
    all.extend(metadata_errors().iter().map(MetadataError::msg));
    all.extend(design_errors().iter().map(DesignError::msg));
    all.extend(odm_errors().iter().map(OdmError::msg));
    all.extend(screening_errors().iter().map(ScreeningError::msg));
    all.extend(invalid_values().iter().map(Invalid::msg));
    all.extend(form_errors().iter().map(FormError::msg));
    all.extend(sync_errors().iter().map(SyncError::msg));
    all.extend(profile_errors().iter().map(ProfileError::msg));
    all.extend(instance_errors().iter().map(InstanceError::msg));
    all.extend(crate::forms::field_message_samples());
    all
}

/// A message and every message in its parameters.
fn with_nested(m: &Message) -> Vec<&Message> {
    fn arg<'a>(a: &'a Arg, out: &mut Vec<&'a Message>) {
        match a {
            Arg::Text(_) => {}
            Arg::Msg(m) => walk(m, out),
            Arg::List { items, .. } => items.iter().for_each(|i| arg(i, out)),
        }
    }
    fn walk<'a>(m: &'a Message, out: &mut Vec<&'a Message>) {
        out.push(m);
        m.params.iter().for_each(|(_, a)| arg(a, out));
    }
    let mut out = Vec::new();
    walk(m, &mut out);
    out
}

#[test]
fn a_pseudo_locale_shows_every_core_message_without_falling_back_to_english() {
    let pseudo = pseudo_catalog(EN_JSON).unwrap();
    let catalogs = Catalogs::parse([("en", EN_JSON), ("x-pseudo", &pseudo)]).unwrap();
    let p = catalogs.lang("x-pseudo").unwrap();
    for message in every_message() {
        let shown = catalogs
            .try_render(&message, p)
            .unwrap_or_else(|e| panic!("{message:?}: {e}"));
        assert!(
            shown.starts_with("[!! ") && shown.ends_with(" !!]"),
            "{message:?} is not all from the catalog: {shown}"
        );
        assert!(
            !shown.contains("{{"),
            "{message:?} left a placeholder: {shown}"
        );
        assert_ne!(shown, catalogs.render(&message, Lang::EN));
    }
}

#[test]
fn every_core_message_is_in_every_language() {
    let catalogs = catalogs();
    for lang in Lang::all() {
        for message in every_message() {
            let shown = catalogs
                .try_render(&message, lang)
                .unwrap_or_else(|e| panic!("{message:?}: {e}"));
            assert!(
                !shown.contains("{{"),
                "{message:?} left a placeholder: {shown}"
            );
        }
    }
}

#[test]
fn every_parameter_of_a_message_is_a_placeholder_of_its_text() {
    let catalogs = catalogs();
    for message in every_message() {
        for m in with_nested(&message) {
            let count = m.params.iter().find(|(n, _)| *n == "count").map(|_| 2);
            let text = catalogs.text(Lang::EN, m.key, count).unwrap_or_default();
            let given: BTreeSet<&str> = m.params.iter().map(|(n, _)| *n).collect();
            assert_eq!(given, placeholders(text), "{}", m.key);
        }
    }
}

/// The string literals of the source files under `dir` that start with
/// `prefix` and a dot: the catalog keys the code names.
fn keys_in_source(dir: &Path, prefix: &str) -> BTreeSet<String> {
    let needle = format!("\"{prefix}.");
    let mut keys = BTreeSet::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (at, _) in text.match_indices(&needle) {
                    let rest = &text[at + 1..];
                    let key = &rest[..rest.find('"').unwrap_or(rest.len())];
                    // A prefix, as in the filter below, names no key.
                    if !key.ends_with('.') {
                        keys.insert(key.to_owned());
                    }
                }
            }
        }
    }
    keys
}

#[test]
fn every_key_the_core_names_is_in_every_catalog_and_every_core_key_is_named() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let named = keys_in_source(&src, "core");
    assert!(
        named.len() > 100,
        "the scan found the keys: {}",
        named.len()
    );
    let catalogs = catalogs();
    for lang in Lang::all() {
        let keys = base_keys(catalogs, lang);
        let missing: Vec<_> = named.difference(&keys).collect();
        assert!(missing.is_empty(), "{} lacks {missing:?}", lang.tag());
    }
    let unused: Vec<_> = base_keys(catalogs, Lang::EN)
        .into_iter()
        .filter(|k| k.starts_with("core.") && !named.contains(k))
        .collect();
    assert!(unused.is_empty(), "catalog words no code uses: {unused:?}");
}
