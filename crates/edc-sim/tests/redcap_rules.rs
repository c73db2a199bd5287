//! The simulator checks imported values by REDCap's rules, not by the
//! desk's: where the desk's `metadata::validate` and REDCap's patterns
//! (`redcap_validation_types`, REDCap 15.7.6) disagree, the simulator
//! answers as REDCap does. Each test names the rule it shows.

use chrono::NaiveDate;
use edc_sim::{CsvFiles, DEMO_TOKEN, Project};
use serde_json::{Value, json};
use sitedesk_core::metadata::validate::{Verdict, check_value};

use crate::common::{Client, error_of, start};

/// A classic project with a field of each rule the tests need.
fn project() -> Project {
    let dictionary = r#"field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note,text_validation_type_or_show_slider_number,text_validation_min,text_validation_max,identifier,branching_logic,required_field,custom_alignment,question_number,matrix_group_name,matrix_ranking,field_annotation
record_id,visit,,text,Record ID,,,,,,,,,,,,,
walk_time,visit,,text,Six-minute walk split (MM:SS),,,time_mm_ss,,,,,,,,,,
phone,visit,,text,Phone,,,phone,,,,,,,,,,
dose,visit,,text,Dose,,,number,,,,,,,,,,
start,visit,,text,Start time,,,time,,,,,,,,,,
seen,visit,,text,Seen on,,,date_dmy,,,,,,,,,,
weight,visit,,text,Weight (kg),,,number_1dp,30,250,,,,,,,,
arm,visit,,radio,Arm,"1, Drug | 2, Placebo",,,,,,,,,,,,
smoker,visit,,yesno,Smoker,,,,,,,,,,,,,
bmi,visit,,calc,BMI,[weight]/4,,,,,,,,,,,,
"#;
    Project::from_csv(CsvFiles {
        dictionary: dictionary.as_bytes(),
        ..Default::default()
    })
    .expect("the rules project loads")
}

const FORMAT: &str = "The value you provided could not be validated because it does not follow the expected format. Please try again.";

fn row(field: &str, value: &str) -> Value {
    json!([{"record_id": "1", field: value}])
}

/// What the desk's own check says of `value` for `field`.
fn desk_verdict(project: &Project, field: &str, value: &str) -> Verdict {
    let f = project.dictionary().field(field).expect("the field");
    let now = NaiveDate::from_ymd_opt(2025, 1, 1)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap();
    check_value(f, value, now)
}

#[tokio::test]
async fn values_the_desk_takes_and_redcaps_patterns_refuse_are_refused() {
    let p = project();
    // `time_mm_ss` is `/^[0-5]\d:[0-5]\d$/`: minutes stop at 59. The
    // desk takes any two digits of minutes. `phone` refuses the area code
    // 911 (`[2-9]1[02-9]`); the desk takes any area code from 2 to 9.
    let cases = [("walk_time", "75:00"), ("phone", "(911) 555-0123")];
    for (field, value) in cases {
        assert!(
            matches!(desk_verdict(&p, field, value), Verdict::Valid { .. }),
            "the desk takes {field} = {value}"
        );
    }
    let sim = start(p).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    for (field, value) in cases {
        let (status, body) = c.import(row(field, value), &[]).await;
        assert_eq!(status, 400, "{field} = {value}: {body}");
        assert_eq!(
            error_of(&body),
            format!(r#""1","{field}","{value}","{FORMAT}""#)
        );
    }
    assert!(c.export(&[]).await.is_empty(), "nothing was written");
    sim.shutdown().await;
}

#[tokio::test]
async fn values_the_desk_refuses_and_redcaps_patterns_take_are_stored() {
    let p = project();
    // `number` takes an exponent (`([eE][-+]?[0-9]+)?`) and `time` an
    // hour of one digit (`[0-9]|[0-1][0-9]|[2][0-3]`); the desk refuses
    // both.
    let cases = [("dose", "1e3"), ("start", "9:30")];
    for (field, value) in cases {
        assert!(
            matches!(desk_verdict(&p, field, value), Verdict::Invalid { .. }),
            "the desk refuses {field} = {value}"
        );
    }
    let sim = start(p).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    for (field, value) in cases {
        assert_eq!(
            c.import_ok(row(field, value), &[]).await,
            json!({"count": 1})
        );
        assert_eq!(c.export(&[]).await[0][field], value, "stored as sent");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn dates_arrive_in_ymd_whatever_the_fields_order_and_date_format_reorders_them() {
    let sim = start(project()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    // `seen` shows D-M-Y; REDCap stores and imports Y-M-D.
    c.import_ok(row("seen", "2024-02-29"), &[]).await;
    assert_eq!(c.export(&[]).await[0]["seen"], "2024-02-29");
    for refused in ["29-02-2024", "2023-02-29", "2024-2-29", "2024-02/29"] {
        let (status, body) = c.import(row("seen", refused), &[]).await;
        assert_eq!(status, 400, "{refused}: {body}");
        assert!(
            error_of(&body).ends_with(&format!(r#""{FORMAT}""#)),
            "{body}"
        );
    }
    // `/` separates too, and is stored as `-`.
    c.import_ok(row("seen", "2024/03/01"), &[]).await;
    assert_eq!(c.export(&[]).await[0]["seen"], "2024-03-01");
    // `dateFormat=DMY`: the client sends D-M-Y; REDCap stores Y-M-D.
    c.import_ok(row("seen", "31-05-2024"), &[("dateFormat", "DMY")])
        .await;
    assert_eq!(c.export(&[]).await[0]["seen"], "2024-05-31");
    c.import_ok(row("seen", "06/30/2024"), &[("dateFormat", "MDY")])
        .await;
    assert_eq!(c.export(&[]).await[0]["seen"], "2024-06-30");
    let (status, _) = c
        .import(row("seen", "2024-05-31"), &[("dateFormat", "DMY")])
        .await;
    assert_eq!(status, 400, "a Y-M-D value is not D-M-Y");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_value_out_of_min_and_max_is_taken_as_redcaps_import_only_warns() {
    let sim = start(project()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    c.import_ok(row("weight", "300.0"), &[]).await;
    assert_eq!(c.export(&[]).await[0]["weight"], "300.0");
    // The format is still checked: one decimal, exactly.
    let (status, body) = c.import(row("weight", "300"), &[]).await;
    assert_eq!(status, 400, "{body}");
    sim.shutdown().await;
}

#[tokio::test]
async fn choices_take_their_codes_and_calculations_take_nothing() {
    let sim = start(project()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    c.import_ok(json!([{"record_id": "1", "arm": "2", "smoker": "0"}]), &[])
        .await;
    for (field, value, message) in [
        (
            "arm",
            "Placebo",
            "The value is not a valid category for arm",
        ),
        ("arm", "3", "The value is not a valid category for arm"),
        (
            "smoker",
            "yes",
            "The value is not a valid category for smoker",
        ),
        (
            "smoker",
            "2",
            "The value is not a valid category for smoker",
        ),
    ] {
        let (status, body) = c.import(row(field, value), &[]).await;
        assert_eq!(status, 400, "{field} = {value}");
        assert_eq!(
            error_of(&body),
            format!(r#""1","{field}","{value}","{message}""#)
        );
    }
    let (status, body) = c.import(row("bmi", "20.1"), &[]).await;
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("calculated field"), "{body}");
    sim.shutdown().await;
}
