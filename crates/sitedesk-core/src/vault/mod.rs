//! The vault: the database's key, kept wrapped in a key file beside the
//! database, one slot per person at the desk and one for the recovery key.
//!
//! - The [`DataKey`] is 256 random bits: SQLCipher's raw key for the
//!   database, and the root of the keys derived from it
//!   ([`DataKey::audit_mac_key`]). It is never derived from a password, so
//!   changing a password or adding a person re-wraps one slot and leaves
//!   the database as it is.
//! - Each slot holds the data key encrypted (AES-256-GCM) under a
//!   key-encryption key that Argon2id derives from the slot's secret (a
//!   person's password, or the recovery key) with the slot's own random
//!   salt and parameters. The associated data binds the slot's kind and
//!   login and the file's format, so a slot moved to another login or made
//!   a recovery slot no longer opens. A wrong password is only a failed
//!   decryption: [`VaultError::WrongPassword`], with no detail.
//! - The key file (`keys.json`) is JSON, written whole to a temporary file,
//!   flushed to disk and renamed over the old one, so a crash leaves the
//!   old file or the new one; on Unix it is readable by its owner only.
//!
//! Deliberately not here: who may do what (roles, sign-in, the lock
//! screen), slowing down repeated failures, and the database itself
//! (`store` opens it with the key). Argon2id takes a few hundred
//! milliseconds on purpose: call these functions off the async runtime.

mod keys;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use aes_gcm::aead::AeadInPlace as _;
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce, Tag};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use keys::{AuditMacKey, DataKey, KEY_LEN, ParseRecoveryKeyError, RecoveryKey};

use keys::{constant_time_eq, hex, random, unhex};

/// The key file's name, in the data folder beside the database.
pub const KEY_FILE: &str = "keys.json";
/// The key file's format, bound into every slot's associated data.
const FORMAT: u32 = 1;
/// Bytes of a slot's Argon2id salt (RFC 9106 recommends 128 bits).
const SALT_LEN: usize = 16;
/// Bytes of an AES-GCM nonce. Each slot's key is new (a fresh salt on
/// every wrap), so a random nonce never meets the same key twice.
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// The largest Argon2id parameters a key file may ask for: a file edited to
/// ask for more would make unlocking allocate without limit.
const MAX_MEMORY_KIB: u32 = 1 << 20;
const MAX_ITERATIONS: u32 = 64;
const MAX_PARALLELISM: u32 = 16;

/// Argon2id's cost, stored in each slot so that a later version can raise
/// it for new slots and still open the old ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB (Argon2's m).
    pub memory_kib: u32,
    /// Passes over the memory (Argon2's t).
    pub iterations: u32,
    /// Lanes (Argon2's p). The `argon2` crate computes them one after the
    /// other, so more lanes cost no less time here; the value is part of
    /// the function, and an attacker's parallel hardware gains nothing.
    pub parallelism: u32,
}

impl KdfParams {
    /// RFC 9106's second recommended option (section 4): 64 MiB, 3 passes,
    /// 4 lanes, for machines where 2 GiB per derivation is too much. On the
    /// 2-core reference machine an unlock takes about 0.17 s in a release
    /// build (BENCHMARKS.md) and 0.3 s in a debug one, well under the 1 s
    /// allowed for signing in, and costs an attacker far more per guess
    /// than OWASP's minimum (19 MiB, 2 passes).
    pub const RECOMMENDED: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 4,
    };

    fn argon2(self) -> Result<Argon2<'static>, VaultError> {
        if self.memory_kib > MAX_MEMORY_KIB
            || self.iterations > MAX_ITERATIONS
            || self.parallelism > MAX_PARALLELISM
        {
            return Err(VaultError::Malformed(format!(
                "Argon2id parameters out of bounds: {self:?}"
            )));
        }
        let params = Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(KEY_LEN),
        )
        .map_err(|e| VaultError::Malformed(format!("Argon2id parameters {self:?}: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// The key-encryption key for `secret` with `salt`.
    fn derive(self, secret: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>, VaultError> {
        let argon2 = self.argon2()?;
        // Argon2's working memory holds values derived from the secret:
        // wiped on drop, like the key.
        let mut memory = Zeroizing::new(vec![Block::default(); argon2.params().block_count()]);
        let mut kek = Zeroizing::new([0u8; KEY_LEN]);
        argon2
            .hash_password_into_with_memory(secret, salt, kek.as_mut(), memory.as_mut_slice())
            .map_err(|e| VaultError::Malformed(format!("Argon2id: {e}")))?;
        Ok(kek)
    }
}

/// What went wrong with the key file or a key.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The password does not open the slot, or there is no slot for the
    /// login: the two are not told apart.
    #[error("wrong login or password")]
    WrongPassword,
    #[error("the recovery key does not open this key file")]
    WrongRecoveryKey,
    /// A data key that is not the one this key file wraps (it would be
    /// wrapped for a person and open nothing).
    #[error("the key is not this desk's data key")]
    ForeignKey,
    #[error("{login} already has a key slot")]
    UserExists { login: String },
    #[error("{login} has no key slot")]
    NoSuchUser { login: String },
    /// Removing it would leave only the recovery key.
    #[error("the last person's key slot cannot be removed")]
    LastUser,
    #[error("not a valid login: {0:?}")]
    InvalidLogin(String),
    #[error("the password is empty")]
    EmptyPassword,
    /// `create` where a key file exists: replacing it would lose the key
    /// of the database it opens.
    #[error("a key file already exists at {0}")]
    AlreadyExists(PathBuf),
    #[error("there is no key file at {0}")]
    Missing(PathBuf),
    #[error("the key file's format {found} is not one this app reads ({FORMAT})")]
    UnsupportedFormat { found: u32 },
    /// The file is not a key file this app wrote, or was edited.
    #[error("the key file is not valid: {0}")]
    Malformed(String),
    #[error("the system's random generator failed: {0}")]
    Random(String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = VaultError> = std::result::Result<T, E>;

/// Which secret opens a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SlotKind {
    User,
    Recovery,
}

/// The key-derivation function of a slot, with its salt.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kdf {
    /// Always `argon2id` (a name, so a later format can add another).
    algorithm: String,
    /// Argon2's version number: 19 (0x13).
    version: u32,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
}

impl Kdf {
    fn params(&self) -> KdfParams {
        KdfParams {
            memory_kib: self.memory_kib,
            iterations: self.iterations,
            parallelism: self.parallelism,
        }
    }
}

/// One wrapped copy of the data key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Slot {
    kind: SlotKind,
    /// The person's login on the desk; absent on the recovery slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    login: Option<String>,
    kdf: Kdf,
    nonce: String,
    /// The data key encrypted, then the 16-byte tag, in hex.
    wrapped: String,
}

/// The key file as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: u32,
    /// An HKDF output of the data key that tells it from any other key
    /// (see `DataKey::check_value`); not a secret.
    key_check: String,
    slots: Vec<Slot>,
}

/// The associated data of a slot: format, kind and login, so that no slot
/// opens as another.
fn aad(kind: SlotKind, login: Option<&str>) -> Vec<u8> {
    let kind = match kind {
        SlotKind::User => "user",
        SlotKind::Recovery => "recovery",
    };
    format!(
        "sitedesk key slot\0format {FORMAT}\0{kind}\0{}",
        login.unwrap_or("")
    )
    .into_bytes()
}

impl Slot {
    /// Wraps `key` under `secret` with a fresh salt and nonce.
    fn wrap(
        kind: SlotKind,
        login: Option<&str>,
        secret: &[u8],
        key: &DataKey,
        params: KdfParams,
    ) -> Result<Slot> {
        let salt = random::<SALT_LEN>()?;
        let nonce = random::<NONCE_LEN>()?;
        let kek = params.derive(secret, salt.as_ref())?;
        let cipher = Aes256Gcm::new(kek.as_ref().into());
        let mut buffer = Zeroizing::new(*key.bytes());
        let tag = cipher
            .encrypt_in_place_detached(
                Nonce::from_slice(nonce.as_ref()),
                &aad(kind, login),
                buffer.as_mut(),
            )
            .map_err(|_| VaultError::Malformed("AES-GCM refused to encrypt".into()))?;
        let mut wrapped = buffer.to_vec();
        wrapped.extend_from_slice(&tag);
        Ok(Slot {
            kind,
            login: login.map(str::to_owned),
            kdf: Kdf {
                algorithm: "argon2id".into(),
                version: 0x13,
                memory_kib: params.memory_kib,
                iterations: params.iterations,
                parallelism: params.parallelism,
                salt: hex(salt.as_ref()),
            },
            nonce: hex(nonce.as_ref()),
            wrapped: hex(&wrapped),
        })
    }

    /// The data key, if `secret` opens this slot; `None` when the
    /// decryption fails (a wrong secret, or a slot that was changed).
    fn unwrap_key(&self, secret: &[u8]) -> Result<Option<DataKey>> {
        if self.kdf.algorithm != "argon2id" || self.kdf.version != 0x13 {
            return Err(VaultError::Malformed(format!(
                "unknown key derivation {} version {}",
                self.kdf.algorithm, self.kdf.version
            )));
        }
        let bad = |what: &str| VaultError::Malformed(format!("a slot's {what} is not valid"));
        let salt = unhex(&self.kdf.salt).ok_or_else(|| bad("salt"))?;
        let nonce = unhex(&self.nonce)
            .filter(|n| n.len() == NONCE_LEN)
            .ok_or_else(|| bad("nonce"))?;
        let wrapped = unhex(&self.wrapped)
            .filter(|w| w.len() == KEY_LEN + TAG_LEN)
            .ok_or_else(|| bad("wrapped key"))?;
        let kek = self.kdf.params().derive(secret, &salt)?;
        let cipher = Aes256Gcm::new(kek.as_ref().into());
        let mut buffer = Zeroizing::new([0u8; KEY_LEN]);
        buffer.copy_from_slice(&wrapped[..KEY_LEN]);
        let opened = cipher.decrypt_in_place_detached(
            Nonce::from_slice(&nonce),
            &aad(self.kind, self.login.as_deref()),
            buffer.as_mut(),
            Tag::from_slice(&wrapped[KEY_LEN..]),
        );
        Ok(opened.ok().map(|()| DataKey::from_bytes(buffer)))
    }
}

/// The key file of a data folder, in memory. Changes are kept in memory
/// until [`Vault::save`].
#[derive(Debug, Clone)]
pub struct Vault {
    path: PathBuf,
    file: KeyFile,
    /// The cost of the slots this vault wraps from now on.
    kdf: KdfParams,
}

/// A login as a slot names it: not blank, no control characters and no
/// bidirectional controls (it is shown to people, and an override would
/// make it read as another), no NUL (it is bound into the slot's
/// associated data).
fn check_login(login: &str) -> Result<()> {
    let bidi = |c: char| matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if login.trim().is_empty() || login.chars().any(|c| c.is_control() || bidi(c)) {
        return Err(VaultError::InvalidLogin(login.to_owned()));
    }
    Ok(())
}

fn check_password(password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(VaultError::EmptyPassword);
    }
    Ok(())
}

impl Vault {
    /// A new vault for a new desk in `dir`: a new random data key, wrapped
    /// for the administrator's password and for a new recovery key. Nothing
    /// is written until [`Vault::save`]. Refuses a folder that already has
    /// a key file.
    pub fn create(
        dir: &Path,
        admin_login: &str,
        password: &str,
    ) -> Result<(Vault, DataKey, RecoveryKey)> {
        Vault::create_with(dir, KdfParams::RECOMMENDED, admin_login, password)
    }

    /// [`Vault::create`] with other Argon2id parameters (tests, benchmarks).
    pub fn create_with(
        dir: &Path,
        kdf: KdfParams,
        admin_login: &str,
        password: &str,
    ) -> Result<(Vault, DataKey, RecoveryKey)> {
        let path = dir.join(KEY_FILE);
        if path.exists() {
            return Err(VaultError::AlreadyExists(path));
        }
        check_login(admin_login)?;
        check_password(password)?;
        kdf.argon2()?;
        let key = DataKey::generate()?;
        let recovery = RecoveryKey::generate()?;
        let slots = vec![
            Slot::wrap(
                SlotKind::User,
                Some(admin_login),
                password.as_bytes(),
                &key,
                kdf,
            )?,
            Slot::wrap(SlotKind::Recovery, None, recovery.bytes(), &key, kdf)?,
        ];
        let vault = Vault {
            path,
            file: KeyFile {
                format: FORMAT,
                key_check: hex(key.check_value().as_ref()),
                slots,
            },
            kdf,
        };
        Ok((vault, key, recovery))
    }

    /// Whether `dir` has a key file.
    pub fn exists(dir: &Path) -> bool {
        dir.join(KEY_FILE).exists()
    }

    /// Reads the key file of `dir`. New slots will be wrapped with
    /// [`KdfParams::RECOMMENDED`] (see [`Vault::set_kdf`]).
    pub fn load(dir: &Path) -> Result<Vault> {
        let path = dir.join(KEY_FILE);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(VaultError::Missing(path));
            }
            Err(source) => {
                return Err(VaultError::Io {
                    what: "reading the key file",
                    path,
                    source,
                });
            }
        };
        #[derive(Deserialize)]
        struct Format {
            format: u32,
        }
        let format: Format = serde_json::from_slice(&text)
            .map_err(|e| VaultError::Malformed(format!("not a key file: {e}")))?;
        if format.format != FORMAT {
            return Err(VaultError::UnsupportedFormat {
                found: format.format,
            });
        }
        let file: KeyFile =
            serde_json::from_slice(&text).map_err(|e| VaultError::Malformed(e.to_string()))?;
        validate(&file)?;
        Ok(Vault {
            path,
            file,
            kdf: KdfParams::RECOMMENDED,
        })
    }

    /// The Argon2id parameters of the slots wrapped from now on.
    pub fn set_kdf(&mut self, kdf: KdfParams) {
        self.kdf = kdf;
    }

    /// The key file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The logins that have a slot, in the file's order.
    pub fn logins(&self) -> impl Iterator<Item = &str> {
        self.file.slots.iter().filter_map(|s| s.login.as_deref())
    }

    pub fn has_user(&self, login: &str) -> bool {
        self.user_slot(login).is_some()
    }

    fn user_slot(&self, login: &str) -> Option<usize> {
        self.file
            .slots
            .iter()
            .position(|s| s.kind == SlotKind::User && s.login.as_deref() == Some(login))
    }

    fn recovery_slot(&self) -> usize {
        self.file
            .slots
            .iter()
            .position(|s| s.kind == SlotKind::Recovery)
            .expect("validated: exactly one recovery slot")
    }

    /// The data key, if `password` is `login`'s. An unknown login costs the
    /// same derivation as a known one and gets the same error.
    pub fn unlock(&self, login: &str, password: &str) -> Result<DataKey> {
        let Some(i) = self.user_slot(login) else {
            // Same cost as a real slot, so the time taken does not tell
            // whether the login exists.
            let _ = self.kdf.derive(password.as_bytes(), &[0u8; SALT_LEN]);
            return Err(VaultError::WrongPassword);
        };
        let key = self.file.slots[i]
            .unwrap_key(password.as_bytes())?
            .ok_or(VaultError::WrongPassword)?;
        self.check_key(&key)?;
        Ok(key)
    }

    /// The data key, opened with the recovery key.
    pub fn unlock_with_recovery(&self, recovery: &RecoveryKey) -> Result<DataKey> {
        let key = self.file.slots[self.recovery_slot()]
            .unwrap_key(recovery.bytes())?
            .ok_or(VaultError::WrongRecoveryKey)?;
        self.check_key(&key)?;
        Ok(key)
    }

    /// Refuses a key that is not the one this file wraps.
    fn check_key(&self, key: &DataKey) -> Result<()> {
        let stored = unhex(&self.file.key_check).unwrap_or_default();
        if constant_time_eq(&stored, key.check_value().as_ref()) {
            Ok(())
        } else {
            Err(VaultError::ForeignKey)
        }
    }

    /// Wraps the data key for a new person. `key` is the unlocked data key
    /// of whoever adds them (an administrator signed in).
    pub fn add_user(&mut self, key: &DataKey, login: &str, password: &str) -> Result<()> {
        check_login(login)?;
        check_password(password)?;
        self.check_key(key)?;
        if self.has_user(login) {
            return Err(VaultError::UserExists {
                login: login.to_owned(),
            });
        }
        let slot = Slot::wrap(
            SlotKind::User,
            Some(login),
            password.as_bytes(),
            key,
            self.kdf,
        )?;
        self.file.slots.push(slot);
        Ok(())
    }

    /// Sets `login`'s password without the old one (an administrator
    /// resetting a forgotten password, with the data key unlocked).
    pub fn set_password(&mut self, key: &DataKey, login: &str, password: &str) -> Result<()> {
        check_password(password)?;
        self.check_key(key)?;
        let i = self
            .user_slot(login)
            .ok_or_else(|| VaultError::NoSuchUser {
                login: login.to_owned(),
            })?;
        self.file.slots[i] = Slot::wrap(
            SlotKind::User,
            Some(login),
            password.as_bytes(),
            key,
            self.kdf,
        )?;
        Ok(())
    }

    /// Re-wraps `login`'s slot under `new`, with a new salt; `old` must open
    /// it. The old password opens nothing once the vault is saved.
    pub fn change_password(&mut self, login: &str, old: &str, new: &str) -> Result<()> {
        check_password(new)?;
        let key = self.unlock(login, old)?;
        self.set_password(&key, login, new)
    }

    /// Removes `login`'s slot. Their password then opens nothing; a copy of
    /// the data key they took while they could unlock still opens the
    /// database (the data key is not changed).
    pub fn remove_user(&mut self, login: &str) -> Result<()> {
        let i = self
            .user_slot(login)
            .ok_or_else(|| VaultError::NoSuchUser {
                login: login.to_owned(),
            })?;
        if self.logins().count() == 1 {
            return Err(VaultError::LastUser);
        }
        self.file.slots.remove(i);
        Ok(())
    }

    /// A new recovery key in place of the old one, which opens nothing once
    /// the vault is saved.
    pub fn replace_recovery_key(&mut self, key: &DataKey) -> Result<RecoveryKey> {
        self.check_key(key)?;
        let recovery = RecoveryKey::generate()?;
        let slot = Slot::wrap(SlotKind::Recovery, None, recovery.bytes(), key, self.kdf)?;
        let i = self.recovery_slot();
        self.file.slots[i] = slot;
        Ok(recovery)
    }

    /// Writes the key file: a temporary file beside it, flushed to disk,
    /// renamed over the old one, and the folder flushed, so a crash at any
    /// point leaves the old file or the new one. Owner-only on Unix.
    pub fn save(&self) -> Result<()> {
        let text = serde_json::to_vec_pretty(&self.file).expect("the key file serializes");
        write_atomically(&self.path, &text)
    }
}

/// The checks `load` makes beyond the JSON's shape.
fn validate(file: &KeyFile) -> Result<()> {
    let bad = |m: &str| Err(VaultError::Malformed(m.to_owned()));
    if unhex(&file.key_check).is_none_or(|c| c.len() != 32) {
        return bad("the key check is not 32 bytes of hex");
    }
    let recovery = file
        .slots
        .iter()
        .filter(|s| s.kind == SlotKind::Recovery)
        .count();
    if recovery != 1 {
        return bad("there must be exactly one recovery slot");
    }
    let mut logins = std::collections::BTreeSet::new();
    for slot in &file.slots {
        match (slot.kind, &slot.login) {
            (SlotKind::User, Some(login)) => {
                check_login(login)?;
                if !logins.insert(login.as_str()) {
                    return bad("two slots have the same login");
                }
            }
            (SlotKind::User, None) => return bad("a person's slot has no login"),
            (SlotKind::Recovery, Some(_)) => return bad("the recovery slot has a login"),
            (SlotKind::Recovery, None) => {}
        }
    }
    if logins.is_empty() {
        return bad("no person has a slot");
    }
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let io = |what: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| VaultError::Io { what, path, source }
    };
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .map_err(io("creating the key file", &tmp))?;
    #[cfg(unix)]
    {
        // A temporary file left by an earlier crash keeps its old mode.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io("restricting the key file", &tmp))?;
    }
    file.write_all(bytes)
        .map_err(io("writing the key file", &tmp))?;
    file.sync_all().map_err(io("flushing the key file", &tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io("replacing the key file", path))?;
    #[cfg(unix)]
    {
        // The rename is durable only once the folder's entry is.
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("flushing the data folder", dir))?;
    }
    Ok(())
}
