//! Onboarding: a desk learns its study's REDCap project and binds to it.
//!
//! [`probe`] reads the project through the API and writes nothing: what the
//! person confirms. [`binding`] turns what was read, the site picked and
//! the practice entries' fate into one [`Binding`] that the writer applies
//! in one transaction (`store::write::bind_study`).
//!
//! A token's data access group: REDCap has no "who am I" call, and the
//! user-group mapping (`userDagMapping`) needs the Data Access Groups right
//! that a site's user does not have. A user in a group gets record names
//! `<group id>-<n>` from `generateNextRecordName` (which creates nothing),
//! and the `dag` export gives each group's id: that pair names the group.
//!
//! Deliberately absent: SQL, Tauri, the words of the UI.

use serde::Serialize;
use ts_rs::TS;

use crate::domain::{Site, Study};
use crate::edc::{DagInfo, EdcClient, EdcError, Timeouts, Token, api_url, dag_id_of_record_name};
use crate::i18n::{Lang, Message};
use crate::metadata::design::Design;
use crate::metadata::logic::{LogicIssue, check_dictionary};
use crate::metadata::screening::{
    SCREENING_SNIPPET, ScreeningError, Targets, find_screening_instrument,
};
use crate::metadata::tags::{TagIssue, unapplied_tags};
use crate::metadata::validate::Kind;
use crate::metadata::{Dictionary, FieldType};
use crate::store::{Binding, Practice};

/// The site of a project without data access groups: the whole project.
pub const WHOLE_PROJECT_SITE: &str = "project";

/// A data access group, as the summary lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ProjectSite {
    /// The group's unique name: the site's id at the desk.
    pub unique_name: String,
    pub label: String,
    /// REDCap's number for the group.
    pub id: u32,
    /// The code that prefixes subject ids at this site.
    pub code: String,
}

/// A text field whose validation SiteDesk does not know: its values are
/// kept as typed and flagged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct UnsupportedValidation {
    pub field: String,
    pub validation: String,
}

/// The project's screening instrument, as found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ScreeningStatus {
    Found {
        form: String,
        event: String,
        criteria: u32,
        targets: Targets,
    },
    /// No field has a `@SITEDESK-` tag: the snippet (a data dictionary
    /// CSV) is the way to add it.
    Absent { snippet: String },
    /// Tags that do not make an instrument; the message names what to fix.
    Broken { message: String },
}

/// What a project is, as a desk about to bind to it sees it. No token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ProjectSummary {
    pub project_id: String,
    pub title: String,
    /// The server, as `https://host[:port]`.
    pub origin: String,
    pub sites: Vec<ProjectSite>,
    /// The group the token is bound to: the desk's site, no choice.
    pub token_site: Option<String>,
    pub forms: Vec<String>,
    pub events: Vec<String>,
    /// Branching logic and calculations that cannot be used offline.
    pub logic_issues: Vec<LogicIssue>,
    /// Action tags the desk's forms do not apply.
    pub unapplied_tags: Vec<TagIssue>,
    pub unsupported_validation: Vec<UnsupportedValidation>,
    pub screening: ScreeningStatus,
    /// Practice records on this demo desk (0 on a desk not in the demo):
    /// binding asks what becomes of them when there are any.
    pub practice_entries: u32,
}

/// Why a desk cannot bind to a project as asked.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(transparent)]
    Edc(#[from] EdcError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Screening(#[from] ScreeningError),
    #[error("the project has no site {0}")]
    UnknownSite(String),
    #[error("the token belongs to site {token}, not {picked}")]
    NotTokenSite { picked: String, token: String },
    #[error("the token sees every site: pick this desk's site")]
    SiteNeeded,
}

impl BindError {
    /// The message, in no language yet (an EDC or store error has its own).
    pub fn msg(&self) -> Option<Message> {
        Some(match self {
            BindError::UnknownSite(site) => {
                Message::new("core.onboard.unknownSite").with("site", site)
            }
            BindError::NotTokenSite { picked, token } => Message::new("core.onboard.notTokenSite")
                .with("picked", picked)
                .with("token", token),
            BindError::SiteNeeded => Message::new("core.onboard.siteNeeded"),
            BindError::Screening(s) => s.msg(),
            BindError::Edc(_) | BindError::Store(_) => return None,
        })
    }

    pub fn message(&self, lang: Lang) -> String {
        match self.msg() {
            Some(m) => m.render(lang),
            None => self.to_string(),
        }
    }
}

/// What a desk asks to bind to.
#[derive(Debug, Clone)]
pub struct BindRequest {
    pub url: String,
    pub token: Token,
    /// The group picked when the token sees every site.
    pub site: Option<String>,
    /// Required when leaving the demo with practice entries.
    pub practice: Option<Practice>,
}

/// What was read from the project, for the summary and for the binding.
pub(super) struct Probed {
    pub origin: String,
    pub project_id: String,
    pub title: String,
    pub dictionary: Dictionary,
    pub design: Design,
    pub dags: Vec<DagInfo>,
    pub token_dag: Option<DagInfo>,
}

/// Reads the project at `url` with `token`; writes nothing.
pub(super) async fn probe(url: &str, token: Token, timeouts: Timeouts) -> Result<Probed, EdcError> {
    let origin = api_url(url)?.origin().ascii_serialization();
    let client = EdcClient::new(url, token, timeouts)?;
    let info = client.project().await?;
    let dictionary = client.metadata().await?;
    let design = client.design(&dictionary).await?;
    let (dags, token_dag) = match client.dags_if_allowed().await? {
        Some(dags) => {
            let own = client.token_dag(&dags).await?;
            (dags, own)
        }
        // A site's token without the Data Access Groups right: its group's
        // number is in the record names it would make, its names are not
        // to be had. The desk knows the site by its number.
        None => {
            let next = client.next_record_name().await?;
            let own = dag_id_of_record_name(&next).map(|id| DagInfo {
                data_access_group_name: site_code(id),
                unique_group_name: format!("{UNNAMED_GROUP_PREFIX}{id}"),
                data_access_group_id: id,
            });
            (own.iter().cloned().collect(), own)
        }
    };
    Ok(Probed {
        origin,
        project_id: info.project_id,
        title: info.project_title,
        dictionary,
        design,
        dags,
        token_dag,
    })
}

/// How the desk names a group whose REDCap name its token may not read.
pub const UNNAMED_GROUP_PREFIX: &str = "redcap-group-";

/// The code a site's subject ids start with: the same at every desk of
/// the site, since it comes from REDCap's number for the group.
pub fn site_code(dag_id: u32) -> String {
    format!("S{dag_id}")
}

impl Probed {
    fn sites(&self) -> Vec<ProjectSite> {
        self.dags
            .iter()
            .map(|d| ProjectSite {
                unique_name: d.unique_group_name.clone(),
                label: d.data_access_group_name.clone(),
                id: d.data_access_group_id,
                code: site_code(d.data_access_group_id),
            })
            .collect()
    }

    pub fn summary(&self, lang: Lang) -> ProjectSummary {
        let screening = match find_screening_instrument(&self.dictionary, &self.design) {
            Ok(Some(i)) => ScreeningStatus::Found {
                form: i.form,
                event: i.event,
                criteria: i.criteria.len() as u32,
                targets: i.targets,
            },
            Ok(None) => ScreeningStatus::Absent {
                snippet: SCREENING_SNIPPET.to_owned(),
            },
            Err(e) => ScreeningStatus::Broken {
                message: e.message(lang),
            },
        };
        ProjectSummary {
            project_id: self.project_id.clone(),
            title: self.title.clone(),
            origin: self.origin.clone(),
            sites: self.sites(),
            token_site: self.token_dag.as_ref().map(|d| d.unique_group_name.clone()),
            forms: self
                .dictionary
                .instruments()
                .into_iter()
                .map(|i| i.name)
                .collect(),
            events: self.design.event_names(),
            logic_issues: check_dictionary(&self.dictionary),
            unapplied_tags: unapplied_tags(&self.dictionary),
            unsupported_validation: self
                .dictionary
                .fields
                .iter()
                .filter(|f| f.field_type == FieldType::Text)
                .filter_map(|f| {
                    let v = f.validation.as_deref()?;
                    Kind::parse(v).is_none().then(|| UnsupportedValidation {
                        field: f.name.clone(),
                        validation: v.to_owned(),
                    })
                })
                .collect(),
            screening,
            practice_entries: 0,
        }
    }

    /// The binding this project makes for a desk that asks for `site`.
    pub fn binding(
        self,
        url: &str,
        token: &Token,
        site: Option<&str>,
        practice: Option<Practice>,
        leaving_demo: bool,
    ) -> Result<Binding, BindError> {
        let instrument = find_screening_instrument(&self.dictionary, &self.design)?;
        let study = Study {
            id: format!("redcap:{}#{}", self.origin, self.project_id),
            title: self.title.clone(),
            enrollment_target: instrument
                .as_ref()
                .and_then(|i| i.targets.study)
                .unwrap_or(0),
        };
        let (sites, desk_site_id) = if self.dags.is_empty() {
            if let Some(site) = site.filter(|s| *s != WHOLE_PROJECT_SITE) {
                return Err(BindError::UnknownSite(site.to_owned()));
            }
            let whole = Site {
                id: WHOLE_PROJECT_SITE.into(),
                code: site_code(0),
                name: self.title.clone(),
            };
            (vec![whole], WHOLE_PROJECT_SITE.to_owned())
        } else {
            let desk_site = match (&self.token_dag, site) {
                (Some(own), Some(picked)) if picked != own.unique_group_name => {
                    return Err(BindError::NotTokenSite {
                        picked: picked.to_owned(),
                        token: own.unique_group_name.clone(),
                    });
                }
                (Some(own), _) => own.unique_group_name.clone(),
                (None, Some(picked)) => {
                    if !self.dags.iter().any(|d| d.unique_group_name == picked) {
                        return Err(BindError::UnknownSite(picked.to_owned()));
                    }
                    picked.to_owned()
                }
                (None, None) => return Err(BindError::SiteNeeded),
            };
            let sites = self
                .dags
                .iter()
                .map(|d| Site {
                    id: d.unique_group_name.clone(),
                    code: site_code(d.data_access_group_id),
                    name: d.data_access_group_name.clone(),
                })
                .collect();
            (sites, desk_site)
        };
        Ok(Binding {
            source: format!("REDCap project {} at {}", self.project_id, self.origin),
            study,
            sites,
            desk_site_id,
            dictionary: self.dictionary,
            design: self.design,
            edc_url: api_url(url)?.to_string(),
            edc_token: token.expose().to_owned(),
            leaving_demo,
            practice,
        })
    }
}
