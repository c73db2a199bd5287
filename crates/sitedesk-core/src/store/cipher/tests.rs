use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::Connection;
use rusqlite::types::Value;

use super::super::tests::{actor, edit, eligible_input};
use super::super::*;
use super::*;
use crate::domain::demo_study;

/// A canary token: it must never appear in an encrypted file's bytes.
const TOKEN: &str = "CANARY0123456789ABCDEF0123456789";

fn keyed(key: &DataKey) -> StoreOptions {
    StoreOptions {
        desk_code: DeskCode::parse("K7Q"),
        key: Some(key.clone()),
        ..StoreOptions::default()
    }
}

/// A desk's database as the current code makes it: the demo study and its
/// forms, screened subjects (with initials), form values saved and one
/// changed with a reason, an EDC token, the audit chain over all of it.
async fn fill(store: &Store) {
    let w = store.writer();
    let (study, sites) = demo_study();
    w.configure_study(actor(), study, sites, "s01".into())
        .await
        .unwrap();
    let (dictionary, design) = crate::forms::demo_forms();
    w.import_dictionary(actor(), dictionary, Some(design), "demo".into())
        .await
        .unwrap();
    for initials in ["QX", "ZW", "JV"] {
        w.screen_subject(actor(), eligible_input(initials))
            .await
            .unwrap();
    }
    for i in 0..20 {
        w.set_values(
            Lane::Interactive,
            actor(),
            edit(&format!("r{i}"), "weight", "70"),
        )
        .await
        .unwrap();
    }
    let mut change = edit("r3", "weight", "71");
    change.reason = Some("Transcription error".into());
    w.set_values(Lane::Interactive, actor(), change)
        .await
        .unwrap();
    w.set_edc_connection(
        actor(),
        Some(("https://redcap.example.org/api/".into(), TOKEN.into())),
    )
    .await
    .unwrap();
}

/// Every table's rows, each row's values in order, rows sorted: what must
/// survive encryption unchanged.
fn dump(conn: &Connection) -> BTreeMap<String, Vec<String>> {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    tables
        .into_iter()
        .map(|t| {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
            let columns = stmt.column_count();
            let mut rows: Vec<String> = stmt
                .query_map([], |r| {
                    let values: Vec<Value> = (0..columns)
                        .map(|i| r.get(i))
                        .collect::<rusqlite::Result<_>>()?;
                    Ok(format!("{values:?}"))
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            rows.sort();
            (t, rows)
        })
        .collect()
}

fn user_version(conn: &Connection) -> u32 {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

/// Whether `needle` occurs anywhere in the file's bytes.
fn contains(path: &Path, needle: &str) -> bool {
    let bytes = std::fs::read(path).unwrap();
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_keyed_database_is_not_sqlite_on_disk_and_a_plain_connection_reads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("desk.sqlite3");
    let key = DataKey::generate().unwrap();
    let store = Store::open(&path, keyed(&key), &TaskRegistry::new()).unwrap();
    fill(&store).await;
    // The readers open keyed connections too.
    let subjects = store.readers().subjects(SubjectFilter::default()).await;
    assert_eq!(subjects.unwrap().len(), 3);
    // While the app runs, the write-ahead log holds the latest pages:
    // encrypted too.
    let wal = beside(&path, "-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    assert!(!contains(&wal, TOKEN));
    store.close().await;

    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.starts_with(b"SQLite format 3"));
    assert!(is_encrypted(&path).unwrap());
    for canary in [TOKEN, "Transcription error", "S01-K7Q-0001", "demo"] {
        assert!(!contains(&path, canary), "{canary} is in the file");
    }
    let plain = Connection::open(&path).unwrap();
    let read = plain.query_row("SELECT count(*) FROM subject", [], |r| r.get::<_, i64>(0));
    assert_eq!(
        read.unwrap_err().sqlite_error_code(),
        Some(ErrorCode::NotADatabase)
    );
    assert!(
        plain
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r
                .get::<_, i64>(0))
            .is_err()
    );
}

#[tokio::test]
async fn a_wrong_or_missing_key_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("desk.sqlite3");
    let key = DataKey::generate().unwrap();
    let store = Store::open(&path, keyed(&key), &TaskRegistry::new()).unwrap();
    fill(&store).await;
    store.close().await;

    let other = DataKey::generate().unwrap();
    let wrong = Store::open(&path, keyed(&other), &TaskRegistry::new()).err();
    assert!(
        matches!(wrong, Some(StoreError::WrongKey { .. })),
        "{wrong:?}"
    );
    let none = Store::open(&path, StoreOptions::default(), &TaskRegistry::new()).err();
    assert!(matches!(none, Some(StoreError::Locked { .. })), "{none:?}");
    assert!(
        none.unwrap()
            .to_string()
            .contains("is encrypted: it opens only with its key")
    );
    assert!(matches!(
        verify_audit_file(&path, None),
        Err(StoreError::Locked { .. })
    ));
    assert!(matches!(
        verify_audit_file(&path, Some(&other)),
        Err(StoreError::WrongKey { .. })
    ));
    assert_eq!(verify_audit_file(&path, Some(&key)).unwrap().broken, None);

    // A key for a plain file: it must be encrypted first.
    let plain = dir.path().join("plain.sqlite3");
    Store::open(&plain, StoreOptions::default(), &TaskRegistry::new())
        .unwrap()
        .close()
        .await;
    let r = Store::open(&plain, keyed(&key), &TaskRegistry::new()).err();
    assert!(matches!(r, Some(StoreError::NotEncrypted { .. })), "{r:?}");
}

#[tokio::test]
async fn every_connection_deletes_securely_and_a_keyed_one_uses_sqlcipher_4() {
    let dir = tempfile::tempdir().unwrap();
    let key = DataKey::generate().unwrap();
    for (name, key) in [("plain.sqlite3", None), ("keyed.sqlite3", Some(&key))] {
        let w = super::super::open_writable(&dir.path().join(name), key).unwrap();
        let secure: i64 = w
            .pragma_query_value(None, "secure_delete", |r| r.get(0))
            .unwrap();
        assert_eq!(secure, 1, "{name}");
        if key.is_some() {
            let page_size: String = w
                .pragma_query_value(None, "cipher_page_size", |r| r.get(0))
                .unwrap();
            assert_eq!(page_size, "4096");
        }
    }
}

#[tokio::test]
async fn encrypting_a_plain_database_keeps_every_row_and_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("desk.sqlite3");
    let store = Store::open(&path, StoreOptions::default(), &TaskRegistry::new()).unwrap();
    fill(&store).await;
    store.close().await;
    assert!(!is_encrypted(&path).unwrap());
    let plain = verify_audit_file(&path, None).unwrap();
    assert_eq!(plain.broken, None);
    let (before, version) = {
        let c = Connection::open(&path).unwrap();
        (dump(&c), user_version(&c))
    };
    assert!(before["audit"].len() > 20, "an audit chain to keep");
    assert_eq!(before["subject"].len(), 3);

    // A copy left by an interrupted attempt is replaced.
    std::fs::write(beside(&path, ".encrypting"), b"half a file").unwrap();
    let key = DataKey::generate().unwrap();
    let copied = encrypt_plain(&path, &key).unwrap();
    assert_eq!(
        copied.rows,
        before.values().map(|rows| rows.len() as u64).sum::<u64>()
    );
    assert_eq!(copied.tables, before.len());

    assert!(is_encrypted(&path).unwrap());
    assert!(!contains(&path, TOKEN));
    let mut left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    // The folder's lock file is verify's (above), not the encryption's.
    left.retain(|f| f != "sitedesk.lock");
    assert_eq!(left, ["desk.sqlite3"], "no log, no copy left beside it");

    let c = Connection::open(&path).unwrap();
    unlock_connection(&c, &path, Some(&key)).unwrap();
    // Every row of every table, and the head's keyed MAC beside them.
    let mut after = dump(&c);
    let meta = after.get_mut("meta").unwrap();
    let signed = meta.len();
    meta.retain(|row| !row.contains("audit_head_mac"));
    assert_eq!(signed, meta.len() + 1, "the head is signed");
    assert_eq!(after, before, "every row of every table");
    assert_eq!(user_version(&c), version);
    drop(c);
    let chain = verify_audit_file(&path, Some(&key)).unwrap();
    assert_eq!(chain.broken, None);
    assert_eq!(chain.rows_checked, plain.rows_checked);
    assert_eq!(chain.head, plain.head);

    // The app goes on from there: the next edit chains onto the old head.
    let store = Store::open(&path, keyed(&key), &TaskRegistry::new()).unwrap();
    store
        .writer()
        .set_values(Lane::Interactive, actor(), edit("r99", "weight", "80"))
        .await
        .unwrap();
    store.close().await;
    let after = verify_audit_file(&path, Some(&key)).unwrap();
    assert_eq!(after.broken, None);
    assert_eq!(after.rows_checked, plain.rows_checked + 1);

    // Encrypting it again is refused: it is no longer plain.
    assert!(matches!(
        encrypt_plain(&path, &key),
        Err(StoreError::Locked { .. })
    ));
}

#[test]
fn a_missing_or_short_file_is_not_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.sqlite3");
    assert!(!is_encrypted(&path).unwrap());
    std::fs::write(&path, b"").unwrap();
    assert!(!is_encrypted(&path).unwrap());
    std::fs::write(&path, b"0123456789").unwrap();
    assert!(!is_encrypted(&path).unwrap());
    std::fs::write(&path, [7u8; 4096]).unwrap();
    assert!(is_encrypted(&path).unwrap());
}
