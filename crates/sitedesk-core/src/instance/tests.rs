use super::*;

#[test]
fn a_claimed_folder_refuses_a_second_claim_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let first = claim(dir.path()).unwrap();
    assert_eq!(first.dir(), dir.path());
    // A second open of the lock file is another lock owner, as a second
    // process would be.
    match claim(dir.path()) {
        Err(InstanceError::AlreadyOpen { path }) => assert_eq!(path, dir.path()),
        other => panic!("a second claim: {other:?}"),
    }
    drop(first);
    claim(dir.path()).expect("free again once released");
}

#[test]
fn a_missing_folder_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("gone");
    match claim(&missing) {
        Err(e @ InstanceError::Io { .. }) => {
            assert!(e.message(Lang::EN).contains("gone"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_refusal_says_plainly_that_sitedesk_is_open_in_both_languages() {
    let e = InstanceError::AlreadyOpen {
        path: "/data/desk".into(),
    };
    assert_eq!(
        e.message(Lang::EN),
        "SiteDesk is already open on the data folder /data/desk. \
         Switch to its window, or close it and try again."
    );
    let zh = e.message(Lang::from_tag("zh-CN").unwrap());
    assert!(zh.contains("/data/desk") && zh.contains("已在"), "{zh}");
}

#[cfg(unix)]
mod modes {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn the_folder_is_made_700_new_or_existing() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("a/b");
        private_dir(&new).unwrap();
        assert_eq!(mode(&new), 0o700);
        let old = dir.path().join("old");
        std::fs::create_dir(&old).unwrap();
        set_mode(&old, 0o755);
        private_dir(&old).unwrap();
        assert_eq!(mode(&old), 0o700, "an existing folder is tightened");
    }

    #[test]
    fn files_written_here_are_600_new_or_existing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("d.sqlite3");
        private_database(&db).unwrap();
        assert_eq!(
            (mode(&db), std::fs::metadata(&db).unwrap().len()),
            (0o600, 0)
        );

        let wal = dir.path().join("d.sqlite3-wal");
        std::fs::write(&wal, b"left by an older version").unwrap();
        set_mode(&db, 0o644);
        set_mode(&wal, 0o644);
        private_database(&db).unwrap();
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
        assert!(
            !dir.path().join("d.sqlite3-shm").exists(),
            "nothing made up"
        );

        let bundle = dir.path().join("bundle.json");
        std::fs::write(&bundle, b"old").unwrap();
        set_mode(&bundle, 0o644);
        write_private(&bundle, b"{}").unwrap();
        assert_eq!(mode(&bundle), 0o600);
        assert_eq!(std::fs::read(&bundle).unwrap(), b"{}", "replaced");

        drop(claim(dir.path()).unwrap());
        assert_eq!(mode(&dir.path().join(LOCK_FILE)), 0o600);
    }
}
