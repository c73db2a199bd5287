//! Why a data dictionary was refused: where (line and field) and what, in
//! words a study coordinator or a site's IT person understands, in English
//! and Simplified Chinese.

use crate::i18n::Lang;

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
        use Problem::*;
        let zh = lang == Lang::ZhCn;
        let what = match &self.problem {
            Unreadable(e) => {
                if zh {
                    format!("无法读取文件：{e}")
                } else {
                    format!("the file cannot be read: {e}")
                }
            }
            NotADictionary => {
                if zh {
                    "第一行不是 REDCap 数据字典的表头".into()
                } else {
                    "the first line is not a REDCap data dictionary header".into()
                }
            }
            ColumnCount { found, expected } => {
                if zh {
                    format!("有 {found} 列，应为 {expected} 列")
                } else {
                    format!("it has {found} columns instead of {expected}")
                }
            }
            Empty => {
                if zh {
                    "字典中没有任何字段".into()
                } else {
                    "the dictionary has no fields".into()
                }
            }
            MissingName { column } => {
                if zh {
                    format!("缺少“{column}”")
                } else {
                    format!("{column} is missing")
                }
            }
            BadName { column, name } => {
                if zh {
                    format!("{column}“{name}”无效：只能使用小写字母、数字和下划线，并以字母开头")
                } else {
                    format!(
                        "{column} \"{name}\" is not valid: use lower-case letters, digits and underscores, starting with a letter"
                    )
                }
            }
            UnknownType(t) => {
                if zh {
                    format!("未知的字段类型“{t}”")
                } else {
                    format!("unknown field type \"{t}\"")
                }
            }
            DuplicateField => {
                if zh {
                    "该字段名已在前面定义".into()
                } else {
                    "the field name is defined twice".into()
                }
            }
            BadChoice(c) => {
                if zh {
                    format!("选项“{c}”应写成“代码, 标签”")
                } else {
                    format!("choice \"{c}\" is not written as \"code, label\"")
                }
            }
            DuplicateChoice(c) => {
                if zh {
                    format!("选项代码“{c}”出现了两次")
                } else {
                    format!("choice code \"{c}\" appears twice")
                }
            }
            NoChoices => {
                if zh {
                    "该字段类型需要选项".into()
                } else {
                    "this field type needs choices".into()
                }
            }
            NoCalculation => {
                if zh {
                    "计算字段缺少计算公式".into()
                } else {
                    "the calculated field has no expression".into()
                }
            }
            BadFlag { column, value } => {
                if zh {
                    format!("{column} 只能为 y 或留空，而不是“{value}”")
                } else {
                    format!("{column} must be y or empty, not \"{value}\"")
                }
            }
        };
        match (&self.field, zh) {
            (Some(f), true) => format!("数据字典第 {} 行（字段 {f}）：{what}。", self.line),
            (None, true) => format!("数据字典第 {} 行：{what}。", self.line),
            (Some(f), false) => format!("Data dictionary line {} (field {f}): {what}.", self.line),
            (None, false) => format!("Data dictionary line {}: {what}.", self.line),
        }
    }
}
