//! One SiteDesk per data folder, with the real `sitedesk` binary: while a
//! desk holds its folder, the app and both commands started on it exit
//! non-zero saying so in the system's language, and the open desk goes on
//! untouched. Runs `SITEDESK_APP_BIN`, else the `sitedesk` binary built
//! beside this test binary (`cargo build -p sitedesk`); it fails, never
//! skips, when there is none. The app is started without a display: it
//! must refuse before it makes a window.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sitedesk_core::desk::{Desk, DeskOptions};
use sitedesk_core::i18n::Lang;
use tokio_util::sync::CancellationToken;

/// The built app: `SITEDESK_APP_BIN`, else `target/<profile>/sitedesk`
/// (this binary is `target/<profile>/deps/tests-…`).
fn app_binary() -> PathBuf {
    let bin = std::env::var_os("SITEDESK_APP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().expect("this test binary");
            let profile = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>/deps");
            profile.join(format!("sitedesk{}", std::env::consts::EXE_SUFFIX))
        });
    assert!(
        bin.is_file(),
        "{} is not built: cargo build -p sitedesk (or set SITEDESK_APP_BIN)",
        bin.display()
    );
    bin
}

/// `sitedesk ARGS --data-dir DIR` in the locale `lang`, without a display.
fn sitedesk(args: &[&str], dir: &Path, lang: &str) -> Output {
    Command::new(app_binary())
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("LANG", lang)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("SITEDESK_DATA_DIR")
        .output()
        .expect("run sitedesk")
}

async fn audit_rows(desk: &Desk) -> u64 {
    let chain = desk
        .store()
        .readers()
        .verify_audit(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(chain.broken, None);
    chain.rows_checked
}

#[tokio::test]
async fn a_second_sitedesk_on_an_open_folder_exits_saying_so_and_the_first_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::open(DeskOptions::new(dir.path(), "crc"))
        .await
        .unwrap();
    let forms = desk.store().readers().dictionary_hash().await.unwrap();
    let rows = audit_rows(&desk).await;
    let dictionary = dir.path().join("forms.csv");
    let mut csv = include_str!("../crates/sitedesk-core/src/forms/demo_dictionary.csv").to_owned();
    csv.push_str("probe,demographics,,text,Probe,,,,,,,,,,,,,\n");
    std::fs::write(&dictionary, csv).unwrap();
    let dictionary = dictionary.to_str().unwrap();

    let said = format!(
        "sitedesk: SiteDesk is already open on the data folder {}. \
         Switch to its window, or close it and try again.\n",
        dir.path().display()
    );
    for (args, status) in [
        (&["verify-audit"][..], 2),
        (&["import-dictionary", dictionary][..], 2),
        (&[][..], 1),
    ] {
        let out = sitedesk(args, dir.path(), "en_US.UTF-8");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(status), "{args:?}: {stderr}");
        assert!(stderr.ends_with(&said), "{args:?} said: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = sitedesk(&["verify-audit"], dir.path(), "zh_CN.UTF-8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "SiteDesk 已在数据文件夹 {} 上打开",
            dir.path().display()
        )),
        "in the system's language: {stderr}"
    );

    // The open desk is untouched: the refused import changed nothing, and
    // it still writes.
    assert_eq!(
        desk.store().readers().dictionary_hash().await.unwrap(),
        forms
    );
    assert_eq!(audit_rows(&desk).await, rows);
    desk.store()
        .writer()
        .set_preferences(desk.actor(), "Dana Lee".into(), Lang::EN)
        .await
        .expect("the open desk still writes");
    assert!(audit_rows(&desk).await > rows);
    desk.shutdown().await;

    // Closed, the folder is free: the same command now verifies it.
    let out = sitedesk(&["verify-audit"], dir.path(), "en_US.UTF-8");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("audit trail intact"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
