//! Command-line flags, environment variables and subcommands (clap), the
//! data folder when none is given, and the operating-system account.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sitedesk_core::domain::DeskCode;

/// SiteDesk: screening, enrollment and case report forms at a clinical
/// trial site's desk, offline first, synced with the study's REDCap.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(
    name = "sitedesk",
    version,
    after_help = "Environment:\n  SITEDESK_LOG  Log filter, e.g. info or sitedesk_core=debug"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Folder of the database file (env SITEDESK_DATA_DIR; default: the
    /// user's application data folder)
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Desk code for a new database, 1-6 characters (env
    /// SITEDESK_DESK_CODE; default: random)
    #[arg(long, value_name = "CODE", value_parser = desk_code)]
    pub desk_code: Option<DeskCode>,
    /// On a desk whose data is encrypted, the person whose password a
    /// command asks for (typed, or the first line of standard input)
    #[arg(long, value_name = "NAME", global = true)]
    pub login: Option<String>,
    /// Open an encrypted desk with its recovery key instead of a password
    #[arg(long, global = true, conflicts_with = "login")]
    pub recovery_key: bool,
    /// Lock the desk after this many seconds without input, instead of the
    /// desk's setting (tests of the lock)
    #[arg(long, value_name = "SECONDS", hide = true, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub lock_seconds: Option<u32>,
    /// WebKit's WebDriver starts the app with this switch when a test
    /// drives it; the webview reads the automation flag itself.
    #[arg(long, hide = true)]
    automation: bool,
}

/// The commands for IT staff; without one, the app starts.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Check the audit trail's hash chain and report the first broken row;
    /// exit status 0 intact, 1 broken, 2 error. Asks a password (--login)
    /// or the recovery key; close the app first (it refuses while SiteDesk
    /// has the folder open).
    VerifyAudit,
    /// Make FILE the study's forms: a REDCap data dictionary (.csv), the
    /// API's metadata answer (.json) or an ODM project export (.xml).
    /// Audited like an import from Settings; saved values are never
    /// dropped. Close the app first (it refuses while SiteDesk has the
    /// folder open).
    ImportDictionary {
        /// The dictionary, metadata or project file
        file: PathBuf,
    },
    /// Restore the backup folder FROM (Settings > Backup makes them) into
    /// the data folder, which must hold no desk yet; refused unless the
    /// backup's audit trail and data verify. Asks a password of the backup
    /// (--login) or its recovery key.
    Restore {
        /// The backup folder
        from: PathBuf,
    },
}

impl Cli {
    /// The command line, with the environment filling in what its flags
    /// leave out (an empty variable counts as unset, as shells and service
    /// files leave them).
    pub fn from_args_and_env() -> Result<Cli, clap::Error> {
        use clap::Parser as _;
        let mut cli = Cli::parse();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if cli.data_dir.is_none() {
            cli.data_dir = var("SITEDESK_DATA_DIR").map(PathBuf::from);
        }
        if cli.desk_code.is_none()
            && let Some(code) = var("SITEDESK_DESK_CODE")
        {
            let parsed = desk_code(&code).map_err(|e| {
                use clap::CommandFactory as _;
                Cli::command().error(clap::error::ErrorKind::ValueValidation, e)
            })?;
            cli.desk_code = Some(parsed);
        }
        Ok(cli)
    }
}

fn desk_code(code: &str) -> Result<DeskCode, String> {
    DeskCode::parse(code).ok_or_else(|| format!("invalid desk code {code:?}"))
}

/// Where the app keeps its data when `--data-dir` is not given: the same
/// folder Tauri's `app_data_dir` names on Linux (`$XDG_DATA_HOME` or
/// `~/.local/share`, then the app's identifier).
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

/// The language of the computer's locale (`LC_ALL`, `LC_MESSAGES`, `LANG`),
/// where the catalogs have it; English otherwise. Used before the desk's
/// own setting can be read (it is in the encrypted database).
pub fn system_lang() -> sitedesk_core::i18n::Lang {
    use sitedesk_core::i18n::Lang;
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    // "zh_CN.UTF-8" -> "zh-CN"
    let tag = locale
        .split(['.', '@'])
        .next()
        .unwrap_or_default()
        .replace('_', "-");
    Lang::from_tag(&tag)
        .or_else(|| Lang::from_tag(tag.split('-').next().unwrap_or_default()))
        .unwrap_or(Lang::EN)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;
    use clap::error::ErrorKind;

    use super::*;

    fn run(args: &[&str]) -> Result<Cli, ErrorKind> {
        Cli::try_parse_from(std::iter::once("sitedesk").chain(args.iter().copied()))
            .map_err(|e| e.kind())
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_are_parsed_in_both_spellings() {
        let cli = run(&["--data-dir", "/tmp/x", "--desk-code=k7q"]).unwrap();
        assert_eq!(cli.data_dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(cli.desk_code, DeskCode::parse("K7Q"));
        assert_eq!(cli.command, None);
    }

    #[test]
    fn bad_flags_are_refused() {
        assert_eq!(run(&["--data-dir"]).unwrap_err(), ErrorKind::InvalidValue);
        assert_eq!(
            run(&["--desk-code", "O0"]).unwrap_err(),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            run(&["--frobnicate"]).unwrap_err(),
            ErrorKind::UnknownArgument
        );
        assert_eq!(run(&["stray"]).unwrap_err(), ErrorKind::InvalidSubcommand);
        assert!(
            run(&["--automation"]).is_ok(),
            "WebDriver's switch is accepted"
        );
        assert_eq!(run(&["--help"]).unwrap_err(), ErrorKind::DisplayHelp);
        assert_eq!(run(&["--version"]).unwrap_err(), ErrorKind::DisplayVersion);
        assert_eq!(
            run(&["verify-audit", "verify-audit"]).unwrap_err(),
            ErrorKind::UnknownArgument
        );
    }

    #[test]
    fn verify_audit_is_a_subcommand() {
        let cli = run(&["verify-audit", "--data-dir", "/d"]).unwrap();
        assert_eq!(
            (cli.command, cli.data_dir),
            (Some(Command::VerifyAudit), Some(PathBuf::from("/d")))
        );
    }

    #[test]
    fn import_dictionary_takes_one_file() {
        let cli = run(&["import-dictionary", "forms.csv", "--data-dir=/d"]).unwrap();
        assert_eq!(
            (cli.command, cli.data_dir),
            (
                Some(Command::ImportDictionary {
                    file: PathBuf::from("forms.csv")
                }),
                Some(PathBuf::from("/d"))
            )
        );
        assert_eq!(
            run(&["import-dictionary"]).unwrap_err(),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            run(&["import-dictionary", "a.csv", "b.csv"]).unwrap_err(),
            ErrorKind::UnknownArgument
        );
    }
}
