//! What a REDCap user may do in a project, as the simulator tells it
//! apart: the API rights (export, import), the project rights that API
//! calls check (Logging, Data Access Groups, Project Design and Setup,
//! create and delete records), the data export right (per form in recent
//! REDCap versions), and the form rights (edit, view only, no access).
//!
//! A user's rights come from [`Rights::default`] (everything but design:
//! what every token had before rights existed), [`Rights::site_coordinator`]
//! (the narrow token a site's coordinator is given), or a `--token` spec's
//! words ([`Rights::apply_word`]).
//!
//! Not here: the refusals themselves and REDCap's words for them
//! (`handlers`), the token spec around the words (`protocol`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

/// REDCap's data export right: what a record export gives the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataExport {
    /// "Full Data Set".
    #[default]
    Full,
    /// "De-Identified": identifier fields, free text (text without
    /// validation, notes) removed, dates shifted.
    Deidentified,
    /// "Remove All Identifier Fields": identifier fields removed.
    NoIdentifiers,
    /// "No Access": a record export is refused.
    None,
}

impl DataExport {
    /// The word a token spec gives it (`export=WORD`).
    pub fn word(self) -> &'static str {
        match self {
            DataExport::Full => "full",
            DataExport::Deidentified => "deidentified",
            DataExport::NoIdentifiers => "no-identifiers",
            DataExport::None => "none",
        }
    }

    fn parse(word: &str) -> Option<DataExport> {
        match word {
            "full" => Some(DataExport::Full),
            "deidentified" | "de-identified" => Some(DataExport::Deidentified),
            "no-identifiers" => Some(DataExport::NoIdentifiers),
            "none" => Some(DataExport::None),
            _ => None,
        }
    }
}

/// REDCap's form (data entry) right for one instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FormRight {
    /// "View & Edit".
    #[default]
    Edit,
    /// "Read Only": exported, not imported.
    View,
    /// "No Access": neither exported nor imported.
    None,
}

impl FormRight {
    pub fn word(self) -> &'static str {
        match self {
            FormRight::Edit => "edit",
            FormRight::View => "view",
            FormRight::None => "none",
        }
    }

    fn parse(word: &str) -> Option<FormRight> {
        match word {
            "edit" => Some(FormRight::Edit),
            "view" | "read-only" => Some(FormRight::View),
            "none" => Some(FormRight::None),
            _ => None,
        }
    }
}

/// One user's rights in the project. A field missing from its JSON takes
/// the default's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rights {
    /// API Export: every reading call.
    pub export: bool,
    /// API Import/Update: every writing call.
    pub import: bool,
    /// Logging: the `log` call (with API Export).
    pub logging: bool,
    /// Data Access Groups: the `dag` call and `exportDataAccessGroups`
    /// (with API Export), for a user in no group.
    pub dags: bool,
    /// Project Design and Setup: the design imports.
    pub design: bool,
    /// Create Records: an import may make a new record.
    pub create: bool,
    /// Delete Records: `record` delete.
    pub delete: bool,
    /// The data export right of every form not in `data_export_forms`.
    pub data_export: DataExport,
    /// Per-form data export rights (REDCap 14.1 and later keep one per
    /// instrument); a form not named here has `data_export`.
    pub data_export_forms: BTreeMap<String, DataExport>,
    /// Form rights by form; a form not named here is editable.
    pub forms: BTreeMap<String, FormRight>,
}

impl Default for Rights {
    /// Everything but Project Design and Setup, the full data set, every
    /// form editable: the rights every token had before tokens had rights.
    fn default() -> Rights {
        Rights {
            export: true,
            import: true,
            logging: true,
            dags: true,
            design: false,
            create: true,
            delete: true,
            data_export: DataExport::Full,
            data_export_forms: BTreeMap::new(),
            forms: BTreeMap::new(),
        }
    }
}

/// The words a token spec's rights may hold (for the error that names an
/// unknown one).
pub const RIGHT_WORDS: &str = "design, site, -logging, -dags, -import, -export, -create, -delete, -design, export=full|deidentified|no-identifiers|none, form:NAME=edit|view|none, export:NAME=full|deidentified|no-identifiers|none";

impl Rights {
    /// The least a site coordinator's token needs: API export and import,
    /// create records, the full data set; no Logging, no Data Access
    /// Groups, no delete, no design.
    pub fn site_coordinator() -> Rights {
        Rights {
            export: true,
            import: true,
            logging: false,
            dags: false,
            design: false,
            create: true,
            delete: false,
            data_export: DataExport::Full,
            data_export_forms: BTreeMap::new(),
            forms: BTreeMap::new(),
        }
    }

    /// The data export right for `form`.
    pub fn data_export_of(&self, form: &str) -> DataExport {
        self.data_export_forms
            .get(form)
            .copied()
            .unwrap_or(self.data_export)
    }

    /// The form right for `form`.
    pub fn form(&self, form: &str) -> FormRight {
        self.forms.get(form).copied().unwrap_or_default()
    }

    /// Whether every form's data export right is "No Access": a record
    /// export is then refused whole.
    pub fn exports_nothing(&self) -> bool {
        self.data_export == DataExport::None
            && self
                .data_export_forms
                .values()
                .all(|d| *d == DataExport::None)
    }

    /// Applies one word of a token spec's rights: `design`, `site` (start
    /// over from [`Rights::site_coordinator`]), `-RIGHT` (take one away),
    /// `export=LEVEL`, `form:NAME=LEVEL`, `export:NAME=LEVEL`. `Err` with
    /// the word when it is none of these.
    pub fn apply_word(&mut self, word: &str) -> Result<(), String> {
        let unknown = || Err(word.to_owned());
        if let Some(rest) = word.strip_prefix("form:") {
            let Some((form, level)) = rest.split_once('=') else {
                return unknown();
            };
            let Some(right) = FormRight::parse(level.trim()) else {
                return unknown();
            };
            let form = form.trim();
            if form.is_empty() {
                return unknown();
            }
            self.forms.insert(form.to_owned(), right);
            return Ok(());
        }
        if let Some(rest) = word.strip_prefix("export:") {
            let Some((form, level)) = rest.split_once('=') else {
                return unknown();
            };
            let Some(level) = DataExport::parse(level.trim()) else {
                return unknown();
            };
            let form = form.trim();
            if form.is_empty() {
                return unknown();
            }
            self.data_export_forms.insert(form.to_owned(), level);
            return Ok(());
        }
        if let Some(level) = word.strip_prefix("export=") {
            let Some(level) = DataExport::parse(level.trim()) else {
                return unknown();
            };
            self.data_export = level;
            return Ok(());
        }
        match word {
            "design" => self.design = true,
            "site" => *self = Rights::site_coordinator(),
            "-design" => self.design = false,
            "-logging" => self.logging = false,
            "-dags" => self.dags = false,
            "-import" => self.import = false,
            "-export" => self.export = false,
            "-create" => self.create = false,
            "-delete" => self.delete = false,
            _ => return unknown(),
        }
        Ok(())
    }

    /// Reads a comma-separated list of words over the defaults, in order.
    pub fn parse_words(text: &str) -> Result<Rights, String> {
        let mut rights = Rights::default();
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            rights.apply_word(word)?;
        }
        Ok(rights)
    }
}

impl fmt::Display for Rights {
    /// The words that read back to these rights (empty for the default).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let site = Rights::site_coordinator();
        let (base, mut words) = if self.logging || self.dags || self.delete {
            (Rights::default(), Vec::new())
        } else {
            (site, vec!["site".to_owned()])
        };
        for (have, base_has, word) in [
            (self.export, base.export, "export"),
            (self.import, base.import, "import"),
            (self.logging, base.logging, "logging"),
            (self.dags, base.dags, "dags"),
            (self.create, base.create, "create"),
            (self.delete, base.delete, "delete"),
        ] {
            if base_has && !have {
                words.push(format!("-{word}"));
            }
        }
        if self.design {
            words.push("design".to_owned());
        }
        if self.data_export != DataExport::Full {
            words.push(format!("export={}", self.data_export.word()));
        }
        for (form, level) in &self.data_export_forms {
            words.push(format!("export:{form}={}", level.word()));
        }
        for (form, right) in &self.forms {
            words.push(format!("form:{form}={}", right.word()));
        }
        f.write_str(&words.join(","))
    }
}
