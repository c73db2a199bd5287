//! The way into the desk: the key file (`crate::vault`), the first start
//! that creates the administrator, sign-in, lock and unlock, switching
//! people, and the accounts an administrator keeps. The database is
//! encrypted under a data key that only a person's password (or the
//! recovery key) unwraps, so the [`Desk`] opens at the first sign-in after
//! the app starts, and stays open (sync and the writer keep running) while
//! people sign out, lock and switch.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use serde::Serialize;
use tokio::sync::Mutex as AsyncMutex;
use ts_rs::TS;

use super::people::{Access, Refusal, Session, SessionState, Throttle};
use super::{Desk, DeskError, DeskOptions};
use crate::domain::{Actor, DomainError, Role, check_login, check_new_password, check_person_name};
use crate::i18n::{Lang, Message};
use crate::store::{DeskUser, StoreError, UserChange};
use crate::vault::{DataKey, RecoveryKey, Vault, VaultError};

/// What the sign-in and lock screens need to know, and nothing of the
/// study's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SessionView {
    /// No key file yet: the first start creates the administrator.
    pub first_start: bool,
    pub user: Option<Session>,
    pub locked: bool,
    /// Seconds without input before the desk locks itself.
    pub lock_after_seconds: u32,
    /// The language of the desk (the system's until the desk has opened).
    pub language: Lang,
}

/// Why a person could not get in, or could not change an account.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("wrong login or password")]
    WrongPassword,
    /// Attempts for this login wait this long after failures.
    #[error("too many failed attempts: wait {0:?}")]
    Wait(Duration),
    #[error("the account is disabled")]
    Disabled,
    /// The first start is over: an administrator exists.
    #[error("the desk already has its administrator")]
    AlreadySetUp,
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Desk(#[from] DeskError),
    #[error("the key file: {0}")]
    Vault(VaultError),
}

impl From<VaultError> for GateError {
    fn from(e: VaultError) -> GateError {
        match e {
            VaultError::WrongPassword => GateError::WrongPassword,
            other => GateError::Vault(other),
        }
    }
}

impl GateError {
    /// The message shown to the person, in their language.
    pub fn msg(&self) -> Message {
        match self {
            GateError::Refused(Refusal::SignedOut) => Message::new("shell.signedOut"),
            GateError::Refused(Refusal::Locked) => Message::new("shell.locked"),
            GateError::Refused(Refusal::Forbidden { .. }) => Message::new("shell.forbidden"),
            GateError::WrongPassword => Message::new("people.wrongPassword"),
            GateError::Wait(d) => {
                Message::new("people.wait").with("seconds", d.as_secs().max(1).to_string())
            }
            GateError::Disabled => Message::new("people.disabled"),
            GateError::AlreadySetUp => Message::new("people.alreadySetUp"),
            GateError::Domain(e) => e.msg(),
            GateError::Store(_) | GateError::Desk(_) | GateError::Vault(_) => {
                Message::new("people.storeFailed").with("detail", self.to_string())
            }
        }
    }
}

/// The default wait without input before the desk locks itself.
pub const DEFAULT_LOCK_AFTER: Duration = Duration::from_secs(5 * 60);

/// The way into one data folder's desk.
pub struct Gate {
    options: Mutex<Option<DeskOptions>>,
    data_dir: PathBuf,
    desk: RwLock<Option<Arc<Desk>>>,
    /// Held while the desk opens, so two sign-ins do not open it twice.
    opening: AsyncMutex<()>,
    session: Arc<RwLock<SessionState>>,
    throttle: Mutex<Throttle>,
    /// The data key, once a password unwrapped it: what wraps it for a new
    /// person or a reset password.
    key: Mutex<Option<DataKey>>,
    lock_after: Duration,
    system_lang: Lang,
    /// Called once with the desk when it opens (the shell's listener for a
    /// second start).
    on_open: Mutex<Option<OnOpen>>,
}

/// What runs when the desk opens.
pub type OnOpen = Box<dyn FnOnce(&Desk) + Send>;

impl Gate {
    /// The gate of the desk `options` describe; nothing opens yet.
    /// `lock_after` overrides the desk's setting (the tests' short lock).
    pub fn new(options: DeskOptions, lock_after: Option<Duration>, system_lang: Lang) -> Gate {
        Gate {
            data_dir: options.data_dir.clone(),
            options: Mutex::new(Some(options)),
            desk: RwLock::new(None),
            opening: AsyncMutex::new(()),
            session: Arc::new(RwLock::new(SessionState::default())),
            throttle: Mutex::new(Throttle::default()),
            key: Mutex::new(None),
            lock_after: lock_after.unwrap_or(DEFAULT_LOCK_AFTER),
            system_lang,
            on_open: Mutex::new(None),
        }
    }

    /// Runs `f` with the desk once it opens (at the first sign-in).
    pub fn on_open(&self, f: OnOpen) {
        *self.on_open.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
    }

    /// The data key, once a password has unwrapped it.
    #[cfg(test)]
    pub(crate) fn data_key(&self) -> Option<DataKey> {
        self.key.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The open desk, if a person has signed in since the app started.
    pub fn desk(&self) -> Option<Arc<Desk>> {
        self.desk.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The open desk, when `access` allows the call now.
    pub fn desk_for(&self, access: Access) -> Result<Arc<Desk>, Refusal> {
        self.allows(access)?;
        self.desk().ok_or(Refusal::SignedOut)
    }

    /// Whether a command needing `access` may run now.
    pub fn allows(&self, access: Access) -> Result<(), Refusal> {
        self.session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .allows(access)
    }

    /// The language messages are written in.
    pub fn lang(&self) -> Lang {
        self.desk().map_or(self.system_lang, |d| d.lang())
    }

    pub fn view(&self) -> SessionView {
        let state = self
            .session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        SessionView {
            first_start: !Vault::exists(&self.data_dir),
            user: state.user,
            locked: state.locked,
            lock_after_seconds: u32::try_from(self.lock_after.as_secs()).unwrap_or(u32::MAX),
            language: self.lang(),
        }
    }

    /// The first start: creates the key file with the administrator's
    /// slot and a recovery key (answered once, to be written down), opens
    /// the desk (encrypting a database an earlier version left plain) and
    /// signs the administrator in.
    pub async fn create_administrator(
        &self,
        login: &str,
        display_name: &str,
        password: &str,
    ) -> Result<RecoveryKey, GateError> {
        let _opening = self.opening.lock().await;
        if Vault::exists(&self.data_dir) {
            return Err(GateError::AlreadySetUp);
        }
        let login = check_login(login)?;
        let display_name = check_person_name(display_name)?;
        check_new_password(password)?;
        let (vault, key, recovery) = {
            let (dir, login, password) =
                (self.data_dir.clone(), login.clone(), password.to_owned());
            blocking(move || Vault::create(&dir, &login, &password)).await?
        };
        // The key file first: a database encrypted under a key no file
        // holds would be lost.
        vault.save()?;
        let desk = self.open_desk(&key).await?;
        let user = desk
            .store()
            .writer()
            .save_user(
                desk_actor(&desk),
                UserChange::Create {
                    login: login.clone(),
                    display_name,
                    role: Role::Admin,
                },
            )
            .await?;
        *self.key.lock().unwrap_or_else(|e| e.into_inner()) = Some(key);
        self.begin(&desk, &user).await;
        Ok(recovery)
    }

    /// Signs a person in with their password; a wrong one is recorded and
    /// makes the next attempt for that login wait.
    pub async fn sign_in(&self, login: &str, password: &str) -> Result<Session, GateError> {
        let login = check_login(login).map_err(|_| GateError::WrongPassword)?;
        let key = self.check_password(&login, password).await?;
        let desk = {
            let _opening = self.opening.lock().await;
            match self.desk() {
                Some(d) => d,
                None => self.open_desk(&key).await?,
            }
        };
        let user = desk.store().readers().user(login.clone()).await?;
        let user = match user {
            Some(u) if u.disabled_at.is_some() => return Err(GateError::Disabled),
            Some(u) => u,
            // A first start stopped between the key file and the account.
            None if desk.store().readers().users().await?.is_empty() => {
                desk.store()
                    .writer()
                    .save_user(
                        desk_actor(&desk),
                        UserChange::Create {
                            login: login.clone(),
                            display_name: login.clone(),
                            role: Role::Admin,
                        },
                    )
                    .await?
            }
            None => return Err(GateError::Disabled),
        };
        *self.key.lock().unwrap_or_else(|e| e.into_inner()) = Some(key);
        self.begin(&desk, &user).await;
        Ok(self.view().user.expect("signed in"))
    }

    /// Ends the session; the desk stays open for the next person.
    pub fn sign_out(&self) {
        *self.session.write().unwrap_or_else(|e| e.into_inner()) = SessionState::default();
    }

    /// Locks the desk: nothing but unlocking, signing out and the lock
    /// screen's own calls run until the person's password is given again.
    pub fn lock(&self) -> Result<(), Refusal> {
        let mut state = self.session.write().unwrap_or_else(|e| e.into_inner());
        if state.user.is_none() {
            return Err(Refusal::SignedOut);
        }
        state.locked = true;
        Ok(())
    }

    /// Unlocks with the signed-in person's password.
    pub async fn unlock(&self, password: &str) -> Result<(), GateError> {
        let login = self.signed_in()?.login;
        self.check_password(&login, password).await?;
        self.session
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .locked = false;
        Ok(())
    }

    /// Asks the signed-in person's password again (a sign-off, a change of
    /// their own password).
    pub async fn confirm_password(&self, password: &str) -> Result<Session, GateError> {
        let user = self.signed_in()?;
        self.check_password(&user.login, password).await?;
        Ok(user)
    }

    /// Every account (administrators only, checked by the caller's access).
    pub async fn users(&self) -> Result<Vec<DeskUser>, GateError> {
        Ok(self.open()?.store().readers().users().await?)
    }

    /// Creates an account with a first password, or changes one; a
    /// password given with a change replaces the person's password (a
    /// reset), and disabling an account removes its slot of the key.
    pub async fn save_user(
        &self,
        change: UserChange,
        password: Option<&str>,
    ) -> Result<DeskUser, GateError> {
        let desk = self.open()?;
        let actor = desk.actor();
        let login = match &change {
            UserChange::Create { login, .. }
            | UserChange::Update { login, .. }
            | UserChange::PasswordChanged { login } => check_login(login)?,
        };
        if let Some(p) = password {
            check_new_password(p)?;
        }
        let creating = matches!(change, UserChange::Create { .. });
        if creating && password.is_none() {
            return Err(DomainError::Required {
                field: crate::domain::Field::Password,
            }
            .into());
        }
        let disabling = matches!(
            change,
            UserChange::Update {
                disabled: Some(true),
                ..
            }
        );
        // The account first (its rules: a free login, an administrator
        // kept), then its key slot.
        let user = desk
            .store()
            .writer()
            .save_user(actor.clone(), change)
            .await?;
        if disabling {
            self.edit_vault(move |v, _| v.remove_user(&login)).await?;
        } else if let Some(p) = password {
            let p = p.to_owned();
            let l = login.clone();
            self.edit_vault(move |v, key| {
                if v.has_user(&l) {
                    v.set_password(key, &l, &p)
                } else {
                    v.add_user(key, &l, &p)
                }
            })
            .await?;
            if !creating {
                desk.store()
                    .writer()
                    .save_user(actor, UserChange::PasswordChanged { login })
                    .await?;
            }
        }
        Ok(user)
    }

    /// The signed-in person changes their own password.
    pub async fn change_password(&self, old: &str, new: &str) -> Result<(), GateError> {
        let user = self.signed_in()?;
        check_new_password(new)?;
        self.check_password(&user.login, old).await?;
        let (l, new) = (user.login.clone(), new.to_owned());
        self.edit_vault(move |v, key| v.set_password(key, &l, &new))
            .await?;
        let desk = self.open()?;
        desk.store()
            .writer()
            .save_user(
                desk.actor(),
                UserChange::PasswordChanged { login: user.login },
            )
            .await?;
        Ok(())
    }

    /// Closes the desk (the app is exiting).
    pub async fn shutdown(&self) {
        let desk = self.desk.write().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(desk) = desk {
            desk.shutdown().await;
        }
    }

    fn open(&self) -> Result<Arc<Desk>, GateError> {
        self.desk().ok_or(GateError::Refused(Refusal::SignedOut))
    }

    fn signed_in(&self) -> Result<Session, GateError> {
        self.session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .user
            .clone()
            .ok_or(GateError::Refused(Refusal::SignedOut))
    }

    /// Unwraps `login`'s slot with `password` (Argon2id, off the async
    /// threads), throttled per login; records the attempt.
    async fn check_password(&self, login: &str, password: &str) -> Result<DataKey, GateError> {
        let now = Instant::now();
        if let Some(wait) = self
            .throttle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .wait(login, now)
        {
            return Err(GateError::Wait(wait));
        }
        let dir = self.data_dir.clone();
        let (l, p) = (login.to_owned(), password.to_owned());
        let result = blocking(move || Vault::load(&dir)?.unlock(&l, &p)).await;
        let ok = result.is_ok();
        {
            let mut throttle = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
            if ok {
                throttle.succeeded(login);
            } else {
                throttle.failed(login, Instant::now());
            }
        }
        if let Some(desk) = self.desk()
            && let Err(e) = desk
                .store()
                .writer()
                .record_sign_in(login.to_owned(), ok, desk.account().to_owned())
                .await
        {
            tracing::warn!(error = %e, "a sign-in attempt was not recorded");
        }
        result
    }

    /// Opens the desk under `key` (`Desk::open` encrypts a database an
    /// earlier version left plain).
    async fn open_desk(&self, key: &DataKey) -> Result<Arc<Desk>, GateError> {
        let Some(mut options) = self
            .options
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return self.open();
        };
        options.key = Some(key.clone());
        options.session = Some(self.session.clone());
        let desk = Desk::open(options).await?;
        *self.desk.write().unwrap_or_else(|e| e.into_inner()) = Some(desk.clone());
        if let Some(f) = self
            .on_open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            f(&desk);
        }
        Ok(desk)
    }

    async fn begin(&self, desk: &Desk, user: &DeskUser) {
        let _ = desk;
        *self.session.write().unwrap_or_else(|e| e.into_inner()) = SessionState {
            user: Some(Session {
                login: user.login.clone(),
                display_name: user.display_name.clone(),
                role: user.role,
            }),
            locked: false,
        };
    }

    /// Loads the key file, changes it with the data key at hand, saves it.
    async fn edit_vault(
        &self,
        edit: impl FnOnce(&mut Vault, &DataKey) -> Result<(), VaultError> + Send + 'static,
    ) -> Result<(), GateError> {
        let key = self
            .key
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(GateError::Refused(Refusal::SignedOut))?;
        let dir = self.data_dir.clone();
        blocking(move || {
            let mut vault = Vault::load(&dir)?;
            edit(&mut vault, &key)?;
            vault.save()
        })
        .await?;
        Ok(())
    }
}

/// The desk's own actor for what the gate writes before anyone is signed
/// in (the administrator's account at the first start).
fn desk_actor(desk: &Desk) -> Actor {
    Actor {
        account: desk.account().to_owned(),
        display_name: String::new(),
        login: None,
    }
}

/// Runs CPU-heavy work (Argon2id, encryption) off the async threads.
async fn blocking<T: Send + 'static, E: Into<GateError> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, GateError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(Into::into),
        Err(e) => Err(GateError::Desk(DeskError::Task(e.to_string()))),
    }
}
