//! Why the domain refused something, in words a CRC understands: each error
//! is a message of the word catalogs (`core.domain.*`).

use crate::i18n::{Arg, Lang, Message};

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
    ScreenFailDate,
    Reason,
    OtherReason,
    Eligibility,
    DisplayName,
    RecordId,
    Event,
    Instance,
    FieldName,
    Value,
    SyncInterval,
    SyncConcurrency,
    Target,
    Login,
    PersonName,
    Password,
}

impl Field {
    /// The field's name as a label or a sentence's start shows it.
    fn name(self) -> Message {
        Message::new(match self {
            Field::ScreeningDate => "core.domain.field.screeningDate",
            Field::Label => "core.domain.field.label",
            Field::ConsentDate => "core.domain.field.consentDate",
            Field::ConsentVersion => "core.domain.field.consentVersion",
            Field::EnrollmentDate => "core.domain.field.enrollmentDate",
            Field::CompletionDate => "core.domain.field.completionDate",
            Field::WithdrawalDate => "core.domain.field.withdrawalDate",
            Field::ScreenFailDate => "core.domain.field.screenFailDate",
            Field::Reason => "core.domain.field.reason",
            Field::OtherReason => "core.domain.field.otherReason",
            Field::Eligibility => "core.domain.field.eligibility",
            Field::DisplayName => "core.domain.field.displayName",
            Field::RecordId => "core.domain.field.recordId",
            Field::Event => "core.domain.field.event",
            Field::Instance => "core.domain.field.instance",
            Field::FieldName => "core.domain.field.fieldName",
            Field::Value => "core.domain.field.value",
            Field::SyncInterval => "core.domain.field.syncInterval",
            Field::SyncConcurrency => "core.domain.field.syncConcurrency",
            Field::Target => "core.domain.field.target",
            Field::Login => "core.domain.field.login",
            Field::PersonName => "core.domain.field.personName",
            Field::Password => "core.domain.field.password",
        })
    }

    /// The name inside a sentence, where English writes it in lower case.
    fn in_sentence(self) -> Message {
        Message::new(match self {
            Field::ScreeningDate => "core.domain.fieldInSentence.screeningDate",
            Field::Label => "core.domain.fieldInSentence.label",
            Field::ConsentDate => "core.domain.fieldInSentence.consentDate",
            Field::ConsentVersion => "core.domain.fieldInSentence.consentVersion",
            Field::EnrollmentDate => "core.domain.fieldInSentence.enrollmentDate",
            Field::CompletionDate => "core.domain.fieldInSentence.completionDate",
            Field::WithdrawalDate => "core.domain.fieldInSentence.withdrawalDate",
            Field::ScreenFailDate => "core.domain.fieldInSentence.screenFailDate",
            Field::Reason => "core.domain.fieldInSentence.reason",
            Field::OtherReason => "core.domain.fieldInSentence.otherReason",
            Field::Eligibility => "core.domain.fieldInSentence.eligibility",
            Field::DisplayName => "core.domain.fieldInSentence.displayName",
            Field::RecordId => "core.domain.fieldInSentence.recordId",
            Field::Event => "core.domain.fieldInSentence.event",
            Field::Instance => "core.domain.fieldInSentence.instance",
            Field::FieldName => "core.domain.fieldInSentence.fieldName",
            Field::Value => "core.domain.fieldInSentence.value",
            Field::SyncInterval => "core.domain.fieldInSentence.syncInterval",
            Field::SyncConcurrency => "core.domain.fieldInSentence.syncConcurrency",
            Field::Target => "core.domain.fieldInSentence.target",
            Field::Login => "core.domain.fieldInSentence.login",
            Field::PersonName => "core.domain.fieldInSentence.personName",
            Field::Password => "core.domain.fieldInSentence.password",
        })
    }
}

/// The status as English completes "a subject who is ...".
fn status_name(s: SubjectStatus) -> Message {
    Message::new(match s {
        SubjectStatus::Screening => "core.domain.status.screening",
        SubjectStatus::ScreenFailed => "core.domain.status.screenFailed",
        SubjectStatus::Enrolled => "core.domain.status.enrolled",
        SubjectStatus::Completed => "core.domain.status.completed",
        SubjectStatus::Withdrawn => "core.domain.status.withdrawn",
    })
}

/// The action as English completes "cannot be ..." and Chinese "不能...".
fn action_name(a: ActionKind) -> Message {
    Message::new(match a {
        ActionKind::ScreenFail => "core.domain.action.screenFail",
        ActionKind::Enroll => "core.domain.action.enroll",
        ActionKind::Complete => "core.domain.action.complete",
        ActionKind::Withdraw => "core.domain.action.withdraw",
    })
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
    #[error("unknown reason code {code}")]
    UnknownReason { code: String },
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
    #[error("{field:?} holds a control or text-direction character")]
    UnsafeText { field: Field },
    #[error("not a valid login")]
    BadLogin,
    #[error("a password needs at least {min} characters")]
    PasswordTooShort { min: usize },
    #[error("the login {login} is taken")]
    LoginTaken { login: String },
    #[error("the desk needs an enabled administrator")]
    LastAdmin,
    #[error("only a person signed in can sign")]
    SignerRequired,
    #[error("it is already signed off")]
    AlreadySigned,
    #[error("a reason is required to change a signed form")]
    SignedFormReasonRequired,
}

impl DomainError {
    /// The message shown to the user, in their language.
    pub fn message(&self, lang: Lang) -> String {
        self.msg().render(lang)
    }

    /// The message, in no language yet.
    pub fn msg(&self) -> Message {
        use DomainError::*;
        match self {
            IllegalTransition { from, action } => Message::new("core.domain.illegalTransition")
                .with("from", status_name(*from))
                .with("action", action_name(*action)),
            Required { field } => Message::new("core.domain.required").with("field", field.name()),
            BadDate { field } => Message::new("core.domain.badDate").with("field", field.name()),
            DateInFuture { field } => {
                Message::new("core.domain.dateInFuture").with("field", field.name())
            }
            DateOrder { earlier, later } => Message::new("core.domain.dateOrder")
                .with("later", later.name())
                .with("earlier", earlier.in_sentence()),
            OutOfRange { field, min, max } => Message::new("core.domain.outOfRange")
                .with("field", field.name())
                .with("min", min.to_string())
                .with("max", max.to_string()),
            TooLong { field, max } => Message::new("core.domain.tooLong")
                .with("field", field.name())
                .with("max", max.to_string()),
            LabelNotInitials => Message::new("core.domain.labelNotInitials"),
            UnknownCriterion { id } => Message::new("core.domain.unknownCriterion").with("id", id),
            UnknownReason { code } => Message::new("core.domain.unknownReason").with("code", code),
            EligibilityNotMet { unmet } => Message::new("core.domain.eligibilityNotMet")
                .with("unmet", Arg::list(unmet, "core.list.comma")),
            ReasonForChangeRequired { field } => {
                Message::new("core.domain.reasonForChangeRequired")
                    .with("field", field.in_sentence())
            }
            NothingChanged => Message::new("core.domain.nothingChanged"),
            InvalidName { field } => {
                Message::new("core.domain.invalidName").with("field", field.name())
            }
            ValueReasonRequired { field } => {
                Message::new("core.domain.valueReasonRequired").with("field", field)
            }
            UnsafeText { field } => {
                Message::new("core.domain.unsafeText").with("field", field.name())
            }
            BadLogin => Message::new("core.domain.badLogin"),
            PasswordTooShort { min } => {
                Message::new("core.domain.passwordTooShort").with("min", min.to_string())
            }
            LoginTaken { login } => Message::new("core.domain.loginTaken").with("login", login),
            LastAdmin => Message::new("core.domain.lastAdmin"),
            SignerRequired => Message::new("core.domain.signerRequired"),
            AlreadySigned => Message::new("core.domain.alreadySigned"),
            SignedFormReasonRequired => Message::new("core.domain.signedFormReasonRequired"),
        }
    }
}
