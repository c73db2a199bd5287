//! The gate on real files: the key file, the encrypted database, the
//! accounts and their audit rows.

use std::time::Duration;

use super::gate::{Gate, GateError};
use super::people::{Access, Refusal};
use super::{DB_FILE, DeskOptions};
use crate::domain::{DomainError, Role};
use crate::i18n::Lang;
use crate::store::UserChange;

const PASSWORD: &str = "correct horse battery";

fn gate(dir: &std::path::Path) -> Gate {
    Gate::new(DeskOptions::new(dir, "desk-pc"), None, Lang::EN)
}

async fn audit_logins(gate: &Gate) -> Vec<(String, Option<String>, String)> {
    let desk = gate.desk().unwrap();
    let conn = rusqlite::Connection::open_with_flags(
        desk.store().path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    crate::store::unlock_connection(&conn, desk.store().path(), gate.data_key().as_ref()).unwrap();
    let mut stmt = conn
        .prepare("SELECT user_account, user_login, entity || '.' || field FROM audit ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[tokio::test]
async fn the_first_start_creates_the_administrator_on_an_encrypted_desk() {
    let dir = tempfile::tempdir().unwrap();
    let g = gate(dir.path());
    assert!(g.view().first_start);
    assert_eq!(g.allows(Access::Role(Role::Crc)), Err(Refusal::SignedOut));
    let recovery = g
        .create_administrator("Ana", "Ana Lima", PASSWORD)
        .await
        .unwrap();
    assert!(!recovery.formatted().is_empty());
    let view = g.view();
    assert!(!view.first_start);
    let user = view.user.unwrap();
    assert_eq!((user.login.as_str(), user.role), ("ana", Role::Admin));
    assert!(g.allows(Access::Role(Role::Admin)).is_ok());
    // The database is encrypted under the key the password unwraps.
    let head = std::fs::read(dir.path().join(DB_FILE)).unwrap();
    assert!(!head.starts_with(b"SQLite format 3\0"));
    // A second first start is refused.
    assert!(matches!(
        g.create_administrator("eve", "Eve", PASSWORD).await,
        Err(GateError::AlreadySetUp)
    ));
    g.shutdown().await;
}

#[tokio::test]
async fn people_sign_in_with_their_own_password_and_each_audit_row_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let g = gate(dir.path());
    g.create_administrator("ana", "Ana Lima", PASSWORD)
        .await
        .unwrap();
    let mei = g
        .save_user(
            UserChange::Create {
                login: "mei".into(),
                display_name: "Mei Chen".into(),
                role: Role::Crc,
            },
            Some("mei's own password"),
        )
        .await
        .unwrap();
    assert_eq!(mei.role, Role::Crc);
    // A first password is required, and long enough.
    assert!(matches!(
        g.save_user(
            UserChange::Create {
                login: "sam".into(),
                display_name: "Sam".into(),
                role: Role::Supervisor,
            },
            Some("short"),
        )
        .await,
        Err(GateError::Domain(DomainError::PasswordTooShort { .. }))
    ));

    g.sign_out();
    assert_eq!(g.allows(Access::Role(Role::Crc)), Err(Refusal::SignedOut));
    // A wrong password is refused, and the next attempt for the login waits.
    assert!(matches!(
        g.sign_in("mei", "not her password").await,
        Err(GateError::WrongPassword)
    ));
    assert!(matches!(
        g.sign_in("mei", "mei's own password").await,
        Err(GateError::Wait(_))
    ));
    // Another login does not wait.
    g.sign_in("ana", PASSWORD).await.unwrap();
    g.sign_out();
    // The wait runs on the runtime's clock: paused and moved on here, not
    // slept through.
    tokio::time::pause();
    let session = loop {
        match g.sign_in("MEI", "mei's own password").await {
            Err(GateError::Wait(d)) => {
                assert!(d <= Duration::from_secs(1));
                tokio::time::advance(d).await;
            }
            other => break other.unwrap(),
        }
    };
    tokio::time::resume();
    assert_eq!(session.role, Role::Crc);
    // A CRC may not do what an administrator does.
    assert_eq!(
        g.allows(Access::Role(Role::Admin)),
        Err(Refusal::Forbidden {
            needed: Role::Admin
        })
    );
    let desk = g.desk().unwrap();
    desk.store()
        .writer()
        .set_preferences(desk.actor(), String::new(), Lang::EN)
        .await
        .unwrap();

    // Locked, nothing that needs a role runs; her password unlocks.
    g.lock().unwrap();
    assert_eq!(g.allows(Access::Role(Role::Crc)), Err(Refusal::Locked));
    assert!(matches!(
        g.unlock("wrong again, Mei").await,
        Err(GateError::WrongPassword)
    ));
    let attempts = desk
        .store()
        .readers()
        .user("mei".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        attempts.failed_sign_ins, 1,
        "one failure since her last sign-in"
    );

    let rows = audit_logins(&g).await;
    assert!(
        rows.contains(&("desk-pc".into(), Some("ana".into()), "user.role".into())),
        "{rows:?}"
    );
    assert!(
        rows.contains(&(
            "desk-pc".into(),
            Some("mei".into()),
            "settings.language".into()
        )) || rows.contains(&(
            "desk-pc".into(),
            Some("mei".into()),
            "settings.display_name".into()
        )),
        "{rows:?}"
    );
    g.shutdown().await;
}
