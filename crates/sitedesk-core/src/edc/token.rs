//! The API token: a password to the study's data. It is never logged,
//! never part of an error message, and its `Debug` shows only that it is
//! there. It travels in the request body, never in a URL.

use std::fmt;

/// A REDCap API token (32 hexadecimal characters; some servers issue 64).
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Checks the shape only; whether the server knows it, it says.
    pub fn parse(text: &str) -> Option<Token> {
        let t = text.trim();
        let ok = matches!(t.len(), 32 | 64) && t.chars().all(|c| c.is_ascii_hexdigit());
        ok.then(|| Token(t.to_ascii_uppercase()))
    }

    /// The secret itself, for the request body and for the store.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(redacted)")
    }
}
