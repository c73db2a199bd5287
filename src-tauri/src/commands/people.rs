//! The commands of the sign-in and lock screens and of the accounts: they
//! take the [`Gate`], which opens the desk at the first sign-in.

use serde_json::Value;
use sitedesk_core::desk::gate::{Gate, GateError, SessionView};
use sitedesk_core::desk::people::Refusal;
use sitedesk_core::store::DeskUser;
use sitedesk_core::store::signoff::{SignOff, SignOffRequest};

use super::{CmdResult, parse};
use crate::dto::{
    ChangePassword, FirstAdmin, RecoveryKeyView, SaveUser, SignIn, SignOffForm, Unlock,
};
use crate::error::{ErrorCode, IpcError};

fn gate_error(gate: &Gate, e: GateError) -> IpcError {
    let lang = gate.lang();
    let code = match &e {
        GateError::Refused(r) => return IpcError::refused(*r, lang),
        GateError::WrongPassword | GateError::Wait(_) | GateError::Disabled => {
            ErrorCode::WrongPassword
        }
        GateError::AlreadySetUp | GateError::Domain(_) => ErrorCode::Validation,
        GateError::Store(_) | GateError::Desk(_) | GateError::Vault(_) => ErrorCode::Storage,
    };
    if matches!(code, ErrorCode::Storage) {
        tracing::error!(error = %e, "the gate failed");
    }
    IpcError {
        code,
        message: e.msg().render(lang),
    }
}

/// Who is signed in, whether the desk is locked, and whether this is the
/// first start.
pub async fn session_status(gate: &Gate) -> CmdResult<SessionView> {
    Ok(gate.view())
}

/// The first start: the administrator's account, and the recovery key to
/// write down.
pub async fn create_administrator(gate: &Gate, payload: Value) -> CmdResult<RecoveryKeyView> {
    let p: FirstAdmin = parse(gate.lang(), payload)?;
    let recovery = gate
        .create_administrator(&p.login, &p.display_name, &p.password)
        .await
        .map_err(|e| gate_error(gate, e))?;
    Ok(RecoveryKeyView {
        recovery_key: recovery.formatted().to_string(),
    })
}

pub async fn sign_in(gate: &Gate, payload: Value) -> CmdResult<SessionView> {
    let p: SignIn = parse(gate.lang(), payload)?;
    gate.sign_in(&p.login, &p.password)
        .await
        .map_err(|e| gate_error(gate, e))?;
    Ok(gate.view())
}

pub async fn sign_out(gate: &Gate) -> CmdResult<SessionView> {
    gate.sign_out();
    Ok(gate.view())
}

pub async fn lock_desk(gate: &Gate) -> CmdResult<SessionView> {
    gate.lock()
        .map_err(|r: Refusal| IpcError::refused(r, gate.lang()))?;
    Ok(gate.view())
}

pub async fn unlock_desk(gate: &Gate, payload: Value) -> CmdResult<SessionView> {
    let p: Unlock = parse(gate.lang(), payload)?;
    gate.unlock(&p.password)
        .await
        .map_err(|e| gate_error(gate, e))?;
    Ok(gate.view())
}

pub async fn change_password(gate: &Gate, payload: Value) -> CmdResult<()> {
    let p: ChangePassword = parse(gate.lang(), payload)?;
    gate.change_password(&p.old_password, &p.new_password)
        .await
        .map_err(|e| gate_error(gate, e))
}

pub async fn list_users(gate: &Gate) -> CmdResult<Vec<DeskUser>> {
    gate.users().await.map_err(|e| gate_error(gate, e))
}

pub async fn save_user(gate: &Gate, payload: Value) -> CmdResult<DeskUser> {
    let p: SaveUser = parse(gate.lang(), payload)?;
    gate.save_user(p.change, p.password.as_deref())
        .await
        .map_err(|e| gate_error(gate, e))
}

/// A supervisor signs off a form (or a whole visit), their password asked
/// again; audited, and shown wherever the form is.
pub async fn sign_off(gate: &Gate, payload: Value) -> CmdResult<SignOff> {
    let lang = gate.lang();
    let p: SignOffForm = parse(lang, payload)?;
    super::check_id(lang, &p.subject_id)?;
    gate.confirm_password(&p.password)
        .await
        .map_err(|e| gate_error(gate, e))?;
    let desk = gate
        .desk()
        .ok_or_else(|| IpcError::refused(Refusal::SignedOut, lang))?;
    desk.store()
        .writer()
        .sign_off(
            desk.actor(),
            SignOffRequest {
                record_id: p.subject_id,
                event: p.event,
                instance: p.instance,
                form: p.form,
                meaning: p.meaning,
            },
        )
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}
