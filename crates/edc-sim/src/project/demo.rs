//! The demo study as a REDCap server would hold it: the desk's demo forms
//! (`sitedesk_core::forms::demo_forms`), its two sites, a few subjects that
//! Hillview Hospital has screened and enrolled (screening log and
//! demographics, baseline vitals and medication, one adverse event), and
//! well-known API tokens, so that a desk in demo mode or a trainer's laptop
//! can sync at once.
//!
//! Not here: anything of Riverside Clinic's; the desk in demo mode is that
//! site and brings its own subjects.

use sitedesk_core::forms::{FormStatus, demo_forms, status_field};
use sitedesk_core::metadata::logic;
use sitedesk_core::metadata::screening::{
    Eligibility, Role, STATUS_CODES, ScreeningInstrument, find_screening_instrument,
};

use super::Project;
use super::layout::{DAG, EVENT_NAME, FlatRow, REPEAT_INSTANCE, REPEAT_INSTRUMENT};
use crate::protocol::ApiUser;

/// The demo's token that sees every site (a data manager's, with the
/// Project Design and Setup right). Like every REDCap token, 32
/// hexadecimal digits; made up, and public on purpose.
pub const DEMO_TOKEN: &str = "DE5C0DE0000000000000000000000001";
/// The demo's token of a coordinator at Riverside Clinic (the desk's own
/// site in demo mode): sees and writes only that site's records, and may
/// not change the project's design.
pub const DEMO_TOKEN_RIVERSIDE: &str = "DE5C0DE0000000000000000000000002";
/// The demo's token of a coordinator at Hillview Hospital.
pub const DEMO_TOKEN_HILLVIEW: &str = "DE5C0DE0000000000000000000000003";

/// The unique names of the demo's data access groups (sites).
pub const RIVERSIDE: &str = "riverside_clinic";
pub const HILLVIEW: &str = "hillview_hospital";

/// The three demo tokens with their users: the data manager has the design
/// right, the site coordinators do not.
pub fn demo_users() -> Vec<ApiUser> {
    vec![
        ApiUser::new(DEMO_TOKEN, "demo_data_manager", None).with_design(true),
        ApiUser::new(DEMO_TOKEN_RIVERSIDE, "riverside_crc", Some(RIVERSIDE)),
        ApiUser::new(DEMO_TOKEN_HILLVIEW, "hillview_crc", Some(HILLVIEW)),
    ]
}

/// A Hillview subject's screening log and demographics.
struct Subject {
    id: &'static str,
    /// Initials, as the screening log keeps them (never a name).
    initials: &'static str,
    /// Screening, consent and enrollment, in that order, before the
    /// subject's baseline visit.
    screened: &'static str,
    consented: &'static str,
    enrolled: &'static str,
    dob: &'static str,
    /// `1` male, `2` female.
    sex: &'static str,
    height_cm: &'static str,
    weight_kg: &'static str,
    /// Cigarettes per day, for a smoker.
    cigarettes: Option<&'static str>,
    ethnicity: &'static str,
    status: &'static str,
}

const SUBJECTS: [Subject; 4] = [
    Subject {
        id: "S02-DEM-0001",
        initials: "HLM",
        screened: "2025-08-18",
        consented: "2025-08-18",
        enrolled: "2025-08-26",
        dob: "1968-03-14",
        sex: "2",
        height_cm: "162",
        weight_kg: "71.4",
        cigarettes: None,
        ethnicity: "1",
        status: "2",
    },
    Subject {
        id: "S02-DEM-0002",
        initials: "JKT",
        screened: "2025-08-25",
        consented: "2025-08-27",
        enrolled: "2025-09-09",
        dob: "1975-11-02",
        sex: "1",
        height_cm: "178",
        weight_kg: "92.6",
        cigarettes: Some("10"),
        ethnicity: "3",
        status: "2",
    },
    Subject {
        id: "S02-DEM-0003",
        initials: "WXF",
        screened: "2025-09-15",
        consented: "2025-09-15",
        enrolled: "2025-09-29",
        dob: "1959-06-21",
        sex: "2",
        height_cm: "155",
        weight_kg: "64.0",
        cigarettes: None,
        ethnicity: "2",
        status: "1",
    },
    Subject {
        id: "S02-DEM-0004",
        initials: "RPO",
        screened: "2025-10-06",
        consented: "2025-10-08",
        enrolled: "2025-10-20",
        dob: "1981-01-30",
        sex: "1",
        height_cm: "183.5",
        weight_kg: "101.3",
        cigarettes: None,
        ethnicity: "99",
        status: "0",
    },
];

fn row(id: &str, event: &str, repeat: Option<(&str, u32)>, values: &[(&str, &str)]) -> FlatRow {
    let mut r: FlatRow = vec![
        ("record_id".into(), id.into()),
        (EVENT_NAME.into(), event.into()),
        (
            REPEAT_INSTRUMENT.into(),
            repeat.map(|(f, _)| f).unwrap_or_default().into(),
        ),
        (
            REPEAT_INSTANCE.into(),
            repeat.map(|(_, n)| n.to_string()).unwrap_or_default(),
        ),
        (DAG.into(), HILLVIEW.into()),
    ];
    r.extend(
        values
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    r
}

/// The status code of an enrolled subject (1 screening, 2 screen failed,
/// 3 enrolled, ...).
const ENROLLED: &str = STATUS_CODES[2];

/// An enrolled subject's screening log: consent of the demo's version,
/// every inclusion criterion met, no exclusion criterion, status enrolled.
fn screening_log<'a>(i: &'a ScreeningInstrument, s: &Subject) -> Vec<(&'a str, &'static str)> {
    let role = |r: Role| i.field(r).expect("the demo's instrument has every role");
    let mut values = vec![
        (role(Role::ScreeningDate), s.screened),
        (role(Role::Initials), s.initials),
        (role(Role::ConsentDate), s.consented),
        (role(Role::ConsentVersion), "v2.0 2025-06-01"),
        (role(Role::EnrollmentDate), s.enrolled),
        (role(Role::Status), ENROLLED),
        (role(Role::StatusDate), s.enrolled),
    ];
    values.extend(i.criteria.iter().map(|c| {
        let answer = match c.kind {
            Eligibility::Inclusion => "1",
            Eligibility::Exclusion => "0",
        };
        (c.field.as_str(), answer)
    }));
    values
}

/// The BMI as the dictionary's calculation gives it.
fn bmi(expr: &logic::Expr, height_cm: &str, weight_kg: &str) -> String {
    logic::calculate(expr, &|r: &logic::FieldRef| match r.field.as_str() {
        "height_cm" => height_cm.to_owned(),
        "weight_kg" => weight_kg.to_owned(),
        _ => String::new(),
    })
    .unwrap_or_default()
}

impl Project {
    /// The desk's demo study (`sitedesk_core::forms::demo_forms`) with its
    /// two sites and a few records entered at Hillview Hospital, so that a
    /// new desk has something to sync at once.
    pub fn demo() -> Project {
        project()
    }
}

fn project() -> Project {
    let (dictionary, design) = demo_forms();
    let screening = find_screening_instrument(&dictionary, &design)
        .expect("the demo's screening instrument is usable")
        .expect("the demo has a screening instrument");
    let screening_complete = status_field(&screening.form);
    let formula = dictionary
        .field("bmi")
        .and_then(|f| f.choices_text.clone())
        .unwrap_or_default();
    let expr = logic::parse(&formula).expect("the demo's BMI calculation parses");
    let mut rows = Vec::new();
    for s in &SUBJECTS {
        let bmi = bmi(&expr, s.height_cm, s.weight_kg);
        let mut values: Vec<(&str, &str)> = vec![
            ("dob", s.dob),
            ("sex", s.sex),
            ("height_cm", s.height_cm),
            ("weight_kg", s.weight_kg),
            ("bmi", &bmi),
            ("smoker", if s.cigarettes.is_some() { "1" } else { "0" }),
            ("ethnicity", s.ethnicity),
            ("consent_copy", "1"),
            ("demographics_complete", s.status),
        ];
        if s.sex == "2" {
            values.push(("pregnant", "0"));
        }
        if let Some(c) = s.cigarettes {
            values.push(("cigs_per_day", c));
        }
        values.extend(screening_log(&screening, s));
        values.push((&screening_complete, FormStatus::Complete.code()));
        rows.push(row(s.id, "screening_arm_1", None, &values));
    }
    let baseline = "baseline_arm_1";
    rows.push(row(
        "S02-DEM-0001",
        baseline,
        None,
        &[
            ("visit_date", "2025-09-02"),
            ("sbp", "132"),
            ("dbp", "84"),
            ("hba1c", "7.8"),
            ("glucose", "8.4"),
            ("sym_thirst", "1"),
            ("sym_fatigue", "2"),
            ("sym_vision", "0"),
            ("wellbeing", "62"),
            (
                "visit_notes",
                "Fasting since 22:00. Brought her glucose diary.",
            ),
            ("vitals_complete", "2"),
            ("meds___1", "1"),
            ("medications_complete", "2"),
        ],
    ));
    rows.push(row(
        "S02-DEM-0001",
        baseline,
        Some(("adverse_events", 1)),
        &[
            ("ae_term", "Nausea after the morning metformin dose"),
            ("ae_start", "2025-09-09"),
            ("ae_severity", "1"),
            ("ae_serious", "0"),
            ("adverse_events_complete", "2"),
        ],
    ));
    rows.push(row(
        "S02-DEM-0002",
        baseline,
        None,
        &[
            ("visit_date", "2025-09-16"),
            ("sbp", "145"),
            ("dbp", "91"),
            ("hba1c", "8.9"),
            ("glucose", "10.2"),
            ("sym_thirst", "2"),
            ("sym_fatigue", "1"),
            ("sym_vision", "1"),
            ("wellbeing", "48"),
            ("vitals_complete", "1"),
            ("meds___1", "1"),
            ("meds___2", "1"),
            ("insulin_units", "24"),
            ("medications_complete", "2"),
        ],
    ));
    let mut project = Project::from_parts("SiteDesk demo study", dictionary, design);
    project
        .set_records("demo records", rows)
        .expect("the demo records fit the demo forms");
    project
}
