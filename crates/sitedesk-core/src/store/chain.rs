//! The audit trail's hash chain: every audit row stores the SHA-256 of its
//! own content together with the previous row's hash (`prev_hash`, all
//! zeros for the first row), and `meta.audit_head` names the last row and
//! its hash. Changing, deleting, inserting or reordering a row behind the
//! app's back, or cutting rows off the end, breaks the chain, and
//! [`verify`] reports the first row where it breaks.
//!
//! The chain proves that the file was not edited by someone without the
//! app's code; it is not a signature. Someone who can run SQL and hash can
//! rewrite the whole chain, and cutting rows off the end needs SQL alone
//! (copy the earlier row's hash into `meta.audit_head`); what stops both is
//! a copy of the head kept elsewhere (the EDC's own log, an export), not
//! this module.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use ts_rs::TS;

use super::{Result, StoreError};
use crate::vault::AuditMacKey;

/// A SHA-256 hash.
pub(super) type Hash = [u8; 32];

/// The `prev_hash` of the first row.
pub(super) const GENESIS: Hash = [0; 32];

/// Separates this encoding from any other use of SHA-256; a new encoding
/// gets a new tag.
const DOMAIN_TAG: &[u8] = b"sitedesk.audit.v1\0";

/// The content of an audit row that its hash covers: every column but the
/// hashes themselves.
pub(super) struct AuditContent<'a> {
    pub id: i64,
    pub at: &'a str,
    pub user_account: &'a str,
    pub user_name: &'a str,
    pub entity: &'a str,
    pub entity_id: &'a str,
    pub event: Option<&'a str>,
    pub instance: Option<i64>,
    pub field: &'a str,
    pub old_value: Option<&'a str>,
    pub new_value: Option<&'a str>,
    pub reason: Option<&'a str>,
    /// The person's login on the desk; rows written before sign-in, and the
    /// desk's own, have none and hash as they always did.
    pub user_login: Option<&'a str>,
}

/// The hash of a row: SHA-256 over a tag, the previous hash and every
/// column, each length-prefixed and marked present or absent, so that no
/// two different rows encode alike (moving text between columns, or an
/// empty text versus no value, changes the hash).
pub(super) fn hash(prev: &Hash, row: &AuditContent<'_>) -> Hash {
    fn text(h: &mut Sha256, v: Option<&str>) {
        match v {
            None => h.update([0]),
            Some(s) => {
                h.update([1]);
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
        }
    }
    let mut h = Sha256::new();
    h.update(DOMAIN_TAG);
    h.update(prev);
    h.update(row.id.to_be_bytes());
    for v in [
        row.at,
        row.user_account,
        row.user_name,
        row.entity,
        row.entity_id,
    ] {
        text(&mut h, Some(v));
    }
    text(&mut h, row.event);
    match row.instance {
        None => h.update([0]),
        Some(i) => {
            h.update([1]);
            h.update(i.to_be_bytes());
        }
    }
    text(&mut h, Some(row.field));
    text(&mut h, row.old_value);
    text(&mut h, row.new_value);
    text(&mut h, row.reason);
    // Appended only when present, after a marker: a row without a login
    // encodes exactly as before, and no row with one encodes like a row
    // without (its encoding is longer than any complete one without).
    if let Some(login) = row.user_login {
        h.update(b"login");
        text(&mut h, Some(login));
    }
    h.finalize().into()
}

/// The last row's id and hash: what the next row chains to.
pub(super) fn last(conn: &Connection) -> Result<(i64, Hash)> {
    let row: Option<(i64, Option<Vec<u8>>)> = conn
        .prepare_cached("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        None => Ok((0, GENESIS)),
        Some((id, Some(h))) => Ok((id, to_hash(&h).ok_or_else(|| corrupt(id))?)),
        Some((id, None)) => Err(corrupt(id)),
    }
}

fn corrupt(id: i64) -> StoreError {
    StoreError::Corrupt {
        what: "audit chain",
        value: format!("row {id} has no valid hash"),
    }
}

fn to_hash(bytes: &[u8]) -> Option<Hash> {
    bytes.try_into().ok()
}

/// Records the chain's last row in `meta`, so that rows cut off the end
/// are noticed too.
pub(super) fn set_head(tx: &Transaction<'_>, id: i64, hash: &Hash) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO meta(key, value) VALUES ('audit_head', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute([format!("{id}:{}", hex(hash))])?;
    Ok(())
}

/// Moves `meta.audit_head` to the chain's last row, and on an encrypted
/// desk its keyed MAC (`mac`); the writer calls it once per transaction,
/// just before COMMIT.
pub(super) fn update_head(tx: &Transaction<'_>, mac: Option<&AuditMacKey>) -> Result<()> {
    let (id, hash) = last(tx)?;
    if id > 0 {
        set_head(tx, id, &hash)?;
        if let Some(key) = mac {
            sign_head(tx, key, id, &hash)?;
        }
    }
    Ok(())
}

/// Separates the head's MAC from any other use of the key.
const HEAD_TAG: &[u8] = b"sitedesk.audit.head.v1\0";

/// HMAC-SHA256 of the head (last row id and hash) under the key derived
/// from the data key: rewriting the whole chain, which SHA-256 alone lets
/// anyone do, then needs that key too.
fn head_mac(key: &AuditMacKey, id: i64, hash: &Hash) -> [u8; 32] {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(HEAD_TAG);
    mac.update(&id.to_be_bytes());
    mac.update(hash);
    mac.finalize().into_bytes().into()
}

fn sign_head(tx: &Transaction<'_>, key: &AuditMacKey, id: i64, hash: &Hash) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO meta(key, value) VALUES ('audit_head_mac', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute([hex(&head_mac(key, id, hash))])?;
    Ok(())
}

/// At the first open with a key (a desk encrypted on this start, or one
/// set up before the head was keyed): signs the head if it has no MAC
/// yet. A head that has one is never signed again here: a chain rewritten
/// under a stale MAC stays detected.
pub(super) fn sign_head_if_unsigned(conn: &mut Connection, key: &AuditMacKey) -> Result<()> {
    let tx = conn.transaction()?;
    let signed: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'audit_head_mac')",
        [],
        |r| r.get(0),
    )?;
    let (id, hash) = last(&tx)?;
    if !signed && id > 0 {
        sign_head(&tx, key, id, &hash)?;
        tracing::info!("audit chain head signed with the desk's key");
    }
    tx.commit()?;
    Ok(())
}

/// Lower-case hexadecimal, as `sha256sum` prints.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Migration 2: chains the rows that version 1 wrote, in id order. The
/// append-only trigger is lifted for this one transaction only.
pub(super) fn chain_unhashed_rows(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch("DROP TRIGGER audit_no_update;")?;
    let mut prev = GENESIS;
    let mut last_id = 0;
    {
        let mut select = tx.prepare(&format!("{SELECT_ROWS_BEFORE_LOGINS} ORDER BY id"))?;
        let mut update = tx.prepare("UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE id = ?3")?;
        let mut rows = select.query([])?;
        while let Some(r) = rows.next()? {
            let row = StoredRow::read(r)?;
            let h = hash(&prev, &row.content());
            update.execute(params![prev.as_slice(), h.as_slice(), row.id])?;
            prev = h;
            last_id = row.id;
        }
    }
    if last_id > 0 {
        set_head(tx, last_id, &prev)?;
    }
    tx.execute_batch(
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
         BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;",
    )?;
    Ok(())
}

const SELECT_ROWS: &str = "SELECT id, at, user_account, user_name, entity, entity_id, event, instance, \
     field, old_value, new_value, reason, prev_hash, hash, user_login FROM audit";
/// The same, for migration 2, before `audit.user_login` existed.
const SELECT_ROWS_BEFORE_LOGINS: &str = "SELECT id, at, user_account, user_name, entity, entity_id, \
     event, instance, field, old_value, new_value, reason, prev_hash, hash, NULL FROM audit";

/// An audit row as stored, hashes included.
struct StoredRow {
    id: i64,
    at: String,
    user_account: String,
    user_name: String,
    entity: String,
    entity_id: String,
    event: Option<String>,
    instance: Option<i64>,
    field: String,
    old_value: Option<String>,
    new_value: Option<String>,
    reason: Option<String>,
    prev_hash: Option<Vec<u8>>,
    hash: Option<Vec<u8>>,
    user_login: Option<String>,
}

impl StoredRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRow> {
        Ok(StoredRow {
            id: r.get(0)?,
            at: r.get(1)?,
            user_account: r.get(2)?,
            user_name: r.get(3)?,
            entity: r.get(4)?,
            entity_id: r.get(5)?,
            event: r.get(6)?,
            instance: r.get(7)?,
            field: r.get(8)?,
            old_value: r.get(9)?,
            new_value: r.get(10)?,
            reason: r.get(11)?,
            prev_hash: r.get(12)?,
            hash: r.get(13)?,
            user_login: r.get(14)?,
        })
    }

    fn content(&self) -> AuditContent<'_> {
        AuditContent {
            id: self.id,
            at: &self.at,
            user_account: &self.user_account,
            user_name: &self.user_name,
            entity: &self.entity,
            entity_id: &self.entity_id,
            event: self.event.as_deref(),
            instance: self.instance,
            field: &self.field,
            old_value: self.old_value.as_deref(),
            new_value: self.new_value.as_deref(),
            reason: self.reason.as_deref(),
            user_login: self.user_login.as_deref(),
        }
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
pub struct AuditVerification {
    /// Rows checked, up to the first break.
    #[ts(type = "number")]
    pub rows_checked: u64,
    /// The hash of the last row, for IT staff to note down and compare later.
    pub head: Option<String>,
    /// The first place the chain breaks; `None` when the trail is intact.
    pub broken: Option<ChainBreak>,
    /// Form values compared with their last audited value (when the chain
    /// is intact).
    #[ts(type = "number")]
    pub values_checked: u64,
    /// The first form value that differs from its last audited value (or
    /// is missing, or is there with no audit row): changed behind the
    /// app's back. Names the cell, never its value.
    pub value_changed: Option<crate::domain::Cell>,
    /// The first audit row stamped earlier than the row before it: the
    /// desk's clock was set back (or the row was written elsewhere).
    #[ts(type = "number | null")]
    pub clock_back: Option<i64>,
    /// A stored dictionary version whose content no longer gives its hash.
    pub dictionary_changed: Option<String>,
}

/// Where and how the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ChainBreak {
    /// The audit row id at which the break shows.
    #[ts(type = "number")]
    pub audit_id: i64,
    pub problem: ChainProblem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ChainProblem {
    /// The row's content no longer matches its hash: it was edited.
    ContentChanged,
    /// The row does not follow the row before it: a row was removed,
    /// inserted or moved before this one.
    LinkBroken,
    /// The row has no hash, or one of the wrong size.
    NotHashed,
    /// The trail ends before the last row the app wrote: rows were removed
    /// from the end (`audit_id` is the last row the app recorded).
    EndMissing,
    /// On an encrypted desk, the head's keyed MAC does not match: the
    /// chain was rewritten by someone without the desk's key.
    HeadNotSigned,
}

impl ChainProblem {
    /// A plain-English sentence, for the command line.
    pub fn describe(self) -> &'static str {
        match self {
            ChainProblem::ContentChanged => "its content was changed after it was written",
            ChainProblem::LinkBroken => {
                "it does not follow the row before it: a row was removed, inserted or reordered"
            }
            ChainProblem::NotHashed => "it carries no valid hash",
            ChainProblem::EndMissing => "rows were removed from the end of the trail",
            ChainProblem::HeadNotSigned => {
                "the trail's last row is not signed with the desk's key: the chain was rewritten"
            }
        }
    }
}

/// Walks the chain from the first row and stops at the first break.
/// `keep_going` is asked every few thousand rows; when it says no, the walk
/// stops with [`StoreError::Cancelled`].
pub(super) fn verify(
    conn: &Connection,
    keep_going: &dyn Fn() -> bool,
    mac: Option<&AuditMacKey>,
) -> Result<AuditVerification> {
    // The caller holds one read transaction for the rows and the head:
    // with the app writing meanwhile, a head read later than the rows would
    // look like rows cut off the end.
    let snapshot = conn;
    let mut stmt = snapshot.prepare(&format!("{SELECT_ROWS} ORDER BY id"))?;
    let mut rows = stmt.query([])?;
    let mut prev = GENESIS;
    let mut last_id = 0;
    let mut checked = 0u64;
    let broken = |audit_id, problem, checked| AuditVerification {
        rows_checked: checked,
        head: None,
        broken: Some(ChainBreak { audit_id, problem }),
        ..AuditVerification::default()
    };
    while let Some(r) = rows.next()? {
        if checked % 4096 == 4095 && !keep_going() {
            return Err(StoreError::Cancelled);
        }
        let row = StoredRow::read(r)?;
        let (Some(stored_prev), Some(stored)) = (
            row.prev_hash.as_deref().and_then(to_hash),
            row.hash.as_deref().and_then(to_hash),
        ) else {
            return Ok(broken(row.id, ChainProblem::NotHashed, checked));
        };
        if stored_prev != prev {
            return Ok(broken(row.id, ChainProblem::LinkBroken, checked));
        }
        if hash(&prev, &row.content()) != stored {
            return Ok(broken(row.id, ChainProblem::ContentChanged, checked));
        }
        checked += 1;
        prev = stored;
        last_id = row.id;
    }
    drop(rows);
    drop(stmt);
    let recorded: Option<String> = snapshot
        .query_row("SELECT value FROM meta WHERE key = 'audit_head'", [], |r| {
            r.get(0)
        })
        .optional()?;
    let expected = (last_id > 0).then(|| format!("{last_id}:{}", hex(&prev)));
    if recorded != expected {
        let recorded_id = recorded
            .as_deref()
            .and_then(|v| v.split(':').next())
            .and_then(|id| id.parse().ok())
            .unwrap_or(last_id);
        return Ok(broken(recorded_id, ChainProblem::EndMissing, checked));
    }
    if let Some(key) = mac
        && last_id > 0
    {
        let signed: Option<String> = snapshot
            .query_row(
                "SELECT value FROM meta WHERE key = 'audit_head_mac'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if signed.as_deref() != Some(hex(&head_mac(key, last_id, &prev)).as_str()) {
            return Ok(broken(last_id, ChainProblem::HeadNotSigned, checked));
        }
    }
    Ok(AuditVerification {
        rows_checked: checked,
        head: (last_id > 0).then(|| hex(&prev)),
        broken: None,
        ..AuditVerification::default()
    })
}
