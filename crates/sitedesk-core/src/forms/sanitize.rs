//! Labels, notes and choices in a data dictionary may carry HTML, written
//! by whoever built the study. The UI renders only what passes through
//! here: an allowlist of formatting tags with no attributes, so no script,
//! no event handler, no link out of the app and no image fetch survives.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Formatting REDCap designers use in labels. Everything else is removed
/// (its text kept); `script` and `style` lose their content too.
const ALLOWED_TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "s",
    "sub",
    "sup",
    "small",
    "br",
    "p",
    "div",
    "span",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "blockquote",
    "pre",
    "code",
];

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::empty();
    b.add_tags(ALLOWED_TAGS.iter().copied())
        .clean_content_tags(HashSet::from(["script", "style"]))
        .strip_comments(true);
    b
});

/// The HTML of a label, safe to render.
pub fn sanitize_html(html: &str) -> String {
    CLEANER.clean(html).to_string()
}

/// A label as plain text, for messages: tags dropped, the usual entities
/// decoded. The result is text, never rendered as HTML.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}
