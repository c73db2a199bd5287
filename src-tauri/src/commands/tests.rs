//! Every command given a malformed or out-of-range payload answers with a
//! typed error and changes nothing already saved. The handlers run on a real
//! database file in a temporary folder, as the app runs them.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};
use sitedesk_core::desk::{Desk, DeskOptions};
use sitedesk_core::diagnostics::TaskRegistry;
use sitedesk_core::domain::{Actor, DeskCode, demo_study};
use sitedesk_core::i18n::Lang;
use sitedesk_core::store::{Store, StoreOptions};

use super::*;
use crate::error::ErrorCode;

struct Fixture {
    _dir: tempfile::TempDir,
    state: Arc<Desk>,
}

/// A desk as the app opens it (`Desk::open`), in a temporary folder, for a
/// study set up beforehand: the demo study's sites under
/// another id, so that the desk starts without forms and without an EDC.
async fn desk() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    {
        let registry = TaskRegistry::new();
        let store = Store::open(
            &dir.path().join(sitedesk_core::desk::DB_FILE),
            StoreOptions {
                desk_code: DeskCode::parse("TQ"),
                ..StoreOptions::default()
            },
            &registry,
        )
        .unwrap();
        let (mut study, sites) = demo_study();
        study.id = "TEST-01".into();
        let actor = Actor {
            account: "crc".into(),
            display_name: String::new(),
            login: None,
        };
        store
            .writer()
            .configure_study(actor, study, sites, "s01".into())
            .await
            .unwrap();
        store.close().await;
    }
    let state = Desk::open(DeskOptions::new(dir.path(), "crc"))
        .await
        .unwrap();
    Fixture { state, _dir: dir }
}

/// A new desk as the app opens it, in demo mode with the demo EDC.
async fn demo_desk() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let state = Desk::open(DeskOptions {
        desk_code: DeskCode::parse("TQ"),
        demo_edc: Some(Arc::new(crate::demo_edc::DemoSimulator::default())),
        ..DeskOptions::new(dir.path(), "crc")
    })
    .await
    .unwrap();
    Fixture { state, _dir: dir }
}

fn today() -> String {
    chrono::Local::now().date_naive().to_string()
}

fn eligible(label: &str) -> Value {
    json!({
        "screening_date": today(),
        "label": label,
        "consent_date": today(),
        "consent_version": "v1.0",
        "eligibility": {"scr_incl_1": "yes", "scr_incl_2": "yes", "scr_incl_3": "yes", "scr_excl_1": "no", "scr_excl_2": "no"},
    })
}

/// Every row of every table, in a stable order, read through a separate
/// read-only connection: two equal fingerprints mean nothing was written.
fn fingerprint(db: &Path) -> String {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = String::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..columns)
                    .map(|i| {
                        r.get::<_, rusqlite::types::Value>(i)
                            .map(|v| format!("{v:?}"))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        // Sorted here: some tables have no rowid to order by.
        let mut rows: Vec<String> = rows.map(|r| r.unwrap().join("|")).collect();
        rows.sort();
        out.push_str(&table);
        for row in rows {
            out.push('\n');
            out.push_str(&row);
        }
        out.push('\n');
    }
    out
}

fn expect_code<T: std::fmt::Debug>(what: &str, result: CmdResult<T>, code: ErrorCode) -> IpcError {
    match result {
        Ok(v) => panic!("{what}: accepted, answered {v:?}"),
        Err(e) => {
            assert_eq!(e.code, code, "{what}: {}", e.message);
            assert!(!e.message.is_empty(), "{what}: empty message");
            e
        }
    }
}

#[tokio::test]
async fn malformed_and_out_of_range_payloads_are_refused_and_change_nothing() {
    let d = desk().await;
    let s = &d.state;
    let saved = screen_subject(s, eligible("AB")).await.unwrap();
    let id = saved.id.clone();
    let db = s.store().path().to_owned();
    let before = fingerprint(&db);

    use ErrorCode::*;
    let long = "x".repeat(600);
    let tomorrow = (chrono::Local::now().date_naive() + chrono::Days::new(1)).to_string();

    let cases: Vec<(&str, Value, ErrorCode)> = vec![
        ("null", Value::Null, InvalidInput),
        ("a string", json!("S01"), InvalidInput),
        ("a number as status", json!({"status": 3}), InvalidInput),
        (
            "an unknown status",
            json!({"status": "dancing"}),
            InvalidInput,
        ),
        (
            "a search of 101 characters",
            json!({"search": "a".repeat(101)}),
            InvalidInput,
        ),
    ];
    for (what, payload, code) in cases {
        expect_code(
            &format!("list_subjects {what}"),
            list_subjects(s, payload).await,
            code,
        );
    }

    let cases: Vec<(&str, Value, ErrorCode)> = vec![
        ("no id", json!({}), InvalidInput),
        ("an empty id", json!({"id": ""}), InvalidInput),
        ("a path as id", json!({"id": "../etc/passwd"}), InvalidInput),
        (
            "an id of 41 characters",
            json!({"id": "S".repeat(41)}),
            InvalidInput,
        ),
        ("an array", json!([id]), InvalidInput),
        (
            "an extra field",
            json!({"id": id, "admin": true}),
            InvalidInput,
        ),
        ("an unknown id", json!({"id": "S01-ZZZ-0001"}), NotFound),
    ];
    for (what, payload, code) in cases {
        expect_code(
            &format!("get_subject {what}"),
            get_subject(s, payload).await,
            code,
        );
    }

    let with = |key: &str, value: Value| {
        let mut p = eligible("CD");
        p[key] = value;
        p
    };
    let cases: Vec<(&str, Value, ErrorCode)> = vec![
        ("an empty object", json!({}), InvalidInput),
        ("a number as label", with("label", json!(7)), InvalidInput),
        (
            "a misspelt field",
            with("consent_dat", json!(today())),
            InvalidInput,
        ),
        (
            "an answer that is not yes or no",
            with("eligibility", json!({"I1": "maybe"})),
            InvalidInput,
        ),
        (
            "a malformed date",
            with("screening_date", json!("2026-13-45")),
            Validation,
        ),
        (
            "a short date",
            with("screening_date", json!("2026-1-5")),
            Validation,
        ),
        (
            "a screening date tomorrow",
            with("screening_date", json!(tomorrow)),
            Validation,
        ),
        (
            "a consent date tomorrow",
            with("consent_date", json!(tomorrow)),
            Validation,
        ),
        (
            "a full name as label",
            with("label", json!("Jane Doe")),
            Validation,
        ),
        (
            "a label of 600 characters",
            with("label", json!(long)),
            Validation,
        ),
        ("an empty label", with("label", json!("  ")), Validation),
        (
            "an unknown criterion",
            with("eligibility", json!({"X9": "yes"})),
            Validation,
        ),
        (
            "consent without version",
            with("consent_version", json!("")),
            Validation,
        ),
        (
            "a consent version of 600 characters",
            with("consent_version", json!(long)),
            Validation,
        ),
    ];
    for (what, payload, code) in cases {
        expect_code(
            &format!("screen_subject {what}"),
            screen_subject(s, payload).await,
            code,
        );
    }

    let mut changed = eligible("AB");
    changed["label"] = json!("XY");
    let cases: Vec<(&str, Value, ErrorCode)> = vec![
        ("no input", json!({"id": id}), InvalidInput),
        (
            "a malformed id",
            json!({"id": "a b", "input": eligible("AB")}),
            InvalidInput,
        ),
        (
            "an unknown id",
            json!({"id": "S01-ZZZ-0001", "input": eligible("AB")}),
            NotFound,
        ),
        (
            "a change without a reason",
            json!({"id": id, "input": changed}),
            Validation,
        ),
        (
            "a reason of 600 characters",
            json!({"id": id, "input": changed, "reason": long}),
            Validation,
        ),
        (
            "a reason that is a number",
            json!({"id": id, "input": changed, "reason": 5}),
            InvalidInput,
        ),
    ];
    for (what, payload, code) in cases {
        expect_code(
            &format!("edit_screening {what}"),
            edit_screening(s, payload).await,
            code,
        );
    }

    let cases: Vec<(&str, Value, ErrorCode)> = vec![
        (
            "an unknown action",
            json!({"id": id, "kind": "explode"}),
            InvalidInput,
        ),
        ("no kind", json!({"id": id}), InvalidInput),
        (
            "enroll without a date",
            json!({"id": id, "kind": "enroll"}),
            Validation,
        ),
        (
            "enroll on a malformed date",
            json!({"id": id, "kind": "enroll", "date": "yesterday"}),
            Validation,
        ),
        (
            "enroll tomorrow",
            json!({"id": id, "kind": "enroll", "date": tomorrow}),
            Validation,
        ),
        (
            "complete a subject in screening",
            json!({"id": id, "kind": "complete", "date": today()}),
            IllegalTransition,
        ),
        (
            "withdraw a subject in screening",
            json!({"id": id, "kind": "withdraw", "date": today(), "reason": {"code": "3"}}),
            IllegalTransition,
        ),
        (
            "screen fail without a reason",
            json!({"id": id, "kind": "screen_fail", "date": today()}),
            Validation,
        ),
        (
            "screen fail without a date",
            json!({"id": id, "kind": "screen_fail", "reason": {"code": "1"}}),
            Validation,
        ),
        (
            "screen fail for a reason the study does not code",
            json!({"id": id, "kind": "screen_fail", "date": today(), "reason": {"code": "42"}}),
            Validation,
        ),
        (
            "screen fail for \"other\" without saying which",
            json!({"id": id, "kind": "screen_fail", "date": today(), "reason": {"code": "99"}}),
            Validation,
        ),
        (
            "screen fail with an other reason of 600 characters",
            json!({"id": id, "kind": "screen_fail", "date": today(), "reason": {"code": "99", "other": long}}),
            Validation,
        ),
        (
            "screen fail with a reason that is text, not a code",
            json!({"id": id, "kind": "screen_fail", "date": today(), "reason": "moved"}),
            InvalidInput,
        ),
        (
            "an unknown id",
            json!({"id": "S01-ZZZ-0001", "kind": "enroll", "date": today()}),
            NotFound,
        ),
    ];
    for (what, payload, code) in cases {
        expect_code(
            &format!("apply_action {what}"),
            apply_action(s, payload).await,
            code,
        );
    }

    let cases: Vec<(&str, Value, ErrorCode)> = vec![
        (
            "an unknown language",
            json!({"display_name": "Ann", "language": "fr"}),
            InvalidInput,
        ),
        ("no language", json!({"display_name": "Ann"}), InvalidInput),
        (
            "a display name of 81 characters",
            json!({"display_name": "a".repeat(81), "language": "en"}),
            Validation,
        ),
    ];
    for (what, payload, code) in cases {
        expect_code(
            &format!("save_preferences {what}"),
            save_preferences(s, payload).await,
            code,
        );
    }

    let cases: Vec<(&str, Value, ErrorCode)> = vec![
        (
            "a subject the EDC never refused the id of",
            json!({"id": id}),
            NotFound,
        ),
        ("an id that is a number", json!({"id": 7}), InvalidInput),
        ("no id", json!({}), InvalidInput),
    ];
    for (what, payload, code) in cases {
        expect_code(
            &format!("renumber_record {what}"),
            renumber_record(s, payload).await,
            code,
        );
    }

    let cases: Vec<(&str, Value, ErrorCode)> = vec![
        (
            "a site the study does not have",
            json!({"site_id": "s99", "target": 10, "reason": "Amendment 2"}),
            NotFound,
        ),
        (
            "no reason",
            json!({"target": 10, "reason": " "}),
            Validation,
        ),
        (
            "a target of a million",
            json!({"target": 1_000_000, "reason": "Amendment 2"}),
            Validation,
        ),
        (
            "a negative target",
            json!({"target": -1, "reason": "Amendment 2"}),
            InvalidInput,
        ),
        (
            "a target in words",
            json!({"target": "forty", "reason": "Amendment 2"}),
            InvalidInput,
        ),
    ];
    for (what, payload, code) in cases {
        expect_code(
            &format!("set_target {what}"),
            set_target(s, payload).await,
            code,
        );
    }
    assert_eq!(
        fingerprint(&db),
        before,
        "a refused command wrote to the database"
    );
    assert_eq!(
        s.prefs().language,
        Lang::EN,
        "a refused preference reached the app's state"
    );
}

#[tokio::test]
async fn errors_are_in_the_users_language() {
    let d = desk().await;
    let s = &d.state;
    let saved = save_preferences(s, json!({"display_name": "王芳", "language": "zh-CN"}))
        .await
        .unwrap();
    assert_eq!(saved.language, zh());
    let e = expect_code(
        "get_subject unknown",
        get_subject(s, json!({"id": "S01-ZZZ-0001"})).await,
        ErrorCode::NotFound,
    );
    assert_eq!(e.message, "找不到受试者“S01-ZZZ-0001”。");
    let e = expect_code(
        "screen_subject future",
        screen_subject(s, json!({"label": 1})).await,
        ErrorCode::InvalidInput,
    );
    assert!(e.message.starts_with("无法识别该请求"), "{}", e.message);
}

#[tokio::test]
async fn a_valid_lifecycle_goes_through_the_handlers() {
    let d = desk().await;
    let s = &d.state;
    let subject = screen_subject(s, eligible("ab")).await.unwrap();
    assert_eq!(subject.id, "S01-TQ-0001");
    let detail = get_subject(s, json!({"id": subject.id})).await.unwrap();
    assert_eq!(
        detail.actions,
        vec![ActionKind::ScreenFail, ActionKind::Enroll]
    );
    let enrolled = apply_action(
        s,
        json!({"id": subject.id, "kind": "enroll", "date": today()}),
    )
    .await
    .unwrap();
    let detail = get_subject(s, json!({"id": enrolled.id})).await.unwrap();
    assert_eq!(
        detail.actions,
        vec![ActionKind::Complete, ActionKind::Withdraw]
    );
    assert!(
        detail
            .audit
            .iter()
            .any(|a| a.field == "scr_enrollment_date"),
        "{:?}",
        detail.audit
    );
    let rows = list_subjects(s, json!({"search": "S01-TQ"})).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].desk_code.as_deref(), Some("TQ"));
}

#[tokio::test]
async fn a_target_changed_at_the_desk_is_local_audited_and_can_go_back() {
    let d = desk().await;
    let s = &d.state;
    // Without the study's instrument the desk counts against the snippet's
    // annotated target.
    let info = app_info(s).await.unwrap();
    let targets = info.setup.as_ref().unwrap().targets.clone();
    assert_eq!(targets.study.map(|t| (t.value, t.local)), Some((40, false)));
    let info = set_target(s, json!({"target": 55, "reason": "Protocol amendment 3"}))
        .await
        .unwrap();
    let setup = info.setup.unwrap();
    assert_eq!(
        setup.targets.study.map(|t| (t.value, t.local)),
        Some((55, true))
    );
    assert_eq!(setup.study.enrollment_target, 55);
    let info = set_target(
        s,
        json!({"site_id": "s01", "target": 20, "reason": "Site split agreed"}),
    )
    .await
    .unwrap();
    let site = info.setup.unwrap().targets.sites["s01"];
    assert_eq!((site.value, site.local), (20, true));
    let audited: i64 = Connection::open(s.store().path())
        .unwrap()
        .query_row(
            "SELECT count(*) FROM audit WHERE entity = 'study' AND field = 'target:study'
               AND new_value = '55' AND reason = 'Protocol amendment 3'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audited, 1);
    let info = set_target(s, json!({"reason": "Back to the study's"}))
        .await
        .unwrap();
    let setup = info.setup.unwrap();
    assert_eq!(
        setup.targets.study.map(|t| (t.value, t.local)),
        Some((40, false))
    );
    expect_code(
        "setting the same target again",
        set_target(s, json!({"reason": "again"})).await,
        ErrorCode::Validation,
    );
}

const DICTIONARY: &str = "field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note,text_validation_type_or_show_slider_number,text_validation_min,text_validation_max,identifier,branching_logic,required_field,custom_alignment,question_number,matrix_group_name,matrix_ranking,field_annotation
record_id,visit,,text,ID,,,,,,,,,,,,,
weight,visit,,text,Weight,,,number,20,300,,,,,,,,
bmi,visit,,calc,BMI,\"stdev([weight], 1)\",,,,,,,,,,,,";

#[tokio::test]
async fn a_dictionary_file_is_previewed_then_imported_and_bad_ones_change_nothing() {
    let d = desk().await;
    let s = &d.state;
    let file = json!({"file_name": "study.csv", "text": DICTIONARY});
    let preview = preview_dictionary(s, file.clone()).await.unwrap();
    assert_eq!((preview.fields, preview.current_hash.clone()), (3, None));
    assert_eq!(preview.changes.len(), 3);
    assert_eq!(
        preview.logic_issues.len(),
        1,
        "stdev() is listed as unsupported"
    );

    let db = s.store().path().to_owned();
    let before = fingerprint(&db);
    let bad_csv = json!({"file_name": "x.csv", "text": "name,form\nx,y"});
    let e = expect_code(
        "a CSV that is no dictionary",
        preview_dictionary(s, bad_csv.clone()).await,
        ErrorCode::Validation,
    );
    assert!(
        e.message.starts_with("Data dictionary line 1"),
        "{}",
        e.message
    );
    expect_code(
        "import of it",
        import_dictionary(s, bad_csv).await,
        ErrorCode::Validation,
    );
    let huge = json!({"file_name": "x.csv", "text": "x".repeat(6 * 1024 * 1024)});
    expect_code(
        "a 6 MB file",
        import_dictionary(s, huge).await,
        ErrorCode::InvalidInput,
    );
    expect_code(
        "no text",
        import_dictionary(s, json!({"file_name": "x.csv"})).await,
        ErrorCode::InvalidInput,
    );
    assert_eq!(fingerprint(&db), before, "refused imports wrote nothing");

    let imported = import_dictionary(s, file.clone()).await.unwrap();
    assert!(imported.changed);
    let again = preview_dictionary(s, file).await.unwrap();
    assert_eq!(again.current_hash.as_deref(), Some(again.hash.as_str()));
    assert!(again.changes.is_empty());
}

#[tokio::test]
async fn forms_open_evaluate_and_save_and_refusals_write_nothing() {
    let desk = desk().await;
    let s = &desk.state;
    let id = screen_subject(s, eligible("FM")).await.unwrap().id;
    let at = json!({"subject_id": id, "event": "screening_arm_1", "form": "demographics", "instance": 1});

    // Before any forms are imported there is no grid, and forms say why.
    assert_eq!(visit_grid(s, json!({"id": id})).await.unwrap(), None);
    expect_code(
        "no forms yet",
        open_form(s, at.clone()).await,
        ErrorCode::NoForms,
    );

    let (dictionary, design) = sitedesk_core::forms::demo_forms();
    s.store()
        .writer()
        .import_dictionary(s.actor(), dictionary, Some(design), "demo".into())
        .await
        .unwrap();
    let grid = visit_grid(s, json!({"id": id})).await.unwrap().unwrap();
    assert_eq!(grid.events.len(), 4);
    let opened = open_form(s, at.clone()).await.unwrap();
    assert_eq!(opened.view.status, None);
    let pregnant = |e: &Evaluation| {
        e.fields
            .iter()
            .find(|f| f.name == "pregnant")
            .unwrap()
            .visible
    };
    assert!(!pregnant(&opened.evaluation));
    let e = evaluate_form(s, json!({"at": at, "values": {"sex": "2"}}))
        .await
        .unwrap();
    assert!(pregnant(&e));

    let db = s.store().path().to_owned();
    let before = fingerprint(&db);
    let refusals = [
        ("unknown subject", open_form(s, json!({"subject_id": "S09-9999", "event": "screening_arm_1", "form": "demographics", "instance": 1})).await.map(|_| ()), ErrorCode::NotFound),
        ("wrong event", open_form(s, json!({"subject_id": id, "event": "baseline_arm_1", "form": "demographics", "instance": 1})).await.map(|_| ()), ErrorCode::NotFound),
        ("second instance of a form that does not repeat", open_form(s, json!({"subject_id": id, "event": "screening_arm_1", "form": "demographics", "instance": 2})).await.map(|_| ()), ErrorCode::NotFound),
        ("a field of another form", save_form(s, json!({"at": at, "input": {"values": {"sbp": "120"}, "status": "complete"}})).await.map(|_| ()), ErrorCode::InvalidInput),
        ("a malformed value", save_form(s, json!({"at": at, "input": {"values": {"height_cm": "tall"}, "status": "incomplete"}})).await.map(|_| ()), ErrorCode::Validation),
        ("an unconfirmed out-of-range value", save_form(s, json!({"at": at, "input": {"values": {"height_cm": "250"}, "status": "incomplete"}})).await.map(|_| ()), ErrorCode::Validation),
        ("an unknown status", save_form(s, json!({"at": at, "input": {"values": {}, "status": "done"}})).await.map(|_| ()), ErrorCode::InvalidInput),
        ("a misspelt key", save_form(s, json!({"at": at, "input": {"values": {}, "status": "complete", "reasons": "x"}})).await.map(|_| ()), ErrorCode::InvalidInput),
    ];
    for (what, result, code) in refusals {
        expect_code(what, result, code);
    }
    assert_eq!(fingerprint(&db), before, "refused saves wrote nothing");

    let saved = save_form(
        s,
        json!({"at": at, "input": {"values": {"height_cm": "170", "weight_kg": "70.0"}, "status": "incomplete"}}),
    )
    .await
    .unwrap();
    assert_eq!(saved.changed, 4, "two values, the calc and the status");
    let opened = open_form(s, at.clone()).await.unwrap();
    assert_eq!(opened.view.values["bmi"], "24.2");
    let before = fingerprint(&db);
    let e = expect_code(
        "a changed saved value without a reason",
        save_form(
            s,
            json!({"at": at, "input": {"values": {"weight_kg": "71.0"}, "status": "incomplete"}}),
        )
        .await,
        ErrorCode::Validation,
    );
    assert!(e.message.contains("reason"), "{}", e.message);
    assert_eq!(fingerprint(&db), before);
    let again = save_form(
        s,
        json!({"at": at, "input": {"values": {"weight_kg": "71.0"}, "status": "complete", "reason": "Re-weighed"}}),
    )
    .await
    .unwrap();
    assert_eq!(again.changed, 3);
    let detail = get_subject(s, json!({"id": id})).await.unwrap();
    assert!(detail.audit.iter().any(|a| a.field == "weight_kg"
        && a.old_value.as_deref() == Some("70.0")
        && a.reason.as_deref() == Some("Re-weighed")));
}

/// A REDCap project file (ODM) brings its events and repeating forms: the
/// visit grid of a subject follows them. Runs where `../shared` exists.
#[tokio::test]
async fn a_project_file_import_gives_the_visit_grid_its_events() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/redcap/longitudinal/project.xml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: {} is absent", path.display());
        return;
    };
    let desk = desk().await;
    let s = &desk.state;
    let id = screen_subject(s, eligible("PX")).await.unwrap().id;
    let file = json!({"file_name": "project.xml", "text": text});
    let preview = preview_dictionary(s, file.clone()).await.unwrap();
    assert!(preview.fields > 0);
    let imported = import_dictionary(s, file.clone()).await.unwrap();
    assert!(imported.changed);
    let again = preview_dictionary(s, file).await.unwrap();
    assert_eq!(
        again.current_hash.as_deref(),
        Some(again.hash.as_str()),
        "the preview's hash covers the design as the store's does"
    );
    let grid = visit_grid(s, json!({"id": id})).await.unwrap().unwrap();
    let stored = s.store().readers().dictionary().await.unwrap().unwrap();
    assert!(stored.design.is_longitudinal());
    assert_eq!(
        grid.events
            .iter()
            .map(|e| e.name.clone())
            .collect::<Vec<_>>(),
        stored.design.event_names()
    );
    let bad = json!({"file_name": "project.xml", "text": "<ODM><Study>"});
    expect_code(
        "a broken project file",
        preview_dictionary(s, bad).await,
        ErrorCode::Validation,
    );
}

/// Settings' EDC: a bad address or token is refused and writes nothing; a
/// saved one is used by Test connection; forgetting it brings a demo desk
/// back to the demo EDC. The token never comes back out.
#[tokio::test]
async fn the_edc_connection_is_checked_saved_tested_and_forgotten() {
    let plain = desk().await;
    assert_eq!(
        edc_settings(&plain.state).await.unwrap().mode,
        EdcMode::None
    );
    expect_code(
        "no EDC yet",
        test_connection(&plain.state).await,
        ErrorCode::NoEdc,
    );
    let desk = demo_desk().await;
    let s = &desk.state;
    assert_eq!(edc_settings(s).await.unwrap().mode, EdcMode::Demo);
    test_connection(s).await.unwrap();

    let sim = edc_sim::Simulator::start(edc_sim::SimConfig::new(edc_sim::Project::demo()))
        .await
        .unwrap();
    let db = s.store().path().to_owned();
    let before = fingerprint(&db);
    for (what, payload) in [
        (
            "not a web address",
            json!({"url": "redcap.example.org", "token": edc_sim::DEMO_TOKEN}),
        ),
        (
            "a short token",
            json!({"url": sim.base_url(), "token": "ABC"}),
        ),
        ("no token saved", json!({"url": sim.base_url()})),
        (
            "plain http to another computer",
            json!({"url": "http://redcap.example.org/api/", "token": edc_sim::DEMO_TOKEN}),
        ),
        (
            "a user name in the address",
            json!({"url": "https://dana:pw@redcap.example.org/api/", "token": edc_sim::DEMO_TOKEN}),
        ),
    ] {
        expect_code(
            what,
            save_edc_settings(s, payload).await,
            ErrorCode::Validation,
        );
    }
    expect_code(
        "a stray key",
        save_edc_settings(s, json!({"url": sim.base_url(), "tokn": "x"})).await,
        ErrorCode::InvalidInput,
    );
    assert_eq!(fingerprint(&db), before);

    let saved = save_edc_settings(
        s,
        json!({"url": sim.base_url(), "token": edc_sim::DEMO_TOKEN_RIVERSIDE.to_lowercase()}),
    )
    .await
    .unwrap();
    assert_eq!(saved.mode, EdcMode::Real);
    assert_eq!(saved.url.as_deref(), Some(sim.api_url().as_str()));
    assert!(saved.token_saved);
    assert!(
        !serde_json::to_string(&saved)
            .unwrap()
            .contains(edc_sim::DEMO_TOKEN_RIVERSIDE)
    );
    let report = test_connection(s).await.unwrap();
    assert_eq!(report.version, edc_sim::REDCAP_VERSION);
    assert!(report.longitudinal);

    // Another path on the same server keeps the saved token; another
    // server (here another port) needs it typed again, and nothing changes.
    save_edc_settings(s, json!({"url": sim.api_url()}))
        .await
        .unwrap();
    test_connection(s).await.unwrap();
    let before = fingerprint(&db);
    let elsewhere = format!(
        "http://127.0.0.1:{}/api/",
        sim.local_addr().port().checked_add(1).unwrap_or(1)
    );
    let e = expect_code(
        "another server without its token",
        save_edc_settings(s, json!({"url": elsewhere})).await,
        ErrorCode::Validation,
    );
    assert!(e.message.contains("token"), "{}", e.message);
    assert_eq!(fingerprint(&db), before);
    // A wrong token is the EDC's refusal.
    save_edc_settings(s, json!({"url": sim.api_url(), "token": "F".repeat(32)}))
        .await
        .unwrap();
    let e = expect_code(
        "a token the EDC does not know",
        test_connection(s).await,
        ErrorCode::Edc,
    );
    assert!(e.message.contains("token"), "{}", e.message);

    let forgotten = forget_edc_settings(s).await.unwrap();
    assert_eq!(
        forgotten.mode,
        EdcMode::Demo,
        "a demo desk goes back to the demo EDC"
    );
    assert!(!forgotten.token_saved);
    test_connection(s).await.unwrap();
    s.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn sync_settings_are_checked_saved_and_shown() {
    let desk = desk().await;
    let s = &desk.state;
    let db = s.store().path().to_owned();
    let before = fingerprint(&db);
    for bad in [
        json!({"interval_minutes": 0, "concurrency": 2}),
        json!({"interval_minutes": 15, "concurrency": 9}),
    ] {
        expect_code(
            "out of range",
            save_sync_settings(s, bad).await,
            ErrorCode::Validation,
        );
    }
    expect_code(
        "a stray key",
        save_sync_settings(s, json!({"interval_minutes": 5, "concurrency": 2, "x": 1})).await,
        ErrorCode::InvalidInput,
    );
    assert_eq!(fingerprint(&db), before);
    save_sync_settings(s, json!({"interval_minutes": 5, "concurrency": 4}))
        .await
        .unwrap();
    let status = sync_status(s).await.unwrap();
    assert_eq!(
        (
            status.settings.interval_minutes,
            status.settings.concurrency
        ),
        (5, 4)
    );
    assert_eq!(
        s.store().readers().sync_settings().await.unwrap(),
        status.settings
    );
    expect_code("no EDC", sync_now(s).await, ErrorCode::NoEdc);
}

/// The support bundle carries tasks, metrics, sync state and logs, and
/// neither a patient value nor the EDC token.
#[tokio::test]
async fn the_diagnostics_bundle_has_no_patient_value_and_no_token() {
    const CANARY: &str = "CANARY-NOTE-8812";
    let desk = desk().await;
    let s = &desk.state;
    let id = screen_subject(s, eligible("BD")).await.unwrap().id;
    let (dictionary, design) = sitedesk_core::forms::demo_forms();
    s.store()
        .writer()
        .import_dictionary(s.actor(), dictionary, Some(design), "demo".into())
        .await
        .unwrap();
    let at = json!({"subject_id": id, "event": "baseline_arm_1", "form": "vitals", "instance": 1});
    save_form(
        s,
        json!({"at": at, "input": {"values": {"visit_notes": CANARY}, "status": "incomplete"}}),
    )
    .await
    .unwrap();
    let token = "0123456789ABCDEF0123456789ABCDEF";
    save_edc_settings(
        s,
        json!({"url": "https://redcap.example.org", "token": token}),
    )
    .await
    .unwrap();
    let path = save_diagnostics_bundle(s).await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let bundle: Value = serde_json::from_str(&text).unwrap();
    for key in ["version", "tasks", "lints", "writer", "sync", "logs", "edc"] {
        assert!(bundle.get(key).is_some(), "{key} missing");
    }
    assert!(!text.contains(CANARY));
    assert!(!text.contains(token));
    assert!(!text.to_lowercase().contains(&token.to_lowercase()));
    #[cfg(unix)]
    assert_eq!(
        mode(Path::new(&path)),
        0o600,
        "the bundle is its user's only"
    );
}

/// The mode bits of a file or folder.
#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// A demo desk's files are its user's only, the demo EDC's records (and
/// their write-ahead log) too, although the test runs with umask 022.
#[cfg(unix)]
#[tokio::test]
async fn a_demo_desk_keeps_its_files_and_the_demo_edcs_private() {
    let f = demo_desk().await;
    let s = &f.state;
    let dir = s.data_dir().to_owned();
    assert_eq!(mode(&dir), 0o700);
    for file in [
        sitedesk_core::desk::DB_FILE,
        "sitedesk.sqlite3-wal",
        sitedesk_core::instance::LOCK_FILE,
        sitedesk_core::desk::DEMO_EDC_FILE,
        "demo-edc.sqlite3-wal",
    ] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    s.shutdown().await;
}

#[tokio::test]
async fn a_record_pulled_from_the_edc_is_listed_opened_and_edited_without_a_screening_log() {
    use sitedesk_core::store::sync::{Cell, SyncWrite};
    let desk = desk().await;
    let s = &desk.state;
    let (dictionary, design) = sitedesk_core::forms::demo_forms();
    s.store()
        .writer()
        .import_dictionary(s.actor(), dictionary, Some(design), "demo".into())
        .await
        .unwrap();
    let mine = screen_subject(s, eligible("MN")).await.unwrap().id;
    let id = "S01-OTH-0007";
    let pulled = |field: &str, value: &str| SyncWrite::Pulled {
        cell: Cell {
            record_id: id.into(),
            event: "baseline_arm_1".into(),
            instance: 1,
            field: field.into(),
        },
        server: value.into(),
    };
    s.store()
        .writer()
        .sync_apply(
            s.actor(),
            vec![pulled("sbp", "120"), pulled("dbp", "80")],
            None,
        )
        .await
        .unwrap();

    let listed = list_edc_records(s).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (
            listed[0].record_id.as_str(),
            listed[0].events,
            listed[0].values
        ),
        (id, 1, 2)
    );
    assert!(
        listed.iter().all(|r| r.record_id != mine),
        "registered here: not from the EDC"
    );
    expect_code(
        "no subject of that id at this desk",
        get_subject(s, json!({"id": id})).await,
        ErrorCode::NotFound,
    );
    expect_code(
        "neither a subject nor a record",
        get_record(s, json!({"id": "S01-NON-0001"})).await,
        ErrorCode::NotFound,
    );
    expect_code(
        "forms need a subject or a record",
        visit_grid(s, json!({"id": "S01-NON-0001"})).await,
        ErrorCode::NotFound,
    );
    assert!(visit_grid(s, json!({"id": id})).await.unwrap().is_some());

    let at = json!({"subject_id": id, "event": "baseline_arm_1", "form": "vitals", "instance": 1});
    let opened = open_form(s, at.clone()).await.unwrap();
    assert_eq!(
        opened.view.values.get("sbp").map(String::as_str),
        Some("120")
    );
    save_form(
        s,
        json!({"at": at, "input": {"values": {"sbp": "135"}, "status": "incomplete", "reason": "Repeated after rest"}}),
    )
    .await
    .unwrap();
    assert_eq!(
        edc_settings(s).await.unwrap().pending_edits,
        10 + 2,
        "the subject's screening log, the corrected value and the form's status wait to be sent"
    );
    let detail = get_record(s, json!({"id": id})).await.unwrap();
    assert!(
        detail
            .audit
            .iter()
            .any(|e| e.field == "sbp" && e.reason.as_deref() == Some("Repeated after rest")),
        "{:?}",
        detail.audit
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpu_profile_is_recorded_as_a_task_saved_in_two_formats_and_bundled() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let desk = desk().await;
    let s = &desk.state;
    for seconds in [0, 61] {
        expect_code(
            "seconds out of range",
            record_profile(s, json!({"seconds": seconds})).await,
            ErrorCode::InvalidInput,
        );
    }
    expect_code(
        "nothing recorded yet",
        save_profile(s, json!({"format": "svg"})).await,
        ErrorCode::NotFound,
    );
    if !profile::available() {
        expect_code(
            "this platform cannot profile",
            record_profile(s, json!({"seconds": 1})).await,
            ErrorCode::Profile,
        );
        return;
    }
    // CPU time is what is sampled: keep a thread busy.
    let stop = Arc::new(AtomicBool::new(false));
    let busy = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let mut x = 0u64;
            while !stop.load(Ordering::Relaxed) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
    });
    let view = record_profile(s, json!({"seconds": 1})).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
    assert!(
        view.samples > 0 && view.root.value == view.samples,
        "{view:?}"
    );
    let task = s
        .registry()
        .snapshot()
        .into_iter()
        .find(|t| t.name == "CPU profile (1 s)")
        .expect("registered");
    assert_eq!(task.state, sitedesk_core::diagnostics::TaskState::Done);

    let svg = save_profile(s, json!({"format": "svg"})).await.unwrap();
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    let pb = save_profile(s, json!({"format": "pprof"})).await.unwrap();
    assert!(pb.ends_with(".pb") && !std::fs::read(&pb).unwrap().is_empty());
    #[cfg(unix)]
    assert_eq!(
        (mode(Path::new(&svg)), mode(Path::new(&pb))),
        (0o600, 0o600),
        "profiles are their user's only"
    );
    expect_code(
        "an unknown format",
        save_profile(s, json!({"format": "png"})).await,
        ErrorCode::InvalidInput,
    );
    let bundle = s.bundle("test");
    assert_eq!(bundle["profile"]["samples"], json!(view.samples));
    assert!(bundle["profile"]["folded"].as_str().unwrap().contains(';'));
}

/// Simplified Chinese, the catalog beside English.
fn zh() -> Lang {
    Lang::from_tag("zh-CN").expect("a zh-CN catalog")
}

/// Onboarding through the commands: forged payloads (wrong types, a stray
/// key, a malformed or unknown site, a token that is not one, no practice
/// choice on a demo desk with entries) are refused and write nothing; the
/// summary never carries the token; a valid binding leaves the demo.
#[tokio::test]
async fn a_desk_probes_and_binds_to_its_project_and_forged_payloads_change_nothing() {
    let desk = demo_desk().await;
    let s = &desk.state;
    screen_subject(s, eligible("PR")).await.unwrap();
    let sim = edc_sim::Simulator::start(edc_sim::SimConfig::new(edc_sim::Project::demo()))
        .await
        .unwrap();
    let url = sim.base_url();
    let token = edc_sim::DEMO_TOKEN;
    let db = s.store().path().to_owned();
    let before = fingerprint(&db);

    use ErrorCode::*;
    let probes: Vec<(&str, Value, ErrorCode)> = vec![
        ("null", Value::Null, InvalidInput),
        (
            "a number as url",
            json!({"url": 5, "token": token}),
            InvalidInput,
        ),
        (
            "a stray key",
            json!({"url": url, "token": token, "site": "x"}),
            InvalidInput,
        ),
        ("no token", json!({"url": url, "token": ""}), Validation),
        (
            "a short token",
            json!({"url": url, "token": "ABC"}),
            Validation,
        ),
        (
            "not a web address",
            json!({"url": "redcap", "token": token}),
            Validation,
        ),
    ];
    for (what, payload, code) in probes {
        expect_code(what, probe_project(s, payload).await, code);
    }
    let binds: Vec<(&str, Value, ErrorCode)> = vec![
        ("a string", json!("bind"), InvalidInput),
        (
            "an unknown practice",
            json!({"url": url, "token": token, "site": edc_sim::RIVERSIDE, "practice": "keep"}),
            InvalidInput,
        ),
        (
            "a number as site",
            json!({"url": url, "token": token, "site": 3, "practice": "discard"}),
            InvalidInput,
        ),
        (
            "a malformed site",
            json!({"url": url, "token": token, "site": "a b", "practice": "discard"}),
            InvalidInput,
        ),
        (
            "an unknown site",
            json!({"url": url, "token": token, "site": "nowhere", "practice": "discard"}),
            Validation,
        ),
        (
            "no site for a token that sees every site",
            json!({"url": url, "token": token, "practice": "discard"}),
            Validation,
        ),
        (
            "another site than the token's",
            json!({"url": url, "token": edc_sim::DEMO_TOKEN_RIVERSIDE, "site": edc_sim::HILLVIEW, "practice": "discard"}),
            Validation,
        ),
        (
            "no practice choice",
            json!({"url": url, "token": token, "site": edc_sim::RIVERSIDE}),
            Validation,
        ),
    ];
    for (what, payload, code) in binds {
        expect_code(what, bind_project(s, payload).await, code);
    }
    let e = expect_code(
        "no practice choice",
        bind_project(
            s,
            json!({"url": url, "token": token, "site": edc_sim::RIVERSIDE}),
        )
        .await,
        Validation,
    );
    assert!(e.message.contains("(1)"), "{}", e.message);
    assert_eq!(fingerprint(&db), before, "refusals wrote nothing");
    assert!(s.is_demo());

    let summary = probe_project(s, json!({"url": url, "token": token}))
        .await
        .unwrap();
    assert_eq!(summary.practice_entries, 1);
    assert_eq!(summary.token_site, None);
    assert!(!serde_json::to_string(&summary).unwrap().contains(token));
    let riverside = probe_project(
        s,
        json!({"url": url, "token": edc_sim::DEMO_TOKEN_RIVERSIDE}),
    )
    .await
    .unwrap();
    assert_eq!(riverside.token_site.as_deref(), Some(edc_sim::RIVERSIDE));
    assert_eq!(fingerprint(&db), before, "probes wrote nothing");

    let outcome = bind_project(
        s,
        json!({"url": url, "token": edc_sim::DEMO_TOKEN_RIVERSIDE, "practice": "discard"}),
    )
    .await
    .unwrap();
    assert_eq!(outcome.discarded, 1);
    let info = app_info(s).await.unwrap();
    assert!(!info.demo);
    assert!(info.settings.setup_chosen);
    let setup = info.setup.unwrap();
    assert_eq!(setup.desk_site_id, edc_sim::RIVERSIDE);
    assert_eq!(edc_settings(s).await.unwrap().mode, EdcMode::Real);
    s.shutdown().await;
    sim.shutdown().await;
}

/// Choosing the demo is remembered, once.
#[tokio::test]
async fn choosing_the_demo_is_remembered() {
    let desk = demo_desk().await;
    let s = &desk.state;
    assert!(!app_info(s).await.unwrap().settings.setup_chosen);
    assert!(choose_demo(s).await.unwrap().setup_chosen);
    assert!(s.store().readers().settings().await.unwrap().setup_chosen);
    choose_demo(s).await.unwrap();
    assert!(app_info(s).await.unwrap().demo);
    s.shutdown().await;
}

#[tokio::test]
async fn a_form_status_is_named_by_its_form_and_a_classic_project_has_no_visit() {
    let f = demo_desk().await;
    let mut stored = f
        .state
        .store()
        .readers()
        .dictionary()
        .await
        .unwrap()
        .expect("the demo study has a dictionary");
    let cell = |field: &str| Cell {
        record_id: "S01-TQ-0001".into(),
        event: "baseline_arm_1".into(),
        instance: 1,
        field: field.into(),
    };
    assert_eq!(
        cell_labels(Some(&stored), &cell("vitals_complete"), Lang::EN),
        (
            "Vital signs and laboratory: Form status".into(),
            "Baseline".into(),
            "vitals".into()
        )
    );
    assert_eq!(
        cell_labels(Some(&stored), &cell("vitals_complete"), zh()).0,
        "Vital signs and laboratory: 表单状态"
    );
    assert_eq!(
        cell_labels(Some(&stored), &cell("sbp"), Lang::EN).1,
        "Baseline"
    );
    // The same project without events: its one event is no visit.
    stored.design.events.clear();
    let classic = Cell {
        event: sitedesk_core::metadata::design::CLASSIC_EVENT.into(),
        ..cell("sbp")
    };
    assert_eq!(cell_labels(Some(&stored), &classic, Lang::EN).1, "");
}
