//! Command-line flags and environment variables.

use std::path::PathBuf;

use sitedesk_core::domain::DeskCode;

pub const USAGE: &str = "\
Usage: sitedesk [--data-dir DIR] [--desk-code CODE]
       sitedesk verify-audit [--data-dir DIR]
       sitedesk import-dictionary FILE [--data-dir DIR]

Commands:
  verify-audit       Check the audit trail's hash chain and report the first
                     broken row; exit status 0 intact, 1 broken, 2 error.
                     Reads the file only; the app may be open.
  import-dictionary  Make FILE the study's forms: a REDCap data dictionary
                     (.csv), the API's metadata answer (.json) or an ODM
                     project export (.xml). Audited like an import from
                     Settings; saved values are never dropped. Close the app
                     first.

Options:
  --data-dir DIR     Folder of the database file (env SITEDESK_DATA_DIR;
                     default: the user's application data folder)
  --desk-code CODE   Desk code for a new database, 1-6 characters
                     (env SITEDESK_DESK_CODE; default: random)
  -h, --help         Print this help
  -V, --version      Print the version

Environment:
  SITEDESK_LOG       Log filter, e.g. info or sitedesk_core=debug";

/// What the user asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cli {
    pub command: Subcommand,
    /// The file a command reads (`import-dictionary FILE`).
    pub file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub desk_code: Option<DeskCode>,
}

/// What to do: start the app, or one of the commands for IT staff.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Subcommand {
    #[default]
    Run,
    VerifyAudit,
    ImportDictionary,
}

pub enum Parsed {
    Run(Cli),
    /// Print this and exit (help, version).
    Exit(String),
}

impl Cli {
    /// Parses the flags; the environment fills in what they leave out.
    pub fn parse(args: impl Iterator<Item = String>) -> Result<Parsed, String> {
        let mut cli = Cli::default();
        let mut desk_code = None;
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or(format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "-h" | "--help" => return Ok(Parsed::Exit(USAGE.into())),
                "-V" | "--version" => {
                    return Ok(Parsed::Exit(format!(
                        "sitedesk {}",
                        env!("CARGO_PKG_VERSION")
                    )));
                }
                "--data-dir" => cli.data_dir = Some(PathBuf::from(value()?)),
                "--desk-code" => desk_code = Some(value()?),
                // WebKit's WebDriver starts the app with this switch when a
                // test drives it; the webview reads the automation flag itself.
                "--automation" => {}
                "verify-audit" if cli.command == Subcommand::Run => {
                    cli.command = Subcommand::VerifyAudit;
                }
                "import-dictionary" if cli.command == Subcommand::Run => {
                    cli.command = Subcommand::ImportDictionary;
                }
                file if cli.command == Subcommand::ImportDictionary
                    && cli.file.is_none()
                    && !file.starts_with('-') =>
                {
                    cli.file = Some(PathBuf::from(file));
                }
                other if !other.starts_with('-') => {
                    return Err(format!("unexpected argument {other}"));
                }
                other => return Err(format!("unknown option {other}")),
            }
        }
        if cli.command == Subcommand::ImportDictionary && cli.file.is_none() {
            return Err("import-dictionary needs a FILE".into());
        }
        if cli.data_dir.is_none() {
            cli.data_dir = std::env::var_os("SITEDESK_DATA_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from);
        }
        let desk_code = desk_code.or_else(|| {
            std::env::var("SITEDESK_DESK_CODE")
                .ok()
                .filter(|v| !v.is_empty())
        });
        if let Some(code) = desk_code {
            cli.desk_code =
                Some(DeskCode::parse(&code).ok_or(format!("invalid desk code {code:?}"))?);
        }
        Ok(Parsed::Run(cli))
    }
}

/// Where the app keeps its data when `--data-dir` is not given: the same
/// folder Tauri's `app_data_dir` names on Linux (`$XDG_DATA_HOME` or
/// `~/.local/share`, then the app's identifier), for commands that run
/// without a window.
pub fn default_data_dir(identifier: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/share"))
        })?;
    Some(base.join(identifier))
}

/// The operating-system account running the app, looked up by user id in
/// the system's user database; the environment (`USER`) only when that
/// fails, since service managers and WebDriver sessions often leave it unset.
pub fn os_account() -> String {
    whoami::username()
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| {
            ["USER", "LOGNAME", "USERNAME"]
                .iter()
                .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        })
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Cli, String> {
        match Cli::parse(args.iter().map(|s| s.to_string()))? {
            Parsed::Run(cli) => Ok(cli),
            Parsed::Exit(text) => Err(text),
        }
    }

    #[test]
    fn flags_are_parsed_in_both_spellings() {
        let cli = run(&["--data-dir", "/tmp/x", "--desk-code=k7q"]).unwrap();
        assert_eq!(cli.data_dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(cli.desk_code, DeskCode::parse("K7Q"));
    }

    #[test]
    fn bad_flags_are_refused() {
        assert_eq!(run(&["--data-dir"]), Err("--data-dir needs a value".into()));
        assert_eq!(
            run(&["--desk-code", "O0"]),
            Err("invalid desk code \"O0\"".into())
        );
        assert_eq!(
            run(&["--frobnicate"]),
            Err("unknown option --frobnicate".into())
        );
        assert_eq!(run(&["stray"]), Err("unexpected argument stray".into()));
        assert_eq!(
            run(&["--automation"]),
            Ok(Cli::default()),
            "WebDriver's switch is accepted"
        );
        assert!(run(&["--help"]).unwrap_err().starts_with("Usage"));
        assert_eq!(
            run(&["verify-audit", "verify-audit"]),
            Err("unexpected argument verify-audit".into())
        );
    }

    #[test]
    fn verify_audit_is_a_subcommand() {
        let cli = run(&["verify-audit", "--data-dir", "/d"]).unwrap();
        assert_eq!(
            (cli.command, cli.data_dir),
            (Subcommand::VerifyAudit, Some(PathBuf::from("/d")))
        );
    }

    #[test]
    fn import_dictionary_takes_one_file() {
        let cli = run(&["import-dictionary", "forms.csv", "--data-dir=/d"]).unwrap();
        assert_eq!(
            (cli.command, cli.file, cli.data_dir),
            (
                Subcommand::ImportDictionary,
                Some(PathBuf::from("forms.csv")),
                Some(PathBuf::from("/d"))
            )
        );
        assert_eq!(
            run(&["import-dictionary"]),
            Err("import-dictionary needs a FILE".into())
        );
        assert_eq!(
            run(&["import-dictionary", "a.csv", "b.csv"]),
            Err("unexpected argument b.csv".into())
        );
    }
}
