//! The one error shape the UI receives: `{code, message}`, with `code` from
//! a closed set the UI knows as a TypeScript union and `message` in the
//! user's language, ready to show.

use serde::Serialize;
use sitedesk_core::domain::DomainError;
use sitedesk_core::edc::EdcError;
use sitedesk_core::forms::FormError;
use sitedesk_core::i18n::{Lang, Message};
use sitedesk_core::store::StoreError;
use ts_rs::TS;

/// Declares [`ErrorCode`] and [`ErrorCode::ALL`] from one list, so that the
/// list the UI receives (`ERROR_CODES` in `ui/src/ipc/bindings.ts`) cannot
/// miss a code.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident,)*) => {
        /// Why a command failed, as the UI branches on it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in declaration order (for the UI's list).
            #[cfg(test)]
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant),*];
        }
    };
}

error_codes! {
    /// The payload was malformed: wrong shape, wrong type, too long.
    InvalidInput,
    /// The input broke a rule of the screening log.
    Validation,
    /// The lifecycle does not allow the action from the subject's status.
    IllegalTransition,
    NotFound,
    /// No study is set up on this desk.
    NoStudy,
    /// The database writer has stopped (the app is closing).
    Unavailable,
    /// A long operation was stopped (the app is closing).
    Cancelled,
    /// The database could not be read or written.
    Storage,
    /// No study forms are imported on this desk yet.
    NoForms,
    /// No EDC is set up on this desk.
    NoEdc,
    /// The EDC refused or could not be reached; the message says which.
    Edc,
    /// A CPU profile could not be recorded (another is running, or the
    /// platform cannot profile); the message says which.
    Profile,
    /// Nobody is signed in: the UI shows the sign-in screen.
    SignedOut,
    /// The desk is locked: the UI shows the lock screen.
    Locked,
    /// The person signed in may not do this (their role).
    Forbidden,
    /// The password was wrong, or attempts for this login must wait.
    WrongPassword,
}

/// The error every command returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct IpcError {
    pub code: ErrorCode,
    pub message: String,
}

impl IpcError {
    pub fn from_profile(
        e: &sitedesk_core::diagnostics::profile::ProfileError,
        lang: Lang,
    ) -> IpcError {
        use sitedesk_core::diagnostics::profile::ProfileError;
        IpcError {
            code: match e {
                ProfileError::Cancelled => ErrorCode::Cancelled,
                _ => ErrorCode::Profile,
            },
            message: e.message(lang),
        }
    }

    pub fn invalid_input(lang: Lang, detail: impl std::fmt::Display) -> IpcError {
        IpcError {
            code: ErrorCode::InvalidInput,
            message: Message::new("shell.invalidInput")
                .with("detail", detail.to_string())
                .render(lang),
        }
    }

    /// A rule of the input broke, with the core's message in the user's
    /// language.
    pub fn validation(message: String) -> IpcError {
        IpcError {
            code: ErrorCode::Validation,
            message,
        }
    }

    /// A call to the EDC failed; the message says why in plain words.
    pub fn from_edc(e: &EdcError, lang: Lang) -> IpcError {
        IpcError {
            code: ErrorCode::Edc,
            message: e.message(lang),
        }
    }

    /// A command the person at the desk may not run now.
    pub fn refused(refusal: sitedesk_core::desk::people::Refusal, lang: Lang) -> IpcError {
        use sitedesk_core::desk::people::Refusal;
        use sitedesk_core::domain::Role;
        let (code, message) = match refusal {
            Refusal::SignedOut => (ErrorCode::SignedOut, Message::new("shell.signedOut")),
            Refusal::Locked => (ErrorCode::Locked, Message::new("shell.locked")),
            Refusal::Forbidden { needed } => (
                ErrorCode::Forbidden,
                Message::new("shell.forbidden").with(
                    "role",
                    Message::new(match needed {
                        Role::Crc => "people.role.crc",
                        Role::Supervisor => "people.role.supervisor",
                        Role::Admin => "people.role.admin",
                    }),
                ),
            ),
        };
        IpcError {
            code,
            message: message.render(lang),
        }
    }

    pub fn no_edc(lang: Lang) -> IpcError {
        IpcError {
            code: ErrorCode::NoEdc,
            message: Message::new("shell.noEdc").render(lang),
        }
    }

    /// A form that cannot be opened or saved as asked.
    pub fn from_form(e: FormError, lang: Lang) -> IpcError {
        let code = match &e {
            FormError::NoDictionary => ErrorCode::NoForms,
            FormError::UnknownForm(_)
            | FormError::UnknownEvent(_)
            | FormError::NotInEvent { .. }
            | FormError::NotRepeating { .. } => ErrorCode::NotFound,
            FormError::UnknownField(_) => ErrorCode::InvalidInput,
            FormError::Values(_) | FormError::ReasonRequired => ErrorCode::Validation,
        };
        IpcError {
            code,
            message: e.message(lang),
        }
    }

    pub fn from_store(e: StoreError, lang: Lang) -> IpcError {
        let (code, message) = store_message(&e);
        IpcError {
            code,
            message: message.render(lang),
        }
    }
}

/// What the UI is told about a store error, in no language yet.
fn store_message(e: &StoreError) -> (ErrorCode, Message) {
    match e {
        StoreError::Domain(d) => (domain_code(d), d.msg()),
        StoreError::NotFound { entity, id } => {
            let entity = match *entity {
                "subject" => Message::new("shell.entity.subject"),
                "site" => Message::new("shell.entity.site"),
                "id collision" => Message::new("shell.entity.idCollision"),
                other => Message::new("shell.entity.other").with("entity", other),
            };
            (
                ErrorCode::NotFound,
                Message::new("shell.notFound")
                    .with("entity", entity)
                    .with("id", id),
            )
        }
        StoreError::NoStudy => (ErrorCode::NoStudy, Message::new("shell.noStudy")),
        StoreError::PracticeChoice { count } => (
            ErrorCode::Validation,
            Message::new("shell.practiceChoice").with("count", count.to_string()),
        ),
        StoreError::Screening(s) => (ErrorCode::Validation, s.msg()),
        StoreError::WriterClosed => (ErrorCode::Unavailable, Message::new("shell.writerClosed")),
        StoreError::Cancelled => (ErrorCode::Cancelled, Message::new("shell.cancelled")),
        other => {
            // The detail names tables and constraints, never values.
            tracing::error!(error = %other, "storage error");
            (
                ErrorCode::Storage,
                Message::new("shell.storage").with("detail", other.to_string()),
            )
        }
    }
}

fn domain_code(e: &DomainError) -> ErrorCode {
    match e {
        DomainError::IllegalTransition { .. } => ErrorCode::IllegalTransition,
        _ => ErrorCode::Validation,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use sitedesk_core::domain::{ActionKind, SubjectStatus};
    use sitedesk_core::i18n::{Catalogs, pseudo_catalog};

    #[test]
    fn the_error_json_shape_is_pinned() {
        let e = IpcError::from_store(
            StoreError::Domain(DomainError::IllegalTransition {
                from: SubjectStatus::Withdrawn,
                action: ActionKind::Enroll,
            }),
            Lang::EN,
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"illegal_transition","message":"A subject who is withdrawn cannot be enrolled."}"#
        );
        let zh = Lang::from_tag("zh-CN").expect("a zh-CN catalog");
        let e = IpcError::from_store(StoreError::WriterClosed, zh);
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"code": "unavailable", "message": "应用正在关闭，未保存任何内容。"})
        );
    }

    /// One of each store error the UI is told about in its own words.
    fn store_errors() -> Vec<StoreError> {
        vec![
            StoreError::Domain(DomainError::NothingChanged),
            StoreError::NotFound {
                entity: "subject",
                id: "S01-K7Q-0001".into(),
            },
            StoreError::NotFound {
                entity: "site",
                id: "s09".into(),
            },
            StoreError::NotFound {
                entity: "conflict",
                id: "7".into(),
            },
            StoreError::NoStudy,
            StoreError::WriterClosed,
            StoreError::Cancelled,
            StoreError::NotCommitted("disk I/O error".into()),
        ]
    }

    /// Every message of the shell: the store's, and the ones the commands
    /// say themselves.
    fn every_message() -> Vec<Message> {
        let mut all: Vec<Message> = store_errors().iter().map(|e| store_message(e).1).collect();
        all.extend([
            Message::new("shell.invalidInput").with("detail", "missing field `id`"),
            Message::new("shell.noEdc"),
            Message::new("shell.tokenFormat"),
            Message::new("shell.tokenMissing"),
            Message::new("shell.noProfile"),
        ]);
        all
    }

    #[test]
    fn a_pseudo_locale_shows_every_shell_message_without_falling_back_to_english() {
        let en = include_str!("../../locales/en.json");
        let pseudo = pseudo_catalog(en).unwrap();
        let catalogs = Catalogs::parse([("en", en), ("x-pseudo", pseudo.as_str())]).unwrap();
        let p = catalogs.lang("x-pseudo").unwrap();
        for message in every_message() {
            let shown = catalogs
                .try_render(&message, p)
                .unwrap_or_else(|e| panic!("{message:?}: {e}"));
            assert!(
                shown.starts_with("[!! ") && shown.ends_with(" !!]") && !shown.contains("{{"),
                "{message:?}: {shown}"
            );
        }
    }

    #[test]
    fn a_store_error_names_what_was_not_found_in_the_users_language() {
        let zh = Lang::from_tag("zh-CN").expect("a zh-CN catalog");
        let shown: Vec<(String, String)> = store_errors()[1..4]
            .iter()
            .map(|e| {
                let (_, m) = store_message(e);
                (m.render(Lang::EN), m.render(zh))
            })
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "There is no subject S01-K7Q-0001.",
                    "找不到受试者“S01-K7Q-0001”。"
                ),
                ("There is no site s09.", "找不到中心“s09”。"),
                ("There is no conflict 7.", "找不到记录“7”。"),
            ]
            .map(|(en, zh)| (en.to_owned(), zh.to_owned()))
        );
    }

    /// The catalog keys the shell's code names (string literals starting
    /// with `shell.`).
    fn keys_in_source() -> BTreeSet<String> {
        let needle = format!("\"{}.", "shell");
        let mut keys = BTreeSet::new();
        let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (at, _) in text.match_indices(&needle) {
                        let rest = &text[at + 1..];
                        let key = &rest[..rest.find('"').unwrap_or(rest.len())];
                        // A prefix, as in the filter below, names no key.
                        if !key.ends_with('.') {
                            keys.insert(key.to_owned());
                        }
                    }
                }
            }
        }
        keys
    }

    #[test]
    fn every_key_the_shell_names_is_in_every_catalog_and_every_shell_key_is_named() {
        let named = keys_in_source();
        let catalogs = sitedesk_core::i18n::catalogs();
        for lang in Lang::all() {
            let keys: BTreeSet<String> =
                catalogs.keys(lang).into_iter().map(str::to_owned).collect();
            let missing: Vec<_> = named.difference(&keys).collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", lang.tag());
        }
        let unused: Vec<_> = catalogs
            .keys(Lang::EN)
            .into_iter()
            .filter(|k| k.starts_with("shell.") && !named.contains(*k))
            .collect();
        assert!(unused.is_empty(), "catalog words no code uses: {unused:?}");
    }
}
