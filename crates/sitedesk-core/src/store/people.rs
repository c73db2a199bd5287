//! The SQL of the people at the desk: their accounts (`desk_user`: login,
//! name, role, disabled), every change to them audited (entity `user`),
//! and sign-in attempts (`sign_in_attempt`). Passwords are not here: a
//! person's password unwraps their slot of the data key (`crate::vault`),
//! which is what proves it.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::Result;
use super::record::{Now, Outbox, Target, record_at};
use crate::domain::{Actor, Change, DomainError, Role, check_login, check_person_name};

/// A person's account on the desk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DeskUser {
    pub login: String,
    pub display_name: String,
    pub role: Role,
    pub created_at: String,
    /// When an administrator disabled the account; it can no longer sign in.
    pub disabled_at: Option<String>,
    /// Failed sign-ins since the last one that succeeded.
    pub failed_sign_ins: u32,
    pub last_sign_in: Option<String>,
}

/// A change to the people at the desk.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UserChange {
    /// A new account.
    Create {
        login: String,
        display_name: String,
        role: Role,
    },
    /// Another name, role, or enabled state; `None` leaves it.
    Update {
        login: String,
        display_name: Option<String>,
        role: Option<Role>,
        disabled: Option<bool>,
    },
    /// The password was changed (its key slot re-wrapped): audited only.
    PasswordChanged { login: String },
}

const SELECT_USERS: &str = "
    SELECT u.login, u.display_name, u.role, u.created_at, u.disabled_at,
           (SELECT count(*) FROM sign_in_attempt a WHERE a.login = u.login AND a.ok = 0
              AND a.id > coalesce((SELECT max(b.id) FROM sign_in_attempt b
                                    WHERE b.login = u.login AND b.ok = 1), 0)),
           (SELECT max(b.at) FROM sign_in_attempt b WHERE b.login = u.login AND b.ok = 1)
    FROM desk_user u";

fn read_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeskUser> {
    let role: String = r.get(2)?;
    Ok(DeskUser {
        login: r.get(0)?,
        display_name: r.get(1)?,
        role: Role::parse(&role).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                format!("unknown role {role:?}").into(),
            )
        })?,
        created_at: r.get(3)?,
        disabled_at: r.get(4)?,
        failed_sign_ins: r.get(5)?,
        last_sign_in: r.get(6)?,
    })
}

/// Every account, by login.
pub(super) fn users(conn: &Connection) -> Result<Vec<DeskUser>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT_USERS} ORDER BY u.login"))?;
    let rows = stmt.query_map([], read_user)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One account.
pub(super) fn user(conn: &Connection, login: &str) -> Result<Option<DeskUser>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT_USERS} WHERE u.login = ?1"))?
        .query_row([login], read_user)
        .optional()?)
}

/// Applies a change to the people at the desk, audited; answers the
/// account as it now is. The desk always keeps an enabled administrator.
pub(super) fn save_user(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    change: &UserChange,
) -> Result<DeskUser> {
    let login = match change {
        UserChange::Create {
            login,
            display_name,
            role,
        } => {
            let login = check_login(login)?;
            let name = check_person_name(display_name)?;
            if user(tx, &login)?.is_some() {
                return Err(DomainError::LoginTaken { login }.into());
            }
            tx.execute(
                "INSERT INTO desk_user(login, display_name, role, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![login, name, role.as_str(), now.at],
            )?;
            audit(
                tx,
                now,
                actor,
                &login,
                vec![
                    change_of("display_name", None, Some(name)),
                    change_of("role", None, Some(role.as_str().to_owned())),
                ],
            )?;
            login
        }
        UserChange::Update {
            login,
            display_name,
            role,
            disabled,
        } => {
            let login = check_login(login)?;
            let Some(old) = user(tx, &login)? else {
                return Err(super::StoreError::NotFound {
                    entity: "user",
                    id: login,
                });
            };
            let mut changes = Vec::new();
            if let Some(name) = display_name {
                let name = check_person_name(name)?;
                if name != old.display_name {
                    tx.execute(
                        "UPDATE desk_user SET display_name = ?2 WHERE login = ?1",
                        params![login, name],
                    )?;
                    changes.push(change_of(
                        "display_name",
                        Some(old.display_name.clone()),
                        Some(name),
                    ));
                }
            }
            if let Some(role) = role
                && *role != old.role
            {
                tx.execute(
                    "UPDATE desk_user SET role = ?2 WHERE login = ?1",
                    params![login, role.as_str()],
                )?;
                changes.push(change_of(
                    "role",
                    Some(old.role.as_str().to_owned()),
                    Some(role.as_str().to_owned()),
                ));
            }
            if let Some(disabled) = disabled
                && *disabled != old.disabled_at.is_some()
            {
                tx.execute(
                    "UPDATE desk_user SET disabled_at = ?2 WHERE login = ?1",
                    params![login, disabled.then_some(&now.at)],
                )?;
                changes.push(change_of(
                    "disabled",
                    Some(old.disabled_at.is_some().to_string()),
                    Some(disabled.to_string()),
                ));
            }
            let admins: u32 = tx.query_row(
                "SELECT count(*) FROM desk_user WHERE role = 'admin' AND disabled_at IS NULL",
                [],
                |r| r.get(0),
            )?;
            if admins == 0 {
                return Err(DomainError::LastAdmin.into());
            }
            audit(tx, now, actor, &login, changes)?;
            login
        }
        UserChange::PasswordChanged { login } => {
            let login = check_login(login)?;
            if user(tx, &login)?.is_none() {
                return Err(super::StoreError::NotFound {
                    entity: "user",
                    id: login,
                });
            }
            // The audit row says that it changed, never what to.
            audit(
                tx,
                now,
                actor,
                &login,
                vec![change_of("password", None, None)],
            )?;
            login
        }
    };
    user(tx, &login)?.ok_or_else(|| super::StoreError::NotFound {
        entity: "user",
        id: login,
    })
}

fn change_of(field: &str, old: Option<String>, new: Option<String>) -> Change {
    Change {
        field: field.into(),
        old,
        new,
    }
}

fn audit(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    login: &str,
    changes: Vec<Change>,
) -> Result<()> {
    record_at(
        tx,
        now,
        actor,
        Target::subject("user", login),
        &changes,
        None,
        Outbox::No,
    )
}

/// Records a sign-in attempt, successful or not, with the computer's
/// account it came from.
pub(super) fn record_sign_in(
    tx: &Transaction<'_>,
    now: &Now,
    login: &str,
    ok: bool,
    os_account: &str,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO sign_in_attempt(login, at, ok, os_account) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![login, now.at, ok, os_account])?;
    Ok(())
}
