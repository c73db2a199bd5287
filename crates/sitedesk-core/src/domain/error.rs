//! Why the domain refused something, in words a CRC understands, in English
//! and Simplified Chinese.

use crate::i18n::Lang;

use super::{ActionKind, SubjectStatus};

/// A field of the screening log or the lifecycle, named in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ScreeningDate,
    Label,
    ConsentDate,
    ConsentVersion,
    EnrollmentDate,
    CompletionDate,
    WithdrawalDate,
    Reason,
    Eligibility,
    DisplayName,
    RecordId,
    Event,
    Instance,
    FieldName,
    Value,
    SyncInterval,
    SyncConcurrency,
}

impl Field {
    fn name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Field::ScreeningDate, Lang::En) => "Screening date",
            (Field::ScreeningDate, Lang::ZhCn) => "筛选日期",
            (Field::Label, Lang::En) => "Initials",
            (Field::Label, Lang::ZhCn) => "姓名缩写",
            (Field::ConsentDate, Lang::En) => "Consent date",
            (Field::ConsentDate, Lang::ZhCn) => "知情同意日期",
            (Field::ConsentVersion, Lang::En) => "Consent form version",
            (Field::ConsentVersion, Lang::ZhCn) => "知情同意书版本",
            (Field::EnrollmentDate, Lang::En) => "Enrollment date",
            (Field::EnrollmentDate, Lang::ZhCn) => "入组日期",
            (Field::CompletionDate, Lang::En) => "Completion date",
            (Field::CompletionDate, Lang::ZhCn) => "完成日期",
            (Field::WithdrawalDate, Lang::En) => "Withdrawal date",
            (Field::WithdrawalDate, Lang::ZhCn) => "退出日期",
            (Field::Reason, Lang::En) => "Reason",
            (Field::Reason, Lang::ZhCn) => "原因",
            (Field::Eligibility, Lang::En) => "Eligibility",
            (Field::Eligibility, Lang::ZhCn) => "入选/排除标准",
            (Field::DisplayName, Lang::En) => "Display name",
            (Field::DisplayName, Lang::ZhCn) => "显示名称",
            (Field::RecordId, Lang::En) => "Record ID",
            (Field::RecordId, Lang::ZhCn) => "记录编号",
            (Field::Event, Lang::En) => "Event",
            (Field::Event, Lang::ZhCn) => "访视事件",
            (Field::Instance, Lang::En) => "Repeat instance",
            (Field::Instance, Lang::ZhCn) => "重复序号",
            (Field::FieldName, Lang::En) => "Field name",
            (Field::FieldName, Lang::ZhCn) => "字段名",
            (Field::Value, Lang::En) => "Value",
            (Field::Value, Lang::ZhCn) => "值",
            (Field::SyncInterval, Lang::En) => "Minutes between syncs",
            (Field::SyncInterval, Lang::ZhCn) => "同步间隔（分钟）",
            (Field::SyncConcurrency, Lang::En) => "Batches sent at once",
            (Field::SyncConcurrency, Lang::ZhCn) => "同时发送的批次数",
        }
    }
}

fn status_name(s: SubjectStatus, lang: Lang) -> &'static str {
    match (s, lang) {
        (SubjectStatus::Screening, Lang::En) => "in screening",
        (SubjectStatus::Screening, Lang::ZhCn) => "筛选中",
        (SubjectStatus::ScreenFailed, Lang::En) => "screen failed",
        (SubjectStatus::ScreenFailed, Lang::ZhCn) => "筛选失败",
        (SubjectStatus::Enrolled, Lang::En) => "enrolled",
        (SubjectStatus::Enrolled, Lang::ZhCn) => "已入组",
        (SubjectStatus::Completed, Lang::En) => "completed",
        (SubjectStatus::Completed, Lang::ZhCn) => "已完成",
        (SubjectStatus::Withdrawn, Lang::En) => "withdrawn",
        (SubjectStatus::Withdrawn, Lang::ZhCn) => "已退出",
    }
}

/// The action as English completes "cannot be ..." and Chinese "不能...".
fn action_name(a: ActionKind, lang: Lang) -> &'static str {
    match (a, lang) {
        (ActionKind::ScreenFail, Lang::En) => "marked as screen failed",
        (ActionKind::ScreenFail, Lang::ZhCn) => "标记为筛选失败",
        (ActionKind::Enroll, Lang::En) => "enrolled",
        (ActionKind::Enroll, Lang::ZhCn) => "入组",
        (ActionKind::Complete, Lang::En) => "completed",
        (ActionKind::Complete, Lang::ZhCn) => "完成",
        (ActionKind::Withdraw, Lang::En) => "withdrawn",
        (ActionKind::Withdraw, Lang::ZhCn) => "退出",
    }
}

/// A rule of the screening log or the lifecycle that an input broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("cannot {action:?} a subject that is {from:?}")]
    IllegalTransition {
        from: SubjectStatus,
        action: ActionKind,
    },
    #[error("{field:?} is required")]
    Required { field: Field },
    #[error("{field:?} is not a valid date (YYYY-MM-DD)")]
    BadDate { field: Field },
    #[error("{field:?} is in the future")]
    DateInFuture { field: Field },
    #[error("{later:?} is before {earlier:?}")]
    DateOrder { earlier: Field, later: Field },
    #[error("{field:?} is longer than {max} characters")]
    TooLong { field: Field, max: usize },
    #[error("{field:?} is not between {min} and {max}")]
    OutOfRange { field: Field, min: u32, max: u32 },
    #[error("label is not initials")]
    LabelNotInitials,
    #[error("unknown eligibility criterion {id}")]
    UnknownCriterion { id: String },
    #[error("eligibility not met: {unmet:?}")]
    EligibilityNotMet { unmet: Vec<String> },
    #[error("a reason is required to change saved {field:?}")]
    ReasonForChangeRequired { field: Field },
    #[error("nothing changed")]
    NothingChanged,
    #[error("{field:?} is not a valid name")]
    InvalidName { field: Field },
    #[error("a reason is required to change the saved value of {field}")]
    ValueReasonRequired { field: String },
}

impl DomainError {
    /// The message shown to the user, in their language.
    pub fn message(&self, lang: Lang) -> String {
        use DomainError::*;
        let zh = lang == Lang::ZhCn;
        match self {
            IllegalTransition { from, action } => {
                let (from, action) = (status_name(*from, lang), action_name(*action, lang));
                if zh {
                    format!("受试者当前状态为“{from}”，不能{action}。")
                } else {
                    format!("A subject who is {from} cannot be {action}.")
                }
            }
            Required { field } => {
                let f = field.name(lang);
                if zh {
                    format!("请填写“{f}”。")
                } else {
                    format!("{f} is required.")
                }
            }
            BadDate { field } => {
                let f = field.name(lang);
                if zh {
                    format!("“{f}”不是有效日期，请使用 YYYY-MM-DD 格式。")
                } else {
                    format!("{f} is not a valid date; use YYYY-MM-DD.")
                }
            }
            DateInFuture { field } => {
                let f = field.name(lang);
                if zh {
                    format!("“{f}”不能晚于今天。")
                } else {
                    format!("{f} cannot be in the future.")
                }
            }
            DateOrder { earlier, later } => {
                let (e, l) = (earlier.name(lang), later.name(lang));
                if zh {
                    format!("“{l}”不能早于“{e}”。")
                } else {
                    format!("{l} cannot be before the {}.", e.to_lowercase())
                }
            }
            OutOfRange { field, min, max } => {
                let f = field.name(lang);
                if zh {
                    format!("“{f}”应在 {min} 到 {max} 之间。")
                } else {
                    format!("{f} must be between {min} and {max}.")
                }
            }
            TooLong { field, max } => {
                let f = field.name(lang);
                if zh {
                    format!("“{f}”不能超过 {max} 个字符。")
                } else {
                    format!("{f} cannot be longer than {max} characters.")
                }
            }
            LabelNotInitials => {
                if zh {
                    "姓名缩写只能包含字母、数字和连字符（不要填写全名）。".into()
                } else {
                    "Initials may only contain letters, digits and hyphens (never a full name)."
                        .into()
                }
            }
            UnknownCriterion { id } => {
                if zh {
                    format!("本研究没有标准“{id}”。")
                } else {
                    format!("The study has no criterion {id}.")
                }
            }
            EligibilityNotMet { unmet } => {
                let list = unmet.join(", ");
                if zh {
                    format!("入组前必须满足所有入选标准且不符合任何排除标准：{list}。")
                } else {
                    format!(
                        "Before enrolling, every inclusion criterion must be met and no exclusion criterion may apply: {list}."
                    )
                }
            }
            ReasonForChangeRequired { field } => {
                let f = field.name(lang);
                if zh {
                    format!("修改已保存的“{f}”需要填写修改原因。")
                } else {
                    format!(
                        "Changing the saved {} needs a reason for change.",
                        f.to_lowercase()
                    )
                }
            }
            NothingChanged => {
                if zh {
                    "没有需要保存的修改。".into()
                } else {
                    "There is nothing to save.".into()
                }
            }
            InvalidName { field } => {
                let f = field.name(lang);
                if zh {
                    format!("“{f}”无效：只能包含小写字母、数字和下划线。")
                } else {
                    format!("{f} is not valid: use lower-case letters, digits and underscores.")
                }
            }
            ValueReasonRequired { field } => {
                if zh {
                    format!("修改已保存的字段“{field}”需要填写修改原因。")
                } else {
                    format!("Changing the saved value of {field} needs a reason for change.")
                }
            }
        }
    }
}
