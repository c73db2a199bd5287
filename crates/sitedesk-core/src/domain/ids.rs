//! Subject ids that are assigned offline and never collide.
//!
//! An id is `<site code>-<desk code>-<sequence>`, for example `S01-K7Q-0007`.
//! The site code separates sites, the desk code separates the desks of one
//! site, and the sequence is per site and desk, allocated by the single
//! writer inside the transaction that creates the subject. Two desks can
//! therefore enroll offline at the same time and sync later without ever
//! renumbering a subject.

use std::fmt;

use rand::RngExt;

/// Characters of a desk code: digits and capitals without the ones that are
/// easily misread (0/O, 1/I/L), as in Crockford's base 32.
const DESK_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Three characters give 29,791 codes, far more desks than any study has.
const DESK_CODE_LEN: usize = 3;

/// The code that tells this desk's subject ids from other desks' at the
/// same site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskCode(String);

impl DeskCode {
    /// A fresh random code, drawn once when a desk's database is created.
    pub fn random() -> DeskCode {
        let mut rng = rand::rng();
        let code = (0..DESK_CODE_LEN)
            .map(|_| DESK_ALPHABET[rng.random_range(0..DESK_ALPHABET.len())] as char)
            .collect();
        DeskCode(code)
    }

    /// Accepts a code that IT assigned (`SITEDESK_DESK_CODE`): 1 to 6
    /// characters of the desk alphabet.
    pub fn parse(s: &str) -> Option<DeskCode> {
        let s = s.trim().to_ascii_uppercase();
        let ok = (1..=6).contains(&s.len()) && s.bytes().all(|b| DESK_ALPHABET.contains(&b));
        ok.then_some(DeskCode(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeskCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A subject id; see the module documentation for its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectId(String);

impl SubjectId {
    /// The desk code inside an id of this shape (`S01-K7Q-0007` gives
    /// `K7Q`); `None` for an id of another shape.
    pub fn desk_of(id: &str) -> Option<&str> {
        let mut parts = id.split('-');
        let (_site, desk, seq) = (parts.next()?, parts.next()?, parts.next()?);
        let shaped = parts.next().is_none()
            && DeskCode::parse(desk).is_some_and(|d| d.as_str() == desk)
            && !seq.is_empty()
            && seq.bytes().all(|b| b.is_ascii_digit());
        shaped.then_some(desk)
    }

    pub fn new(site_code: &str, desk: &DeskCode, seq: u32) -> SubjectId {
        SubjectId(format!("{site_code}-{desk}-{seq:04}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}
