//! The people at the desk: their roles, what each role may do, and the
//! checks on what people type that the audit trail shows beside their
//! work (logins, names, reasons).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::error::{DomainError, Field};

/// What a person at the desk may do. Each role does all the role before it
/// does: a supervisor is also a CRC, a desk administrator also a
/// supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Screening, forms, sync and conflicts.
    Crc,
    /// Also reviews and signs off, and sets the enrollment targets.
    Supervisor,
    /// Also the EDC connection, the study's forms, users and the desk's
    /// settings.
    Admin,
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 3] = [Role::Crc, Role::Supervisor, Role::Admin];

    /// As stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Crc => "crc",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether a person of this role may do what `needed` may.
    pub fn includes(self, needed: Role) -> bool {
        self >= needed
    }
}

/// The longest login.
pub const LOGIN_MAX_CHARS: usize = 32;
/// The shortest password a person may choose. NIST SP 800-63B asks for at
/// least 8 characters with a second factor and 15 without; a desk behind
/// the clinic's own computer login sits between the two.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// The longest password (Argon2 takes any length; this bounds the work a
/// forged call can ask for).
pub const PASSWORD_MAX_CHARS: usize = 256;
/// The longest person's name (the printed name of a sign-off).
pub const PERSON_NAME_MAX_CHARS: usize = 80;

/// A login as the desk keeps it: lower case ASCII letters, digits, `.`, `_`
/// and `-`, starting with a letter (it names the person in the audit trail
/// and in the key file, so it never needs escaping or isolating).
pub fn check_login(login: &str) -> Result<String, DomainError> {
    let l = login.trim().to_ascii_lowercase();
    if l.is_empty() {
        return Err(DomainError::Required {
            field: Field::Login,
        });
    }
    if l.chars().count() > LOGIN_MAX_CHARS {
        return Err(DomainError::TooLong {
            field: Field::Login,
            max: LOGIN_MAX_CHARS,
        });
    }
    let ok = l.starts_with(|c: char| c.is_ascii_lowercase())
        && l.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !ok {
        return Err(DomainError::BadLogin);
    }
    Ok(l)
}

/// A person's name as the audit trail and sign-offs print it: required,
/// bounded, and plain text (see [`check_plain_text`]). Returns it trimmed.
pub fn check_person_name(name: &str) -> Result<String, DomainError> {
    let n = name.trim();
    if n.is_empty() {
        return Err(DomainError::Required {
            field: Field::PersonName,
        });
    }
    if n.chars().count() > PERSON_NAME_MAX_CHARS {
        return Err(DomainError::TooLong {
            field: Field::PersonName,
            max: PERSON_NAME_MAX_CHARS,
        });
    }
    check_plain_text(Field::PersonName, n)?;
    Ok(n.to_owned())
}

/// A new password: long enough, not absurdly long. Nothing else is asked
/// of it (NIST SP 800-63B: no composition rules).
pub fn check_new_password(password: &str) -> Result<(), DomainError> {
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(DomainError::PasswordTooShort {
            min: PASSWORD_MIN_CHARS,
        });
    }
    if n > PASSWORD_MAX_CHARS {
        return Err(DomainError::TooLong {
            field: Field::Password,
            max: PASSWORD_MAX_CHARS,
        });
    }
    Ok(())
}

/// Refuses control characters and the characters that reorder text around
/// them (bidirectional embeddings, overrides, isolates and marks): in a
/// name or a reason they would make the audit trail show something other
/// than what was typed, or scramble what is shown after it.
pub fn check_plain_text(field: Field, text: &str) -> Result<(), DomainError> {
    if text.chars().any(is_unsafe_char) {
        return Err(DomainError::UnsafeText { field });
    }
    Ok(())
}

fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_does_what_the_one_before_it_does() {
        assert!(Role::Admin.includes(Role::Supervisor));
        assert!(Role::Admin.includes(Role::Crc));
        assert!(Role::Supervisor.includes(Role::Crc));
        assert!(!Role::Crc.includes(Role::Supervisor));
        assert!(!Role::Supervisor.includes(Role::Admin));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn logins_are_plain_lower_case_words() {
        assert_eq!(check_login("  Mei.Chen ").unwrap(), "mei.chen");
        assert_eq!(check_login("crc-2_b").unwrap(), "crc-2_b");
        for bad in ["2crc", "mei chen", "méi", "a/b", "-x"] {
            assert_eq!(check_login(bad), Err(DomainError::BadLogin), "{bad}");
        }
        assert!(matches!(
            check_login(" "),
            Err(DomainError::Required { .. })
        ));
        assert!(matches!(
            check_login(&"a".repeat(LOGIN_MAX_CHARS + 1)),
            Err(DomainError::TooLong { .. })
        ));
    }

    #[test]
    fn names_and_reasons_refuse_controls_and_reordering_characters() {
        assert_eq!(check_person_name(" 陈美 ").unwrap(), "陈美");
        assert_eq!(
            check_person_name("Ana María O'Neil").unwrap(),
            "Ana María O'Neil"
        );
        assert!(
            check_person_name("عائشة").is_ok(),
            "right-to-left script is fine"
        );
        for bad in [
            "Eve\u{202E}nimda",
            "Eve\u{2066}x\u{2069}",
            "Eve\u{200F}",
            "Eve\u{061C}",
            "Eve\nAdmin",
            "Eve\u{7}",
        ] {
            assert_eq!(
                check_person_name(bad),
                Err(DomainError::UnsafeText {
                    field: Field::PersonName
                }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_password_is_long_enough_and_nothing_more() {
        assert!(check_new_password("correct horse").is_ok());
        assert_eq!(
            check_new_password("short"),
            Err(DomainError::PasswordTooShort {
                min: PASSWORD_MIN_CHARS
            })
        );
        assert!(check_new_password(&"x".repeat(PASSWORD_MAX_CHARS + 1)).is_err());
    }
}
