//! The command line's way in: on a desk whose data is encrypted, a command
//! asks a person's password (`--login NAME`) or the recovery key
//! (`--recovery-key`) before it reads anything. From a terminal the secret
//! is typed without echo; otherwise it is the first line of standard input
//! (scripts pipe it in).

use std::io::{BufRead as _, IsTerminal as _};
use std::path::Path;

use sitedesk_core::vault::{DataKey, RecoveryKey, Vault};

use crate::cli::Cli;

/// The data key of the desk in `data_dir`, or `None` for a desk whose
/// database an earlier version left plain (no key file yet).
pub fn data_key(cli: &Cli, data_dir: &Path) -> Result<Option<DataKey>, String> {
    if !Vault::exists(data_dir) {
        return Ok(None);
    }
    let vault = Vault::load(data_dir).map_err(|e| format!("the key file: {e}"))?;
    let key = if cli.recovery_key {
        let text = read_secret("Recovery key: ")?;
        let recovery: RecoveryKey = text
            .parse()
            .map_err(|_| "that is not a recovery key".to_owned())?;
        vault.unlock_with_recovery(&recovery)
    } else {
        let login = cli.login.as_deref().ok_or(
            "this desk's data is encrypted: give --login NAME (asks the password) or --recovery-key",
        )?;
        let password = read_secret(&format!("Password for {login}: "))?;
        vault.unlock(login, &password)
    };
    key.map(Some).map_err(|e| e.to_string())
}

fn read_secret(prompt: &str) -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt).map_err(|e| e.to_string());
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}
