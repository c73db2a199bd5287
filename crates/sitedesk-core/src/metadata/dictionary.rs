//! Reading a data dictionary: the CSV file REDCap exports (human headers,
//! or the API's column names) and the API's `metadata` JSON. Both go
//! through the same row checks, so a dictionary means the same whichever
//! way it arrived.

use std::collections::HashSet;

use super::error::{MetadataError, Problem};
use super::{Choice, Dictionary, Field, FieldType};

/// The columns in order: the API's names and the CSV export's headers.
const COLUMNS: [(&str, &str); 18] = [
    ("field_name", "Variable / Field Name"),
    ("form_name", "Form Name"),
    ("section_header", "Section Header"),
    ("field_type", "Field Type"),
    ("field_label", "Field Label"),
    (
        "select_choices_or_calculations",
        "Choices, Calculations, OR Slider Labels",
    ),
    ("field_note", "Field Note"),
    (
        "text_validation_type_or_show_slider_number",
        "Text Validation Type OR Show Slider Number",
    ),
    ("text_validation_min", "Text Validation Min"),
    ("text_validation_max", "Text Validation Max"),
    ("identifier", "Identifier?"),
    ("branching_logic", "Branching Logic (Show field only if...)"),
    ("required_field", "Required Field?"),
    ("custom_alignment", "Custom Alignment"),
    ("question_number", "Question Number (surveys only)"),
    ("matrix_group_name", "Matrix Group Name"),
    ("matrix_ranking", "Matrix Ranking?"),
    ("field_annotation", "Field Annotation"),
];

/// REDCap's limit for variable and form names.
const NAME_MAX: usize = 100;

/// Parses a data dictionary CSV file.
pub fn parse_csv(bytes: &[u8]) -> Result<Dictionary, MetadataError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 1;
        let record = record.map_err(|e| MetadataError {
            line,
            field: None,
            problem: Problem::Unreadable(e.to_string()),
        })?;
        if line == 1 {
            let header: Vec<&str> = record.iter().map(str::trim).collect();
            let known = |api_names: bool| {
                header.len() == COLUMNS.len()
                    && header.iter().zip(COLUMNS.iter()).all(|(h, (api, human))| {
                        h.eq_ignore_ascii_case(if api_names { api } else { human })
                    })
            };
            if !known(true) && !known(false) {
                return Err(MetadataError {
                    line,
                    field: None,
                    problem: Problem::NotADictionary,
                });
            }
            continue;
        }
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if record.len() != COLUMNS.len() {
            return Err(MetadataError {
                line,
                field: record.get(0).map(|s| s.trim().to_owned()),
                problem: Problem::ColumnCount {
                    found: record.len(),
                    expected: COLUMNS.len(),
                },
            });
        }
        let cells: Vec<String> = record.iter().map(str::to_owned).collect();
        rows.push((line, cells));
    }
    build(rows)
}

/// Parses the API's `content=metadata` answer: a JSON array of objects
/// keyed by the column names.
pub fn parse_api_json(text: &str) -> Result<Dictionary, MetadataError> {
    let unreadable = |line, e: String| MetadataError {
        line,
        field: None,
        problem: Problem::Unreadable(e),
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| unreadable(1, e.to_string()))?;
    let items = value
        .as_array()
        .ok_or_else(|| unreadable(1, "expected a JSON array of fields".into()))?;
    let mut rows = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let line = i + 1;
        let object = item
            .as_object()
            .ok_or_else(|| unreadable(line, "expected an object".into()))?;
        let mut cells = Vec::with_capacity(COLUMNS.len());
        for (key, _) in COLUMNS {
            let cell = match object.get(key) {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                Some(other) => {
                    return Err(unreadable(line, format!("{key} is not text: {other}")));
                }
            };
            cells.push(cell);
        }
        rows.push((line, cells));
    }
    build(rows)
}

/// Checks rows of the 18 columns in [`COLUMNS`] order, each with the line
/// (or position) it came from, into a dictionary; the one path every
/// format goes through.
pub(super) fn build(rows: Vec<(usize, Vec<String>)>) -> Result<Dictionary, MetadataError> {
    let mut seen = HashSet::new();
    let mut fields = Vec::with_capacity(rows.len());
    for (line, cells) in rows {
        let field = row(line, &cells)?;
        if !seen.insert(field.name.clone()) {
            return Err(MetadataError {
                line,
                field: Some(field.name),
                problem: Problem::DuplicateField,
            });
        }
        fields.push(field);
    }
    if fields.is_empty() {
        return Err(MetadataError {
            line: 1,
            field: None,
            problem: Problem::Empty,
        });
    }
    Ok(Dictionary { fields })
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= NAME_MAX
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn row(line: usize, c: &[String]) -> Result<Field, MetadataError> {
    let name = c[0].trim().to_owned();
    let err = |problem| MetadataError {
        line,
        field: (!name.is_empty()).then(|| name.clone()),
        problem,
    };
    if name.is_empty() {
        return Err(err(Problem::MissingName {
            column: "field_name",
        }));
    }
    if !is_name(&name) {
        return Err(err(Problem::BadName {
            column: "field_name",
            name: name.clone(),
        }));
    }
    let form = c[1].trim().to_owned();
    if form.is_empty() {
        return Err(err(Problem::MissingName {
            column: "form_name",
        }));
    }
    if !is_name(&form) {
        return Err(err(Problem::BadName {
            column: "form_name",
            name: form,
        }));
    }
    let type_text = c[3].trim().to_ascii_lowercase();
    let field_type =
        FieldType::parse(&type_text).ok_or_else(|| err(Problem::UnknownType(type_text.clone())))?;
    let flag = |i: usize, column: &'static str| -> Result<bool, MetadataError> {
        match c[i].trim() {
            "" => Ok(false),
            v if v.eq_ignore_ascii_case("y") => Ok(true),
            v => Err(err(Problem::BadFlag {
                column,
                value: v.to_owned(),
            })),
        }
    };
    let choices_raw = c[5].trim();
    let choices = if field_type.has_choices() {
        let choices = parse_choices(choices_raw).map_err(err)?;
        if choices.is_empty() {
            return Err(err(Problem::NoChoices));
        }
        choices
    } else {
        Vec::new()
    };
    if field_type == FieldType::Calc && choices_raw.is_empty() {
        return Err(err(Problem::NoCalculation));
    }
    Ok(Field {
        name: name.clone(),
        form: form.clone(),
        section_header: opt(&c[2]),
        field_type,
        label: c[4].trim().to_owned(),
        choices,
        choices_text: (!field_type.has_choices())
            .then(|| opt(choices_raw))
            .flatten(),
        note: opt(&c[6]),
        validation: opt(&c[7]),
        min: opt(&c[8]),
        max: opt(&c[9]),
        identifier: flag(10, "identifier")?,
        branching_logic: opt(&c[11]),
        required: flag(12, "required_field")?,
        custom_alignment: opt(&c[13]),
        question_number: opt(&c[14]),
        matrix_group: opt(&c[15]),
        matrix_ranking: flag(16, "matrix_ranking")?,
        annotation: opt(&c[17]),
    })
}

/// `1, Label one | 2, Label two`: codes before the first comma, labels
/// after it (labels may hold commas).
fn parse_choices(text: &str) -> Result<Vec<Choice>, Problem> {
    let mut out: Vec<Choice> = Vec::new();
    for part in text.split('|') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (code, label) = part
            .split_once(',')
            .ok_or_else(|| Problem::BadChoice(part.to_owned()))?;
        let code = code.trim();
        if code.is_empty() {
            return Err(Problem::BadChoice(part.to_owned()));
        }
        if out.iter().any(|c| c.code == code) {
            return Err(Problem::DuplicateChoice(code.to_owned()));
        }
        out.push(Choice {
            code: code.to_owned(),
            label: label.trim().to_owned(),
        });
    }
    Ok(out)
}
