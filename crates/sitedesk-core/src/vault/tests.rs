use super::*;

/// Argon2id at its cheapest, so the tests run in milliseconds; the
/// recommended cost is measured by the store benchmark.
const CHEAP: KdfParams = KdfParams {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

fn new_vault(dir: &Path) -> (Vault, DataKey, RecoveryKey) {
    Vault::create_with(dir, CHEAP, "admin", "correct horse").unwrap()
}

/// A loaded vault that wraps new slots cheaply too.
fn load(dir: &Path) -> Vault {
    let mut vault = Vault::load(dir).unwrap();
    vault.set_kdf(CHEAP);
    vault
}

#[test]
fn the_password_unlocks_the_data_key_and_a_wrong_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (vault, key, _) = new_vault(dir.path());
    assert_eq!(vault.unlock("admin", "correct horse").unwrap(), key);
    assert!(matches!(
        vault.unlock("admin", "correct horse "),
        Err(VaultError::WrongPassword)
    ));
    assert!(matches!(
        vault.unlock("Admin", "correct horse"),
        Err(VaultError::WrongPassword)
    ));
    assert!(matches!(
        vault.unlock("nobody", "correct horse"),
        Err(VaultError::WrongPassword)
    ));
}

#[test]
fn the_recovery_key_unlocks_the_same_data_key() {
    let dir = tempfile::tempdir().unwrap();
    let (vault, key, recovery) = new_vault(dir.path());
    let typed: RecoveryKey = recovery.formatted().to_lowercase().parse().unwrap();
    assert_eq!(vault.unlock_with_recovery(&typed).unwrap(), key);
    let other = RecoveryKey::generate().unwrap();
    assert!(matches!(
        vault.unlock_with_recovery(&other),
        Err(VaultError::WrongRecoveryKey)
    ));
}

#[test]
fn an_added_user_unlocks_the_same_data_key() {
    let dir = tempfile::tempdir().unwrap();
    let (mut vault, key, _) = new_vault(dir.path());
    vault.add_user(&key, "crc1", "s3cret crc").unwrap();
    assert_eq!(vault.unlock("crc1", "s3cret crc").unwrap(), key);
    assert_eq!(vault.logins().collect::<Vec<_>>(), ["admin", "crc1"]);
    assert!(matches!(
        vault.add_user(&key, "crc1", "another"),
        Err(VaultError::UserExists { .. })
    ));
    // A key that is not this desk's would be wrapped for a person and
    // open nothing: refused.
    let foreign = DataKey::generate().unwrap();
    assert!(matches!(
        vault.add_user(&foreign, "crc2", "pw"),
        Err(VaultError::ForeignKey)
    ));
    assert!(matches!(
        vault.add_user(&key, "   ", "pw"),
        Err(VaultError::InvalidLogin(_))
    ));
    assert!(matches!(
        vault.add_user(&key, "crc\u{202e}2", "pw"),
        Err(VaultError::InvalidLogin(_))
    ));
    assert!(matches!(
        vault.add_user(&key, "crc2", ""),
        Err(VaultError::EmptyPassword)
    ));
}

#[test]
fn changing_a_password_rewraps_and_the_old_one_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (mut vault, key, _) = new_vault(dir.path());
    let before = vault.file.slots[0].clone();
    assert!(matches!(
        vault.change_password("admin", "wrong", "new one"),
        Err(VaultError::WrongPassword)
    ));
    vault
        .change_password("admin", "correct horse", "new one")
        .unwrap();
    let after = &vault.file.slots[0];
    assert_ne!(before.kdf.salt, after.kdf.salt, "a new salt");
    assert_ne!(before.wrapped, after.wrapped);
    vault.save().unwrap();
    let vault = load(dir.path());
    assert!(matches!(
        vault.unlock("admin", "correct horse"),
        Err(VaultError::WrongPassword)
    ));
    assert_eq!(vault.unlock("admin", "new one").unwrap(), key);
}

#[test]
fn an_administrator_resets_a_password_with_the_data_key() {
    let dir = tempfile::tempdir().unwrap();
    let (mut vault, key, _) = new_vault(dir.path());
    vault.add_user(&key, "crc1", "forgotten").unwrap();
    vault.set_password(&key, "crc1", "fresh").unwrap();
    assert_eq!(vault.unlock("crc1", "fresh").unwrap(), key);
    assert!(vault.unlock("crc1", "forgotten").is_err());
    assert!(matches!(
        vault.set_password(&key, "nobody", "x"),
        Err(VaultError::NoSuchUser { .. })
    ));
}

#[test]
fn a_removed_user_unlocks_nothing_and_the_last_one_stays() {
    let dir = tempfile::tempdir().unwrap();
    let (mut vault, key, _) = new_vault(dir.path());
    vault.add_user(&key, "crc1", "pw").unwrap();
    vault.remove_user("crc1").unwrap();
    assert!(matches!(
        vault.unlock("crc1", "pw"),
        Err(VaultError::WrongPassword)
    ));
    assert!(matches!(
        vault.remove_user("admin"),
        Err(VaultError::LastUser)
    ));
    assert!(matches!(
        vault.remove_user("crc1"),
        Err(VaultError::NoSuchUser { .. })
    ));
}

#[test]
fn a_replaced_recovery_key_retires_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let (mut vault, key, old) = new_vault(dir.path());
    let new = vault.replace_recovery_key(&key).unwrap();
    assert_eq!(vault.unlock_with_recovery(&new).unwrap(), key);
    assert!(matches!(
        vault.unlock_with_recovery(&old),
        Err(VaultError::WrongRecoveryKey)
    ));
}

#[test]
fn the_key_file_round_trips_owner_only_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let (mut vault, key, recovery) = new_vault(dir.path());
    vault.add_user(&key, "crc1", "pw1").unwrap();
    assert!(!Vault::exists(dir.path()), "nothing written before save");
    vault.save().unwrap();
    assert!(Vault::exists(dir.path()));
    let loaded = load(dir.path());
    assert_eq!(loaded.unlock("admin", "correct horse").unwrap(), key);
    assert_eq!(loaded.unlock("crc1", "pw1").unwrap(), key);
    assert_eq!(loaded.unlock_with_recovery(&recovery).unwrap(), key);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, [KEY_FILE]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Saving again replaces the file in place.
    let mut loaded = loaded;
    loaded.remove_user("crc1").unwrap();
    loaded.save().unwrap();
    assert!(!load(dir.path()).has_user("crc1"));
}

#[test]
fn create_refuses_a_folder_with_a_key_file() {
    let dir = tempfile::tempdir().unwrap();
    new_vault(dir.path()).0.save().unwrap();
    assert!(matches!(
        Vault::create_with(dir.path(), CHEAP, "admin", "pw"),
        Err(VaultError::AlreadyExists(_))
    ));
    assert!(matches!(
        Vault::load(&dir.path().join("elsewhere")),
        Err(VaultError::Missing(_))
    ));
}

/// Saves a vault, lets `edit` change its JSON, and loads it again.
fn tampered(edit: impl FnOnce(&mut serde_json::Value)) -> (Result<Vault>, RecoveryKey) {
    let dir = tempfile::tempdir().unwrap();
    let (mut vault, key, recovery) = new_vault(dir.path());
    vault.add_user(&key, "crc1", "pw1").unwrap();
    vault.save().unwrap();
    let path = dir.path().join(KEY_FILE);
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut json);
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    (Vault::load(dir.path()), recovery)
}

/// Flips the lowest bit of the `at`-th byte of a hex string.
fn flip(hex: &mut serde_json::Value, at: usize) {
    let mut bytes = unhex(hex.as_str().unwrap()).unwrap();
    bytes[at] ^= 1;
    *hex = serde_json::Value::String(super::keys::hex(&bytes));
}

#[test]
fn a_flipped_byte_in_a_slot_opens_nothing() {
    for field in ["wrapped", "nonce"] {
        for at in [0, 11] {
            let (vault, _) = tampered(|j| flip(&mut j["slots"][0][field], at));
            assert!(
                matches!(
                    vault.unwrap().unlock("admin", "correct horse"),
                    Err(VaultError::WrongPassword)
                ),
                "{field}[{at}]"
            );
        }
    }
    let (vault, _) = tampered(|j| flip(&mut j["slots"][0]["wrapped"], KEY_LEN + 3));
    assert!(vault.unwrap().unlock("admin", "correct horse").is_err());
    let (vault, _) = tampered(|j| flip(&mut j["slots"][0]["kdf"]["salt"], 5));
    assert!(vault.unwrap().unlock("admin", "correct horse").is_err());
    let (vault, _) = tampered(|j| j["slots"][0]["kdf"]["iterations"] = 2.into());
    assert!(vault.unwrap().unlock("admin", "correct horse").is_err());
}

#[test]
fn a_slot_given_another_login_or_kind_opens_nothing() {
    // crc1's slot renamed to a login that has none: crc1's password no
    // longer opens it under the new name (the login is associated data).
    let (vault, _) = tampered(|j| j["slots"][2]["login"] = "mallory".into());
    let vault = vault.unwrap();
    assert!(vault.has_user("mallory"));
    assert!(matches!(
        vault.unlock("mallory", "pw1"),
        Err(VaultError::WrongPassword)
    ));
    // Two slots' logins swapped: each password now meets the other's slot.
    let (vault, _) = tampered(|j| {
        j["slots"][0]["login"] = "crc1".into();
        j["slots"][2]["login"] = "admin".into();
    });
    let vault = vault.unwrap();
    assert!(vault.unlock("admin", "pw1").is_err());
    assert!(vault.unlock("admin", "correct horse").is_err());
    assert!(vault.unlock("crc1", "pw1").is_err());
    // The recovery slot turned into a person's, and a person's into the
    // recovery slot.
    let (vault, recovery) = tampered(|j| {
        j["slots"][1]["kind"] = "user".into();
        j["slots"][1]["login"] = "rec".into();
        j["slots"][2]["kind"] = "recovery".into();
        j["slots"][2]
            .as_object_mut()
            .unwrap()
            .remove("login")
            .unwrap();
    });
    let vault = vault.unwrap();
    assert!(matches!(
        vault.unlock_with_recovery(&recovery),
        Err(VaultError::WrongRecoveryKey)
    ));
    assert!(vault.unlock("rec", "pw1").is_err());
}

#[test]
fn a_key_file_that_breaks_the_rules_is_refused() {
    let (vault, _) = tampered(|j| j["format"] = 2.into());
    assert!(matches!(
        vault,
        Err(VaultError::UnsupportedFormat { found: 2 })
    ));
    let (vault, _) = tampered(|j| j["slots"][2]["login"] = "admin".into());
    assert!(matches!(vault, Err(VaultError::Malformed(_))), "{vault:?}");
    let (vault, _) = tampered(|j| {
        j["slots"].as_array_mut().unwrap().remove(1);
    });
    assert!(matches!(vault, Err(VaultError::Malformed(_))));
    let (vault, _) = tampered(|j| j["slots"][0]["extra"] = 1.into());
    assert!(matches!(vault, Err(VaultError::Malformed(_))));
    // Asking for more memory than any real slot would: refused, not
    // allocated.
    let (vault, _) = tampered(|j| j["slots"][0]["kdf"]["memory_kib"] = (4u64 << 20).into());
    assert!(matches!(
        vault.unwrap().unlock("admin", "correct horse"),
        Err(VaultError::Malformed(_))
    ));
}

#[test]
fn the_recovery_key_prints_in_groups_and_reads_back_as_typed() {
    let key = RecoveryKey::generate().unwrap();
    let printed = key.formatted();
    let groups: Vec<&str> = printed.split('-').collect();
    assert_eq!(groups.len(), 14, "{}", printed.as_str());
    assert!(groups.iter().all(|g| g.len() == 4));
    assert!(
        printed
            .chars()
            .all(|c| c == '-' || "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c))
    );
    let same = |typed: &str| {
        let parsed: RecoveryKey = typed.parse().unwrap();
        assert_eq!(parsed.formatted(), printed, "{typed}");
    };
    same(&printed);
    same(&printed.to_lowercase());
    same(&printed.replace('-', ""));
    same(&printed.replace('-', " "));
    same(&format!("  {}\n", printed.replace('-', " - ")));
    // Crockford's look-alikes: I and L read as 1, O as 0.
    same(&printed.replace('1', "l").replace('0', "O"));
    same(&printed.replace('1', "I").replace('0', "o"));
}

#[test]
fn a_mistyped_recovery_key_says_so() {
    let printed = RecoveryKey::generate().unwrap().formatted();
    let mut typo: Vec<char> = printed.chars().collect();
    typo[5] = if typo[5] == 'A' { 'B' } else { 'A' };
    let typo: String = typo.into_iter().collect();
    assert_eq!(
        typo.parse::<RecoveryKey>().unwrap_err(),
        ParseRecoveryKeyError::Mistyped
    );
    assert_eq!(
        printed[..printed.len() - 1]
            .parse::<RecoveryKey>()
            .unwrap_err(),
        ParseRecoveryKeyError::WrongLength {
            found: 55,
            expected: 56
        }
    );
    assert_eq!(
        format!("{}A", printed.as_str())
            .parse::<RecoveryKey>()
            .unwrap_err(),
        ParseRecoveryKeyError::WrongLength {
            found: 57,
            expected: 56
        }
    );
    let with_u = format!("U{}", &printed[1..]);
    assert_eq!(
        with_u.parse::<RecoveryKey>().unwrap_err(),
        ParseRecoveryKeyError::InvalidCharacter('U')
    );
}

#[test]
fn the_audit_key_is_derived_and_no_key_shows_in_debug() {
    let key = DataKey::generate().unwrap();
    let mac = key.audit_mac_key();
    assert_eq!(mac.as_bytes(), key.audit_mac_key().as_bytes());
    assert_ne!(mac.as_bytes(), key.bytes());
    assert_ne!(
        mac.as_bytes(),
        DataKey::generate().unwrap().audit_mac_key().as_bytes()
    );
    let shown = format!("{key:?} {mac:?} {:?}", RecoveryKey::generate().unwrap());
    assert_eq!(shown, "DataKey(..) AuditMacKey(..) RecoveryKey(..)");
    let literal = key.sqlcipher_literal();
    assert_eq!(literal.len(), 67);
    assert!(literal.starts_with("x'") && literal.ends_with('\''));
}

#[test]
fn hex_round_trips() {
    let bytes = [0u8, 1, 0x7f, 0x80, 0xff];
    assert_eq!(super::keys::hex(&bytes), "00017f80ff");
    assert_eq!(unhex("00017F80ff").unwrap(), bytes);
    assert!(unhex("0").is_none());
    assert!(unhex("zz").is_none());
}
