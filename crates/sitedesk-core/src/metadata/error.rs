//! Why a data dictionary was refused: where (line and field) and what, in
//! words a study coordinator or a site's IT person understands (the word
//! catalogs' `core.metadata.*`).

use crate::i18n::{Lang, Message};

/// A dictionary that cannot be used, and the first place that shows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem:?}")]
pub struct MetadataError {
    /// The line of the CSV file (the header is line 1), the position of
    /// the field in the JSON array counting from 1, or the line of the
    /// field's `ItemDef` in an ODM project file.
    pub line: usize,
    /// The field the line defines, when it could be read.
    pub field: Option<String>,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The file is not CSV (or JSON) at all; the parser's own words.
    Unreadable(String),
    /// The first line is not a REDCap data dictionary header.
    NotADictionary,
    /// A line has the wrong number of columns.
    ColumnCount {
        found: usize,
        expected: usize,
    },
    /// No field at all.
    Empty,
    MissingName {
        column: &'static str,
    },
    /// A field or form name that is not lower-case letters, digits and
    /// underscores starting with a letter, or longer than 100 characters.
    BadName {
        column: &'static str,
        name: String,
    },
    UnknownType(String),
    DuplicateField,
    /// A choice without `code, label`.
    BadChoice(String),
    DuplicateChoice(String),
    NoChoices,
    NoCalculation,
    /// A yes/no column with something else than `y` or nothing.
    BadFlag {
        column: &'static str,
        value: String,
    },
}

impl MetadataError {
    pub fn message(&self, lang: Lang) -> String {
        self.msg().render(lang)
    }

    /// The message, in no language yet.
    pub fn msg(&self) -> Message {
        let message = match &self.field {
            Some(f) => Message::new("core.metadata.lineAndField").with("field", f),
            None => Message::new("core.metadata.line"),
        };
        message
            .with("line", self.line.to_string())
            .with("problem", self.problem.msg())
    }
}

impl Problem {
    /// What is wrong, to complete "Data dictionary line N: ...".
    pub fn msg(&self) -> Message {
        use Problem::*;
        match self {
            Unreadable(e) => Message::new("core.metadata.problem.unreadable").with("detail", e),
            NotADictionary => Message::new("core.metadata.problem.notADictionary"),
            ColumnCount { found, expected } => Message::new("core.metadata.problem.columnCount")
                .with("found", found.to_string())
                .with("expected", expected.to_string()),
            Empty => Message::new("core.metadata.problem.empty"),
            MissingName { column } => {
                Message::new("core.metadata.problem.missingName").with("column", *column)
            }
            BadName { column, name } => Message::new("core.metadata.problem.badName")
                .with("column", *column)
                .with("name", name),
            UnknownType(t) => Message::new("core.metadata.problem.unknownType").with("type", t),
            DuplicateField => Message::new("core.metadata.problem.duplicateField"),
            BadChoice(c) => Message::new("core.metadata.problem.badChoice").with("choice", c),
            DuplicateChoice(c) => {
                Message::new("core.metadata.problem.duplicateChoice").with("code", c)
            }
            NoChoices => Message::new("core.metadata.problem.noChoices"),
            NoCalculation => Message::new("core.metadata.problem.noCalculation"),
            BadFlag { column, value } => Message::new("core.metadata.problem.badFlag")
                .with("column", *column)
                .with("value", value),
        }
    }
}
