//! The languages SiteDesk speaks and the words it says in them. Every word
//! lives in the catalogs `locales/*.json` at the repository's root, shared
//! with the UI's i18next; the build script embeds each file, so a language
//! is a file and no code. The core's errors describe themselves as a
//! [`Message`] (a catalog key and its parameters), rendered in the user's
//! language only when shown.
//!
//! Not here: choosing the user's language (a preference in the store; the
//! operating system's locale, [`Lang::from_os`], only speaks for a message
//! shown before a desk is open) and formatting dates or numbers (messages
//! carry them as text).

mod catalog;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ts_rs::TS;

pub use catalog::{CatalogError, Catalogs, MissingKey};

include!(concat!(env!("OUT_DIR"), "/catalogs.rs"));

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(|| {
    Catalogs::parse(EMBEDDED.iter().copied())
        .unwrap_or_else(|e| panic!("the embedded word catalogs are broken: {e}"))
});

/// The tags of the embedded catalogs, English first.
static TAGS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let catalogs = catalogs();
    catalogs
        .langs()
        .filter_map(|lang| catalogs.tag(lang))
        .collect()
});

/// The catalogs of `locales/`, built into the binary.
pub fn catalogs() -> &'static Catalogs {
    &CATALOGS
}

/// `key` in `lang` with `params` put in (`{{name}}`), its plural form
/// picked by a `count` parameter; English when `lang` lacks the key.
pub fn tr(lang: Lang, key: &str, params: &[(&str, &str)]) -> String {
    catalogs().tr(lang, key, params)
}

/// A pseudo-translation of a catalog's JSON: every text wrapped in
/// `[!! … !!]`, placeholders kept. Words shown without the brackets did
/// not come from the catalog.
pub fn pseudo_catalog(source: &str) -> serde_json::Result<String> {
    fn wrap(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) => *text = format!("[!! {text} !!]"),
            serde_json::Value::Object(map) => map.values_mut().for_each(wrap),
            _ => {}
        }
    }
    let mut json: serde_json::Value = serde_json::from_str(source)?;
    wrap(&mut json);
    serde_json::to_string(&json)
}

/// A user interface language: one of the catalogs. Stored in settings and
/// sent over IPC as its BCP 47 tag (the catalog's file name), which is
/// also the UI's i18next language.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Lang(u8);

impl Lang {
    /// English: the language of the source texts, which every other falls
    /// back to. Always the first catalog.
    pub const EN: Lang = Lang(0);

    /// Every language of the embedded catalogs, English first.
    pub fn all() -> impl Iterator<Item = Lang> {
        catalogs().langs()
    }

    /// The tag stored in settings and sent over IPC. (A language of test
    /// `Catalogs` beyond the embedded ones reads as `en` here; ask those
    /// catalogs for its tag.)
    pub fn tag(self) -> &'static str {
        TAGS.get(usize::from(self.0)).copied().unwrap_or("en")
    }

    /// Parses a stored or sent tag; `None` for a language SiteDesk lacks.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        catalogs().lang(tag)
    }

    /// The catalog for a POSIX locale name (`zh_CN.UTF-8`, `en_US`, `zh`):
    /// the catalog of that language and region, else the first of that
    /// language; `None` for `C`, `POSIX` and a language SiteDesk lacks.
    pub fn from_locale(locale: &str) -> Option<Lang> {
        let name = locale
            .split(['.', '@'])
            .next()
            .unwrap_or_default()
            .replace('_', "-");
        fn primary(tag: &str) -> &str {
            tag.split('-').next().unwrap_or_default()
        }
        if name.is_empty() {
            return None;
        }
        Lang::all()
            .find(|l| l.tag().eq_ignore_ascii_case(&name))
            .or_else(|| Lang::all().find(|l| primary(l.tag()).eq_ignore_ascii_case(primary(&name))))
    }

    /// The language of the operating system's messages: the first of
    /// `LC_ALL`, `LC_MESSAGES` and `LANG` that is set (POSIX's order), when
    /// SiteDesk has its catalog; English otherwise. For what is said before
    /// a desk and its language preference are open.
    pub fn from_os() -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
            .and_then(|locale| Lang::from_locale(&locale))
            .unwrap_or(Lang::EN)
    }
}

impl fmt::Debug for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Lang").field(&self.tag()).finish()
    }
}

impl Serialize for Lang {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.tag())
    }
}

impl<'de> Deserialize<'de> for Lang {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Lang, D::Error> {
        let tag = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Lang::from_tag(&tag).ok_or_else(|| serde::de::Error::unknown_variant(&tag, &TAGS[..]))
    }
}

/// In TypeScript, the union of the catalogs' tags (`"en" | "zh-CN"`): the
/// generated bindings follow the files in `locales/`.
impl TS for Lang {
    type WithoutGenerics = Lang;
    type OptionInnerType = Lang;

    fn name(_: &ts_rs::Config) -> String {
        "Lang".to_owned()
    }

    fn inline(_: &ts_rs::Config) -> String {
        TAGS.iter()
            .map(|tag| serde_json::Value::from(*tag).to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    fn decl(cfg: &ts_rs::Config) -> String {
        format!("type Lang = {};", Self::inline(cfg))
    }

    fn decl_concrete(cfg: &ts_rs::Config) -> String {
        Self::decl(cfg)
    }
}

/// Words to show, not yet in a language: a catalog key and the values of
/// its placeholders. Errors build one with `msg()`; `render` puts it into
/// words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub key: &'static str,
    pub params: Vec<(&'static str, Arg)>,
}

/// The value of one placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Shown as it is: a name, a number, a date, the server's words.
    Text(String),
    /// Words of the catalog, in the same language as the message.
    Msg(Message),
    /// Values joined by the catalog's text under `separator`.
    List {
        items: Vec<Arg>,
        separator: &'static str,
    },
}

impl Message {
    pub fn new(key: &'static str) -> Message {
        Message {
            key,
            params: Vec::new(),
        }
    }

    /// Sets the placeholder `{{name}}`.
    pub fn with(mut self, name: &'static str, value: impl Into<Arg>) -> Message {
        self.params.push((name, value.into()));
        self
    }

    /// Sets `{{count}}`, which also picks the `_one` or `_other` form.
    pub fn count(self, n: usize) -> Message {
        self.with("count", n.to_string())
    }

    /// The message in `lang`, from the embedded catalogs.
    pub fn render(&self, lang: Lang) -> String {
        catalogs().render(self, lang)
    }
}

impl Arg {
    /// `items` joined by the text of the key `separator`.
    pub fn list(items: impl IntoIterator<Item = impl Into<Arg>>, separator: &'static str) -> Arg {
        Arg::List {
            items: items.into_iter().map(Into::into).collect(),
            separator,
        }
    }
}

impl From<String> for Arg {
    fn from(text: String) -> Arg {
        Arg::Text(text)
    }
}

impl From<&str> for Arg {
    fn from(text: &str) -> Arg {
        Arg::Text(text.to_owned())
    }
}

impl From<&String> for Arg {
    fn from(text: &String) -> Arg {
        Arg::Text(text.clone())
    }
}

impl From<Message> for Arg {
    fn from(message: Message) -> Arg {
        Arg::Msg(message)
    }
}
