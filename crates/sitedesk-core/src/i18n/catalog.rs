//! Word catalogs: i18next's JSON (nested keys, `{{name}}` placeholders,
//! `_one`/`_other` plural suffixes picked by `count`), parsed into flat
//! dotted keys, and the lookup, plural choice and interpolation that
//! i18next does in the UI. Not here: which catalogs exist (the build
//! script embeds them) and message values (`Message` in the parent).

use std::collections::{BTreeSet, HashMap};

use super::{Arg, Lang, Message};

/// The placeholder i18next treats as the count that picks a plural form.
const COUNT: &str = "count";

/// Catalogs in several languages, English first.
#[derive(Debug)]
pub struct Catalogs {
    langs: Vec<Catalog>,
}

#[derive(Debug)]
struct Catalog {
    tag: String,
    /// Every text by its dotted key (`core.domain.required`).
    texts: HashMap<String, String>,
}

/// Why a catalog cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog {tag}: {source}")]
    Json {
        tag: String,
        source: serde_json::Error,
    },
    #[error("catalog {tag}: {key} is neither a text nor a group of texts")]
    NotText { tag: String, key: String },
    #[error("catalog {0} is given twice")]
    Duplicate(String),
    #[error("there is no English catalog (en), which every language falls back to")]
    NoEnglish,
    #[error("more catalogs than a `Lang` can number")]
    TooMany,
}

/// A key that a catalog lacks, found by a strict rendering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("catalog {tag} has no {key}")]
pub struct MissingKey {
    pub tag: String,
    pub key: String,
}

impl Catalogs {
    /// Parses `(language tag, JSON text)` pairs. English (`en`) must be
    /// among them; it becomes `Lang::EN`, and the others are numbered in
    /// the order given.
    pub fn parse<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Catalogs, CatalogError> {
        let mut langs = Vec::new();
        for (tag, text) in sources {
            if langs.iter().any(|c: &Catalog| c.tag == tag) {
                return Err(CatalogError::Duplicate(tag.to_owned()));
            }
            let json: serde_json::Value =
                serde_json::from_str(text).map_err(|source| CatalogError::Json {
                    tag: tag.to_owned(),
                    source,
                })?;
            let mut texts = HashMap::new();
            flatten(tag, "", &json, &mut texts)?;
            langs.push(Catalog {
                tag: tag.to_owned(),
                texts,
            });
        }
        let en = langs
            .iter()
            .position(|c| c.tag == "en")
            .ok_or(CatalogError::NoEnglish)?;
        let english = langs.remove(en);
        langs.insert(0, english);
        if langs.len() > usize::from(u8::MAX) + 1 {
            return Err(CatalogError::TooMany);
        }
        Ok(Catalogs { langs })
    }

    /// Every language, English first.
    pub fn langs(&self) -> impl Iterator<Item = Lang> + use<> {
        // `parse` keeps the count within u8.
        (0..self.langs.len()).map(|i| Lang(i as u8))
    }

    /// The language with this tag.
    pub fn lang(&self, tag: &str) -> Option<Lang> {
        self.langs().find(|l| self.tag(*l) == Some(tag))
    }

    pub fn tag(&self, lang: Lang) -> Option<&str> {
        self.catalog(lang).map(|c| c.tag.as_str())
    }

    /// Every key of one language's catalog, plural suffixes included.
    pub fn keys(&self, lang: Lang) -> BTreeSet<&str> {
        self.catalog(lang)
            .map(|c| c.texts.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// The text of `key`, as the catalog has it, for `count` when the
    /// text has plural forms; `None` when this language lacks it.
    pub fn text(&self, lang: Lang, key: &str, count: Option<i64>) -> Option<&str> {
        let texts = &self.catalog(lang)?.texts;
        if let Some(n) = count {
            // English's two forms. A language without a singular repeats
            // the `_other` text as `_one` (i18next then uses `_other`).
            let form = if n == 1 { "_one" } else { "_other" };
            for suffix in [form, "_other"] {
                if let Some(t) = texts.get(&format!("{key}{suffix}")) {
                    return Some(t);
                }
            }
        }
        texts.get(key).map(String::as_str)
    }

    /// `key` in `lang` with `params` put in, as i18next's `t` does: the
    /// English text when `lang` lacks the key, the key itself when English
    /// does too.
    pub fn tr(&self, lang: Lang, key: &str, params: &[(&str, &str)]) -> String {
        let count = count_of(params);
        let text = self
            .text(lang, key, count)
            .or_else(|| self.text(Lang::EN, key, count))
            .unwrap_or(key);
        interpolate(text, params)
    }

    /// A message and the messages in its parameters, each in `lang`,
    /// falling back to English key by key as `tr` does.
    pub fn render(&self, message: &Message, lang: Lang) -> String {
        self.render_with(message, lang, false)
            .unwrap_or_else(|missing| missing.key)
    }

    /// Like `render`, but refuses to fall back: the first key `lang`
    /// lacks is the error.
    pub fn try_render(&self, message: &Message, lang: Lang) -> Result<String, MissingKey> {
        self.render_with(message, lang, true)
    }

    fn render_with(
        &self,
        message: &Message,
        lang: Lang,
        strict: bool,
    ) -> Result<String, MissingKey> {
        let params = message
            .params
            .iter()
            .map(|(name, arg)| Ok((*name, self.render_arg(arg, lang, strict)?)))
            .collect::<Result<Vec<(&str, String)>, MissingKey>>()?;
        let params: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
        if !strict {
            return Ok(self.tr(lang, message.key, &params));
        }
        let text = self
            .text(lang, message.key, count_of(&params))
            .ok_or_else(|| MissingKey {
                tag: self.tag(lang).unwrap_or("?").to_owned(),
                key: message.key.to_owned(),
            })?;
        Ok(interpolate(text, &params))
    }

    fn render_arg(&self, arg: &Arg, lang: Lang, strict: bool) -> Result<String, MissingKey> {
        match arg {
            Arg::Text(t) => Ok(t.clone()),
            Arg::Msg(m) => self.render_with(m, lang, strict),
            Arg::List { items, separator } => {
                let separator = self.render_with(&Message::new(separator), lang, strict)?;
                let items = items
                    .iter()
                    .map(|a| self.render_arg(a, lang, strict))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(items.join(&separator))
            }
        }
    }

    fn catalog(&self, lang: Lang) -> Option<&Catalog> {
        self.langs.get(usize::from(lang.0))
    }
}

/// The `count` parameter, when there is one and it is a whole number.
fn count_of(params: &[(&str, &str)]) -> Option<i64> {
    params
        .iter()
        .find(|(name, _)| *name == COUNT)
        .and_then(|(_, v)| v.parse().ok())
}

fn flatten(
    tag: &str,
    prefix: &str,
    value: &serde_json::Value,
    out: &mut HashMap<String, String>,
) -> Result<(), CatalogError> {
    match value {
        serde_json::Value::String(text) if !prefix.is_empty() => {
            out.insert(prefix.to_owned(), text.clone());
        }
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                let key = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(tag, &key, value, out)?;
            }
        }
        _ => {
            return Err(CatalogError::NotText {
                tag: tag.to_owned(),
                key: prefix.to_owned(),
            });
        }
    }
    Ok(())
}

/// Replaces each `{{name}}` (spaces inside allowed, a `, format` after the
/// name ignored) with its parameter. A placeholder without a parameter
/// stays as it is, so that a missing one shows.
pub(super) fn interpolate(text: &str, params: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        let inner = &rest[start + 2..start + 2 + len];
        let name = inner.split(',').next().unwrap_or("").trim();
        out.push_str(&rest[..start]);
        match params.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => out.push_str(value),
            None => out.push_str(&rest[start..start + 4 + len]),
        }
        rest = &rest[start + 4 + len..];
    }
    out.push_str(rest);
    out
}
