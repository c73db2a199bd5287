//! The one error shape the UI receives: `{code, message}`, with `code` from
//! a closed set the UI knows as a TypeScript union and `message` in the
//! user's language, ready to show.

use serde::Serialize;
use sitedesk_core::domain::DomainError;
use sitedesk_core::edc::EdcError;
use sitedesk_core::forms::FormError;
use sitedesk_core::i18n::Lang;
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
        let message = match lang {
            Lang::En => format!("The request was not understood: {detail}"),
            Lang::ZhCn => format!("无法识别该请求：{detail}"),
        };
        IpcError {
            code: ErrorCode::InvalidInput,
            message,
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

    pub fn no_edc(lang: Lang) -> IpcError {
        IpcError {
            code: ErrorCode::NoEdc,
            message: match lang {
                Lang::En => {
                    "No EDC is set up on this desk: enter its address and API token in Settings."
                        .into()
                }
                Lang::ZhCn => "此工作站尚未设置 EDC：请在“设置”中填写其地址和 API 令牌。".into(),
            },
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
        let zh = lang == Lang::ZhCn;
        let (code, message) = match &e {
            StoreError::Domain(d) => (domain_code(d), d.message(lang)),
            StoreError::NotFound { entity, id } => (
                ErrorCode::NotFound,
                if zh {
                    format!("找不到{}“{id}”。", entity_zh(entity))
                } else {
                    format!("There is no {entity} {id}.")
                },
            ),
            StoreError::NoStudy => (
                ErrorCode::NoStudy,
                if zh {
                    "此工作站尚未设置研究。".into()
                } else {
                    "No study is set up on this desk.".into()
                },
            ),
            StoreError::WriterClosed => (
                ErrorCode::Unavailable,
                if zh {
                    "应用正在关闭，未保存任何内容。".into()
                } else {
                    "SiteDesk is shutting down; nothing was saved.".into()
                },
            ),
            StoreError::Cancelled => (
                ErrorCode::Cancelled,
                if zh {
                    "操作已取消。".into()
                } else {
                    "The operation was cancelled.".into()
                },
            ),
            other => {
                // The detail names tables and constraints, never values.
                tracing::error!(error = %other, "storage error");
                (
                    ErrorCode::Storage,
                    if zh {
                        format!("数据库出错，未保存任何内容：{other}")
                    } else {
                        format!("The database reported an error; nothing was saved: {other}")
                    },
                )
            }
        };
        IpcError { code, message }
    }
}

fn domain_code(e: &DomainError) -> ErrorCode {
    match e {
        DomainError::IllegalTransition { .. } => ErrorCode::IllegalTransition,
        _ => ErrorCode::Validation,
    }
}

fn entity_zh(entity: &str) -> &'static str {
    match entity {
        "subject" => "受试者",
        "site" => "中心",
        _ => "记录",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sitedesk_core::domain::{ActionKind, SubjectStatus};

    #[test]
    fn the_error_json_shape_is_pinned() {
        let e = IpcError::from_store(
            StoreError::Domain(DomainError::IllegalTransition {
                from: SubjectStatus::Withdrawn,
                action: ActionKind::Enroll,
            }),
            Lang::En,
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"illegal_transition","message":"A subject who is withdrawn cannot be enrolled."}"#
        );
        let e = IpcError::from_store(StoreError::WriterClosed, Lang::ZhCn);
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"code": "unavailable", "message": "应用正在关闭，未保存任何内容。"})
        );
    }
}
