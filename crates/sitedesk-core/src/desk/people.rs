//! Who is at the desk: the person signed in, whether the desk is locked,
//! and what each command needs ([`Access`]). The shell checks a command's
//! access here before it runs, so a call the page was not meant to make
//! (a forged IPC call) is refused the same as one the UI hides.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use serde::Serialize;
use ts_rs::TS;

use crate::domain::Role;

/// The person signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Session {
    pub login: String,
    pub display_name: String,
    pub role: Role,
}

/// What a command needs of the person at the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not, locked or not: what the sign-in and lock
    /// screens need, and nothing that shows study data.
    Open,
    /// A person signed in, even with the desk locked: unlocking, signing
    /// out.
    SignedIn,
    /// A person of at least this role, signed in, the desk not locked.
    Role(Role),
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("nobody is signed in")]
    SignedOut,
    #[error("the desk is locked")]
    Locked,
    #[error("this needs the {needed:?} role")]
    Forbidden { needed: Role },
}

/// The person signed in, and whether the desk is locked.
#[derive(Debug, Clone, Default)]
pub struct SessionState {
    pub user: Option<Session>,
    pub locked: bool,
}

impl SessionState {
    /// Whether a command needing `access` may run now.
    pub fn allows(&self, access: Access) -> Result<(), Refusal> {
        match access {
            Access::Open => Ok(()),
            Access::SignedIn => self.user.as_ref().map(|_| ()).ok_or(Refusal::SignedOut),
            Access::Role(needed) => {
                let user = self.user.as_ref().ok_or(Refusal::SignedOut)?;
                if self.locked {
                    return Err(Refusal::Locked);
                }
                if !user.role.includes(needed) {
                    return Err(Refusal::Forbidden { needed });
                }
                Ok(())
            }
        }
    }
}

/// The wait after the first failed password; it doubles with each
/// failure after it, up to [`MAX_WAIT`].
pub const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait between attempts for one login.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// Slows down guessing: after a failed password for a login, the next
/// attempt for it is refused unchecked until a wait has passed (no
/// thread sleeps; the answer says how long to wait). Kept in memory: a
/// restart of the app is slower than any wait here, and every attempt is
/// also recorded in the database.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: HashMap<String, (u32, Instant)>,
}

impl Throttle {
    /// How long `login` must still wait at `now`; `None` when it may try.
    pub fn wait(&self, login: &str, now: Instant) -> Option<Duration> {
        let (count, last) = self.failures.get(login)?;
        let wait = FIRST_WAIT
            .saturating_mul(1 << (count - 1).min(16))
            .min(MAX_WAIT);
        let ready = *last + wait;
        (now < ready).then(|| ready - now)
    }

    pub fn failed(&mut self, login: &str, now: Instant) {
        let entry = self.failures.entry(login.to_owned()).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
    }

    pub fn succeeded(&mut self, login: &str) {
        self.failures.remove(login);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_in(role: Role, locked: bool) -> SessionState {
        SessionState {
            user: Some(Session {
                login: "mei".into(),
                display_name: "Mei Chen".into(),
                role,
            }),
            locked,
        }
    }

    #[test]
    fn access_needs_a_person_an_unlocked_desk_and_the_role() {
        let nobody = SessionState::default();
        assert_eq!(nobody.allows(Access::Open), Ok(()));
        assert_eq!(nobody.allows(Access::SignedIn), Err(Refusal::SignedOut));
        assert_eq!(
            nobody.allows(Access::Role(Role::Crc)),
            Err(Refusal::SignedOut)
        );
        let crc = signed_in(Role::Crc, false);
        assert_eq!(crc.allows(Access::Role(Role::Crc)), Ok(()));
        assert_eq!(
            crc.allows(Access::Role(Role::Admin)),
            Err(Refusal::Forbidden {
                needed: Role::Admin
            })
        );
        let locked = signed_in(Role::Admin, true);
        assert_eq!(locked.allows(Access::Role(Role::Crc)), Err(Refusal::Locked));
        assert_eq!(locked.allows(Access::SignedIn), Ok(()));
        assert_eq!(locked.allows(Access::Open), Ok(()));
    }

    #[test]
    fn each_failure_doubles_the_wait_up_to_a_cap_and_success_clears_it() {
        let t0 = Instant::now();
        let mut t = Throttle::default();
        assert_eq!(t.wait("mei", t0), None);
        t.failed("mei", t0);
        assert_eq!(t.wait("mei", t0), Some(FIRST_WAIT));
        assert_eq!(t.wait("mei", t0 + FIRST_WAIT), None);
        assert_eq!(t.wait("ana", t0), None, "per login");
        t.failed("mei", t0);
        assert_eq!(t.wait("mei", t0), Some(FIRST_WAIT * 2));
        for _ in 0..40 {
            t.failed("mei", t0);
        }
        assert_eq!(t.wait("mei", t0), Some(MAX_WAIT));
        t.succeeded("mei");
        assert_eq!(t.wait("mei", t0), None);
    }
}
