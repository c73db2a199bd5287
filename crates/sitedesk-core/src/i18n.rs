//! The languages SiteDesk speaks, for the messages the core writes itself
//! (validation and lifecycle errors). The UI owns every other string.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A user interface language. The tags are BCP 47, as the UI's catalog uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, TS)]
pub enum Lang {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Lang {
    /// The tag stored in settings and sent over IPC.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// Parses a stored or sent tag; `None` for a language SiteDesk lacks.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        match tag {
            "en" => Some(Lang::En),
            "zh-CN" => Some(Lang::ZhCn),
            _ => None,
        }
    }
}
