//! Onboarding against the simulator: a desk probes its study's REDCap
//! project and binds to it, leaving the demo with its practice entries
//! discarded or carried over.

use std::collections::BTreeMap;

use edc_sim::{ApiUser, CsvFiles, Project, RunningSim, SimConfig, Simulator};
use sitedesk_core::desk::onboard::site_code;
use sitedesk_core::desk::{BindError, BindRequest, Desk, DeskOptions, ScreeningStatus};
use sitedesk_core::domain::{Actor, Answer, CriterionKind, ScreeningInput};
use sitedesk_core::edc::Token;
use sitedesk_core::metadata::screening::SCREENING_SNIPPET;
use sitedesk_core::store::{Practice, StoreError};

pub(crate) const MANAGER: &str = "0123456789ABCDEF0123456789ABCDEF";
pub(crate) const NORTH: &str = "11111111111111111111111111111111";

/// How the project's screening instrument is.
#[derive(Clone, Copy)]
pub(crate) enum Instrument {
    Tagged,
    Absent,
    /// A target that is not a number.
    Broken,
}

/// A non-demo project: demographics, the screening snippet (with a study
/// target), and two data access groups, `north` and `south`.
fn project(instrument: Instrument) -> Project {
    let mut dictionary = String::from(
        "\"Variable / Field Name\",\"Form Name\",\"Section Header\",\"Field Type\",\"Field Label\",\"Choices, Calculations, OR Slider Labels\",\"Field Note\",\"Text Validation Type OR Show Slider Number\",\"Text Validation Min\",\"Text Validation Max\",Identifier?,\"Branching Logic (Show field only if...)\",\"Required Field?\",\"Custom Alignment\",\"Question Number (surveys only)\",\"Matrix Group Name\",\"Matrix Ranking?\",\"Field Annotation\"\n\
         record_id,demographics,,text,\"Record ID\",,,,,,,,,,,,,\n\
         dob,demographics,,text,\"Date of birth\",,,date_ymd,,,y,,,,,,,\n\
         shoe,demographics,,text,\"Shoe size\",,,shoe_size_eu,,,,,,,,,,\n",
    );
    let target = match instrument {
        Instrument::Tagged => Some("@SITEDESK-TARGET=60"),
        Instrument::Broken => Some("@SITEDESK-TARGET=many"),
        Instrument::Absent => None,
    };
    if let Some(target) = target {
        let rows = SCREENING_SNIPPET
            .split_once('\n')
            .expect("a header line")
            .1
            .replace("@SITEDESK-TARGET=40", target);
        dictionary.push_str(&rows);
    }
    let data =
        "record_id,redcap_data_access_group,dob\nN-1,north,1980-01-02\nS-1,south,1975-03-04\n";
    Project::from_csv(CsvFiles {
        dictionary: dictionary.as_bytes(),
        data: Some(data.as_bytes()),
        ..CsvFiles::default()
    })
    .expect("the project builds")
    .with_title("Heart Failure Registry")
}

pub(crate) async fn sim(instrument: Instrument) -> RunningSim {
    Simulator::start(SimConfig {
        tokens: vec![
            ApiUser::new(MANAGER, "manager", None),
            ApiUser::new(NORTH, "north_crc", Some("north")),
        ],
        ..SimConfig::new(project(instrument))
    })
    .await
    .expect("the simulator starts")
}

async fn demo_desk(dir: &std::path::Path) -> std::sync::Arc<Desk> {
    Desk::open(DeskOptions::new(dir, "crc"))
        .await
        .expect("the desk opens")
}

fn actor() -> Actor {
    Actor {
        account: "crc".into(),
        display_name: "CRC".into(),
        login: None,
    }
}

fn token(t: &str) -> Token {
    Token::parse(t).expect("a token")
}

/// Screens one subject, eligible by the desk's criteria in force.
async fn screen(desk: &Desk, label: &str) -> String {
    let setup = desk.store().readers().setup().await.unwrap().unwrap();
    let today = chrono::Local::now().date_naive().to_string();
    let eligibility: BTreeMap<String, Answer> = setup
        .criteria
        .iter()
        .map(|c| {
            let a = if c.kind == CriterionKind::Inclusion {
                Answer::Yes
            } else {
                Answer::No
            };
            (c.id.clone(), a)
        })
        .collect();
    desk.store()
        .writer()
        .screen_subject(
            actor(),
            ScreeningInput {
                screening_date: today.clone(),
                label: label.into(),
                consent_date: Some(today),
                consent_version: Some("v1.0".into()),
                eligibility,
            },
        )
        .await
        .expect("screened")
        .id
}

fn request(
    sim: &RunningSim,
    t: &str,
    site: Option<&str>,
    practice: Option<Practice>,
) -> BindRequest {
    BindRequest {
        url: sim.base_url(),
        token: token(t),
        site: site.map(str::to_owned),
        practice,
    }
}

#[tokio::test]
async fn probe_summarises_the_project_and_the_tokens_site() {
    let sim = sim(Instrument::Tagged).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = demo_desk(dir.path()).await;
    let north_id = sim.project().dag_id("north").unwrap();

    let s = desk
        .probe_project(&sim.base_url(), token(NORTH))
        .await
        .unwrap();
    assert_eq!(s.title, "Heart Failure Registry");
    assert!(sim.base_url().starts_with(&s.origin), "{}", s.origin);
    let names: Vec<&str> = s.sites.iter().map(|x| x.unique_name.as_str()).collect();
    assert_eq!(names, ["north", "south"]);
    assert_eq!(s.sites[0].id, north_id);
    assert_eq!(s.token_site.as_deref(), Some("north"));
    assert_eq!(s.forms, ["demographics", "screening_log"]);
    assert_eq!(s.unsupported_validation.len(), 1, "the shoe size");
    assert!(matches!(
        &s.screening,
        ScreeningStatus::Found { form, targets, .. }
            if form == "screening_log" && targets.study == Some(60)
    ));
    assert_eq!(s.practice_entries, 0);
    assert!(desk.is_demo(), "a probe writes nothing");

    let all = desk
        .probe_project(&sim.base_url(), token(MANAGER))
        .await
        .unwrap();
    assert_eq!(all.token_site, None, "the manager sees every site");
    desk.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_project_without_the_instrument_says_it_is_absent() {
    let sim = sim(Instrument::Absent).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = demo_desk(dir.path()).await;
    let s = desk
        .probe_project(&sim.base_url(), token(NORTH))
        .await
        .unwrap();
    assert!(
        matches!(&s.screening, ScreeningStatus::Absent { snippet } if snippet == SCREENING_SNIPPET),
        "{:?}",
        s.screening
    );
    desk.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn binding_sets_study_sites_and_the_desk_site_and_prefixes_subject_ids() {
    let sim = sim(Instrument::Tagged).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = demo_desk(dir.path()).await;
    let north = site_code(sim.project().dag_id("north").unwrap());

    // A bound token's site cannot be swapped for another.
    let err = desk
        .bind_project(actor(), request(&sim, NORTH, Some("south"), None))
        .await
        .unwrap_err();
    assert!(matches!(err, BindError::NotTokenSite { .. }), "{err}");

    let outcome = desk
        .bind_project(actor(), request(&sim, NORTH, None, None))
        .await
        .unwrap();
    assert_eq!((outcome.discarded, outcome.carried_over), (0, 0));
    assert!(!desk.is_demo());
    let setup = desk.store().readers().setup().await.unwrap().unwrap();
    assert!(setup.study.id.starts_with("redcap:http://127.0.0.1:"));
    assert_eq!(setup.study.title, "Heart Failure Registry");
    assert_eq!(setup.study.enrollment_target, 60);
    assert_eq!(setup.desk_site_id, "north");
    let ids: Vec<&str> = setup.sites.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"north") && ids.contains(&"south"));
    assert!(desk.prefs().setup_chosen);
    let target = desk.edc_target().expect("the EDC in use");
    assert_eq!(target.url, sim.api_url());

    let id = screen(&desk, "AB").await;
    assert!(id.starts_with(&format!("{north}-")), "{id}");
    desk.shutdown().await;

    // The binding stays: reopened, the desk is not a demo desk.
    let desk = demo_desk(dir.path()).await;
    assert!(!desk.is_demo());
    desk.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn leaving_the_demo_with_practice_entries_needs_a_choice() {
    let sim = sim(Instrument::Tagged).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = demo_desk(dir.path()).await;
    screen(&desk, "PR").await;
    screen(&desk, "PQ").await;

    let err = desk
        .bind_project(
            actor(),
            request(&sim, MANAGER, None, Some(Practice::Discard)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, BindError::SiteNeeded), "{err}");
    let err = desk
        .bind_project(actor(), request(&sim, MANAGER, Some("south"), None))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BindError::Store(StoreError::PracticeChoice { count: 2 })
        ),
        "{err}"
    );
    assert!(desk.is_demo(), "refused: nothing written");
    assert_eq!(desk.store().readers().record_count().await.unwrap(), 2);

    let s = desk
        .probe_project(&sim.base_url(), token(MANAGER))
        .await
        .unwrap();
    assert_eq!(s.practice_entries, 2);
    desk.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn discarding_practice_entries_leaves_their_audit() {
    let sim = sim(Instrument::Tagged).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = demo_desk(dir.path()).await;
    let a = screen(&desk, "PR").await;
    screen(&desk, "PQ").await;

    let outcome = desk
        .bind_project(
            actor(),
            request(&sim, MANAGER, Some("south"), Some(Practice::Discard)),
        )
        .await
        .unwrap();
    assert_eq!(outcome.discarded, 2);
    let readers = desk.store().readers();
    assert_eq!(readers.record_count().await.unwrap(), 0);
    assert_eq!(readers.outbox_rows().await.unwrap(), 0);
    let audit = readers.subject_audit(a.clone()).await.unwrap();
    assert!(audit.len() > 1, "the record's history stays");
    let last = audit.iter().find(|e| e.field == "practice_entry").unwrap();
    assert_eq!(last.new_value.as_deref(), Some("discarded"));
    let path = desk.store().path().to_owned();
    desk.shutdown().await;
    // The study's audit row says how many went (read as an auditor would,
    // from the file).
    let db =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let (old, new): (String, String) = db
        .query_row(
            "SELECT old_value, new_value FROM audit WHERE entity = 'study' AND field = 'practice_entries'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((old.as_str(), new.as_str()), ("2", "discarded"));
    let chain = sitedesk_core::store::verify_audit_file(&path, None).unwrap();
    assert!(
        chain.broken.is_none(),
        "the audit chain holds: {:?}",
        chain.broken
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn carried_over_practice_entries_stay_and_wait_in_the_outbox() {
    let sim = sim(Instrument::Tagged).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = demo_desk(dir.path()).await;
    let a = screen(&desk, "PR").await;

    let outcome = desk
        .bind_project(
            actor(),
            request(&sim, MANAGER, Some("south"), Some(Practice::CarryOver)),
        )
        .await
        .unwrap();
    assert_eq!(outcome.carried_over, 1);
    let readers = desk.store().readers();
    assert_eq!(readers.record_count().await.unwrap(), 1);
    assert!(readers.outbox_rows().await.unwrap() > 0, "still waiting");
    let subject = readers.subject(a).await.unwrap();
    assert_eq!(subject.site_id, "south", "moved to the desk's new site");
    assert_eq!(
        subject.screening.label, "PR",
        "its log in the project's instrument"
    );
    desk.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_broken_instrument_is_named_and_refused_without_writing() {
    let sim = sim(Instrument::Broken).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = demo_desk(dir.path()).await;
    let s = desk
        .probe_project(&sim.base_url(), token(NORTH))
        .await
        .unwrap();
    assert!(
        matches!(&s.screening, ScreeningStatus::Broken { message } if message.contains("many")),
        "{:?}",
        s.screening
    );
    let err = desk
        .bind_project(actor(), request(&sim, NORTH, None, None))
        .await
        .unwrap_err();
    assert!(matches!(err, BindError::Screening(_)), "{err}");
    assert!(desk.is_demo());
    let setup = desk.store().readers().setup().await.unwrap().unwrap();
    assert_eq!(setup.study.id, "DEMO-01", "nothing was written");
    desk.shutdown().await;
    sim.shutdown().await;
}

/// A site coordinator's usual token: bound to its group, without the Data
/// Access Groups right (REDCap refuses its `dag` export) or the Logging
/// right. The desk binds to the token's site, known by its group number,
/// and its subjects' ids carry the site's code as at any desk of the site.
#[tokio::test]
async fn a_token_without_the_groups_right_binds_to_its_own_site() {
    let sim = sim(Instrument::Tagged).await;
    assert!(sim.set_rights(NORTH, edc_sim::Rights::site_coordinator()));
    let dir = tempfile::tempdir().unwrap();
    let desk = demo_desk(dir.path()).await;
    let north_id = sim.project().dag_id("north").unwrap();
    let north = site_code(north_id);

    let s = desk
        .probe_project(&sim.base_url(), token(NORTH))
        .await
        .unwrap();
    assert_eq!(s.sites.len(), 1, "{:?}", s.sites);
    assert_eq!(s.sites[0].id, north_id);
    assert_eq!(s.sites[0].code, north);
    assert_eq!(
        s.token_site.as_deref(),
        Some(s.sites[0].unique_name.as_str())
    );

    desk.bind_project(actor(), request(&sim, NORTH, None, None))
        .await
        .unwrap();
    let setup = desk.store().readers().setup().await.unwrap().unwrap();
    assert_eq!(setup.sites.len(), 1);
    assert_eq!(setup.desk_site_id, setup.sites[0].id);
    let id = screen(&desk, "AB").await;
    assert!(id.starts_with(&format!("{north}-")), "{id}");
    desk.shutdown().await;
    sim.shutdown().await;
}
