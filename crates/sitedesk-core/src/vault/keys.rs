//! The keys themselves: the database's data key, the keys derived from it,
//! and the recovery key with its printed form.
//!
//! Every key lives in a [`Zeroizing`] buffer, wiped when it is dropped, and
//! none has a `Debug` or `Display` that shows it: the recovery key is
//! printed only through [`RecoveryKey::formatted`], once, at set-up.

use std::fmt;
use std::str::FromStr;

use hkdf::Hkdf;
use rand::TryRng as _;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::VaultError;

/// Bytes in the data key and the recovery key: 256 bits, AES-256's key
/// size and SQLCipher's raw key size.
pub const KEY_LEN: usize = 32;

/// `N` bytes from the operating system's generator (getrandom), not a
/// user-space generator seeded from it: keys and salts are few and small.
pub(super) fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, VaultError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    rand::rngs::SysRng
        .try_fill_bytes(bytes.as_mut())
        .map_err(|e| VaultError::Random(e.to_string()))?;
    Ok(bytes)
}

/// The key the database is encrypted with: 256 random bits, made once when
/// the desk is set up, never derived from a password and never written
/// anywhere except wrapped in the key file's slots.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

/// HKDF-SHA256 "info" labels of the keys derived from the data key. Fixed
/// forever: changing one changes the derived key.
const AUDIT_MAC_LABEL: &[u8] = b"sitedesk audit chain head mac v1";
const KEY_CHECK_LABEL: &[u8] = b"sitedesk key check v1";

impl DataKey {
    /// A new random data key.
    pub fn generate() -> Result<DataKey, VaultError> {
        Ok(DataKey(random()?))
    }

    pub(super) fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> DataKey {
        DataKey(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The key for the audit chain's keyed head (HMAC-SHA256): derived from
    /// the data key with HKDF-SHA256 under its own label, so knowing it
    /// tells nothing of the data key.
    pub fn audit_mac_key(&self) -> AuditMacKey {
        AuditMacKey(self.derive(AUDIT_MAC_LABEL))
    }

    /// A value stored in the key file that tells this key from any other
    /// without revealing it (an HKDF output under its own label).
    pub(super) fn check_value(&self) -> Zeroizing<[u8; 32]> {
        self.derive(KEY_CHECK_LABEL)
    }

    fn derive(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        // No salt: the input is already a uniformly random key (RFC 5869,
        // section 3.1).
        let hkdf = Hkdf::<Sha256>::new(None, self.0.as_ref());
        let mut out = Zeroizing::new([0u8; 32]);
        hkdf.expand(label, out.as_mut())
            .expect("32 bytes is far below HKDF-SHA256's limit");
        out
    }

    /// SQLCipher's raw-key literal, `x'<64 hex digits>'`: the key is used
    /// as it is, without SQLCipher's own password derivation.
    pub(crate) fn sqlcipher_literal(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(3 + 2 * KEY_LEN));
        s.push_str("x'");
        push_hex(&mut s, self.0.as_ref());
        s.push('\'');
        s
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// In constant time: a key is compared without telling, by the time it
/// takes, how many of its first bytes matched.
impl PartialEq for DataKey {
    fn eq(&self, other: &DataKey) -> bool {
        constant_time_eq(self.0.as_ref(), other.0.as_ref())
    }
}

impl Eq for DataKey {}

pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The audit chain head's MAC key (see [`DataKey::audit_mac_key`]).
pub struct AuditMacKey(Zeroizing<[u8; 32]>);

impl AuditMacKey {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for AuditMacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditMacKey(..)")
    }
}

/// The recovery key: 256 random bits that open the key file when every
/// password is lost. Shown once to the administrator at set-up, as
/// [`RecoveryKey::formatted`], and never stored in the clear.
pub struct RecoveryKey(Zeroizing<[u8; KEY_LEN]>);

/// Crockford's base32 alphabet: digits and letters without I, L, O and U,
/// so that nothing reads as another symbol (crockford.com/base32.html).
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Check bytes appended before encoding: 24 bits of SHA-256 over the key,
/// so a mistyped key is told apart from a wrong one (a random typo passes
/// with odds of 1 in 16 million). 32 + 3 bytes are 280 bits: exactly 56
/// symbols, with no padding.
const CHECK_LEN: usize = 3;
const SYMBOLS: usize = (KEY_LEN + CHECK_LEN) * 8 / 5;
/// Symbols per group in the printed form: 14 groups of 4.
const GROUP: usize = 4;
const CHECK_LABEL: &[u8] = b"sitedesk recovery key check";

impl RecoveryKey {
    pub(super) fn generate() -> Result<RecoveryKey, VaultError> {
        Ok(RecoveryKey(random()?))
    }

    pub(super) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    fn check(key: &[u8; KEY_LEN]) -> [u8; CHECK_LEN] {
        let digest = Sha256::new()
            .chain_update(CHECK_LABEL)
            .chain_update(key)
            .finalize();
        let mut check = [0u8; CHECK_LEN];
        check.copy_from_slice(&digest[..CHECK_LEN]);
        check
    }

    /// The key as a person copies it: 56 Crockford base32 symbols in groups
    /// of four joined by dashes, `XXXX-XXXX-...`.
    pub fn formatted(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN + CHECK_LEN]);
        bytes[..KEY_LEN].copy_from_slice(self.0.as_ref());
        bytes[KEY_LEN..].copy_from_slice(&Self::check(&self.0));
        let mut out = Zeroizing::new(String::with_capacity(SYMBOLS + SYMBOLS / GROUP));
        let (mut acc, mut bits) = (0u16, 0u32);
        let mut written = 0;
        for &b in bytes.iter() {
            acc = (acc << 8) | u16::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                if written > 0 && written % GROUP == 0 {
                    out.push('-');
                }
                out.push(char::from(CROCKFORD[usize::from((acc >> bits) & 31)]));
                written += 1;
            }
            acc &= (1 << bits) - 1;
        }
        out
    }
}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryKey(..)")
    }
}

/// Why a typed recovery key was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseRecoveryKeyError {
    #[error("{0:?} is not a symbol of a recovery key")]
    InvalidCharacter(char),
    #[error("a recovery key has {expected} symbols; this has {found}")]
    WrongLength { found: usize, expected: usize },
    /// The symbols decode, but their check does not match: a typo.
    #[error("the recovery key is mistyped")]
    Mistyped,
}

/// Reads a recovery key as a person types it: any case, spaces and dashes
/// anywhere, and I, L and O read as 1, 1 and 0 (Crockford's decoding).
impl FromStr for RecoveryKey {
    type Err = ParseRecoveryKeyError;

    fn from_str(s: &str) -> Result<RecoveryKey, ParseRecoveryKeyError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN + CHECK_LEN]);
        let (mut acc, mut bits, mut found, mut at) = (0u16, 0u32, 0usize, 0usize);
        for c in s.chars() {
            if c.is_whitespace() || c == '-' {
                continue;
            }
            let value = match c.to_ascii_uppercase() {
                'I' | 'L' => 1,
                'O' => 0,
                u => CROCKFORD
                    .iter()
                    .position(|&a| char::from(a) == u)
                    .ok_or(ParseRecoveryKeyError::InvalidCharacter(c))?,
            };
            found += 1;
            if found > SYMBOLS {
                continue;
            }
            acc = (acc << 5) | value as u16;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                bytes[at] = (acc >> bits) as u8;
                at += 1;
                acc &= (1 << bits) - 1;
            }
        }
        if found != SYMBOLS {
            return Err(ParseRecoveryKeyError::WrongLength {
                found,
                expected: SYMBOLS,
            });
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&bytes[..KEY_LEN]);
        if !constant_time_eq(&RecoveryKey::check(&key), &bytes[KEY_LEN..]) {
            return Err(ParseRecoveryKeyError::Mistyped);
        }
        Ok(RecoveryKey(key))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(super) fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 * bytes.len());
    push_hex(&mut s, bytes);
    s
}

/// Lower- or upper-case hex digits, an even number of them.
pub(super) fn unhex(s: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks(2)
        .map(|pair| Some((digit(pair[0])? << 4) | digit(pair[1])?))
        .collect()
}
