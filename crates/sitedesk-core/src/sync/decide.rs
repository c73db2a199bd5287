//! The pure part of sync: what to do with one cell given what the desk
//! holds, what the EDC last had when the desk saw it (the base), and what
//! the EDC holds now; and how cells map to REDCap's flat rows.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The flat row's column of a record's data access group (its site).
pub const DAG_COLUMN: &str = "redcap_data_access_group";

use crate::domain::{Cell, normalize};
use crate::edc::FlatRow;
use crate::metadata::design::Design;
use crate::metadata::tags::FieldTags;
use crate::metadata::{Dictionary, FieldType};

/// What to do with a cell that has local edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The EDC still holds the base: send the local value.
    Push(String),
    /// The EDC already holds the local value: nothing to send.
    Same,
    /// The local edits came back to the base, and the EDC changed: take the
    /// EDC's value.
    TakeTheirs,
    /// Both changed, differently: a person decides.
    Conflict,
}

/// The three-way comparison, with blank as `""` and a base never seen as
/// blank (a cell the EDC never had).
pub fn decide(local: &str, base: Option<&str>, server: &str) -> Decision {
    let base = base.unwrap_or("");
    if server == local {
        Decision::Same
    } else if server == base {
        Decision::Push(local.to_owned())
    } else if local == base {
        Decision::TakeTheirs
    } else {
        Decision::Conflict
    }
}

/// How the study lays cells out in flat rows.
pub struct Layout<'a> {
    pub dictionary: &'a Dictionary,
    pub design: &'a Design,
    /// Stored name → (dictionary field, form).
    fields: HashMap<String, (&'a str, &'a str, FieldType)>,
    /// Fields whose value the desk computes from an action tag
    /// (`@CALCTEXT`, `@CALCDATE`): like calcs, never sent.
    computed: HashSet<&'a str>,
}

impl<'a> Layout<'a> {
    pub fn new(dictionary: &'a Dictionary, design: &'a Design) -> Layout<'a> {
        let mut fields = HashMap::new();
        let mut computed = HashSet::new();
        for f in &dictionary.fields {
            if FieldTags::of(f).computed() {
                computed.insert(f.name.as_str());
            }
            if f.field_type == FieldType::Checkbox {
                // A checkbox has a column per choice and per missing-data code.
                let codes = f
                    .choices
                    .iter()
                    .map(|c| c.code.as_str())
                    .chain(design.missing_codes.iter().map(|m| m.code.as_str()));
                for code in codes {
                    fields.insert(
                        crate::forms::choice_field(&f.name, code),
                        (f.name.as_str(), f.form.as_str(), f.field_type),
                    );
                }
            } else {
                fields.insert(
                    f.name.clone(),
                    (f.name.as_str(), f.form.as_str(), f.field_type),
                );
            }
        }
        for i in dictionary.instruments() {
            let name = crate::forms::status_field(&i.name);
            let form = dictionary
                .fields
                .iter()
                .find(|f| f.form == i.name)
                .map(|f| f.form.as_str())
                .unwrap_or_default();
            fields.insert(name, ("", form, FieldType::Radio));
        }
        Layout {
            dictionary,
            design,
            fields,
            computed,
        }
    }

    pub fn record_id_field(&self) -> &str {
        &self.dictionary.record_id_field().name
    }

    /// Whether the EDC takes a value of this stored name: a field of the
    /// dictionary in force (not a calculation or a field an action tag
    /// computes, which the EDC computes) or a form status.
    pub fn pushable(&self, stored: &str) -> bool {
        self.fields.get(stored).is_some_and(|(_, _, t)| {
            !matches!(
                t,
                FieldType::Calc | FieldType::Descriptive | FieldType::File | FieldType::Sql
            )
        }) && !self.is_calc(stored)
            && stored != self.record_id_field()
    }

    /// A form status (`<form>_complete`).
    pub fn is_status(&self, stored: &str) -> bool {
        self.fields
            .get(stored)
            .is_some_and(|(f, _, _)| f.is_empty())
    }

    /// A calculation, or a field an action tag computes (`@CALCTEXT`,
    /// `@CALCDATE`): the EDC computes its own, the desk never sends it.
    pub fn is_calc(&self, stored: &str) -> bool {
        match self.fields.get(stored) {
            Some((_, _, FieldType::Calc)) => true,
            Some((field, _, _)) => self.computed.contains(field),
            None => false,
        }
    }

    /// The dictionary field a stored name belongs to (for `fields[]`).
    pub fn field_of<'s>(&'s self, stored: &'s str) -> Option<&'s str> {
        // A form status is exported by its own name.
        self.fields
            .get(stored)
            .map(|(f, _, _)| if f.is_empty() { stored } else { *f })
    }

    /// The stored names an export answer (`rows`, of the dictionary
    /// fields in `asked`, or of every field when `None`) cannot show, by
    /// the token's data export rights. REDCap leaves a column the token
    /// may not export out of every row (not blank): a form without access,
    /// "Remove All Identifier Fields", "De-Identified". Under
    /// "De-Identified" it also moves the form's dates back by the record's
    /// shift, which the values do not show; the sign is that the form's
    /// free text (text without validation, notes), which only
    /// "De-Identified" removes, is left out. A form with a field left out
    /// and no free text asked to tell the two apart has its dates taken
    /// as unseen too. Without rows nothing can be told: empty.
    pub fn unseen(&self, rows: &[FlatRow], asked: Option<&BTreeSet<String>>) -> HashSet<String> {
        let mut unseen = HashSet::new();
        let Some(first) = rows.first() else {
            return unseen;
        };
        let asked = |name: &str| asked.is_none_or(|a| a.contains(name));
        // A field is shown when any of its columns is (a checkbox has one
        // per choice, and per missing-data code where the server adds
        // them); a form status is its own column.
        let shown: HashSet<&str> = first
            .keys()
            .filter_map(|k| self.fields.get_key_value(k))
            .map(|(k, (field, _, _))| if field.is_empty() { k.as_str() } else { *field })
            .collect();
        let mut left_out: HashSet<&str> = HashSet::new();
        let mut forms_cut: HashSet<&str> = HashSet::new();
        // Per form: whether any of its free text asked was shown.
        let mut free_text_shown: HashMap<&str, bool> = HashMap::new();
        let mut dates: HashSet<&str> = HashSet::new();
        for f in &self.dictionary.fields {
            if f.name == self.record_id_field()
                || f.field_type == FieldType::Descriptive
                || !asked(&f.name)
            {
                continue;
            }
            let is_shown = shown.contains(f.name.as_str());
            if !is_shown {
                left_out.insert(&f.name);
                forms_cut.insert(&f.form);
            }
            if f.is_free_text() && !f.identifier {
                *free_text_shown.entry(&f.form).or_default() |= is_shown;
            }
            if f.is_date() {
                dates.insert(&f.name);
            }
        }
        for (stored, (field, form, _)) in &self.fields {
            if field.is_empty() && asked(stored) && !shown.contains(stored.as_str()) {
                left_out.insert(stored);
                forms_cut.insert(form);
            }
        }
        let shifted = |form: &str| match free_text_shown.get(form) {
            Some(any_shown) => !any_shown,
            None => forms_cut.contains(form),
        };
        for (stored, (field, form, _)) in &self.fields {
            let name = if field.is_empty() {
                stored.as_str()
            } else {
                *field
            };
            if left_out.contains(name) || (dates.contains(name) && shifted(form)) {
                unseen.insert(stored.clone());
            }
        }
        unseen
    }

    /// The columns a push asks beside the cells it compares, per form of
    /// `forms`: the form's status, which every export right but "no
    /// access" shows, so that each event of a record the EDC has answers
    /// its row even when every compared column is hidden (REDCap answers
    /// no row where no asked column is shown); and a non-identifier free
    /// text, which tells whether the form's dates are shifted (see
    /// [`Layout::unseen`]).
    pub fn probes(&self, forms: &BTreeSet<&str>) -> Vec<String> {
        let mut probes = Vec::new();
        for form in forms {
            probes.push(crate::forms::status_field(form));
            if let Some(f) = self
                .dictionary
                .fields
                .iter()
                .find(|f| f.form == *form && !f.identifier && f.is_free_text())
            {
                probes.push(f.name.clone());
            }
        }
        probes
    }

    /// The form of a stored name.
    pub fn form_of(&self, stored: &str) -> Option<&'a str> {
        self.fields.get(stored).map(|(_, form, _)| *form)
    }

    /// The key columns of the flat row a cell belongs to.
    fn row_key(&self, cell: &Cell) -> Vec<(String, String)> {
        let mut key = vec![(self.record_id_field().to_owned(), cell.record_id.clone())];
        if self.design.is_longitudinal() {
            key.push(("redcap_event_name".into(), cell.event.clone()));
        }
        let form = self
            .fields
            .get(&cell.field)
            .map(|(_, form, _)| *form)
            .unwrap_or("");
        if self.design.repeats(&cell.event, form) {
            let instrument = if self.design.event_repeats(&cell.event) {
                String::new()
            } else {
                form.to_owned()
            };
            key.push(("redcap_repeat_instrument".into(), instrument));
            key.push(("redcap_repeat_instance".into(), cell.instance.to_string()));
        }
        key
    }

    /// Flat rows carrying `values` (stored form; a blank checkbox choice is
    /// sent as `"0"`, as REDCap keeps it).
    pub fn rows(&self, values: &[(Cell, String)]) -> Vec<FlatRow> {
        let mut rows: BTreeMap<Vec<(String, String)>, FlatRow> = BTreeMap::new();
        for (cell, value) in values {
            let key = self.row_key(cell);
            let row = rows
                .entry(key.clone())
                .or_insert_with(|| key.into_iter().collect());
            let v = if cell.field.contains("___") && value.is_empty() {
                "0".to_owned()
            } else {
                value.clone()
            };
            row.insert(cell.field.clone(), v);
        }
        rows.into_values().collect()
    }

    /// The cells of an exported flat row, with their values normalized
    /// (an unticked checkbox is blank). Columns the layout does not know
    /// (pseudo-fields, fields of another version) are left out.
    pub fn cells(&self, row: &FlatRow) -> Vec<(Cell, String)> {
        let Some(record_id) = row.get(self.record_id_field()) else {
            return Vec::new();
        };
        let event = if self.design.is_longitudinal() {
            row.get("redcap_event_name").cloned().unwrap_or_default()
        } else {
            crate::metadata::design::CLASSIC_EVENT.to_owned()
        };
        let instance = row
            .get("redcap_repeat_instance")
            .and_then(|i| i.parse::<u32>().ok())
            .unwrap_or(1);
        let instrument = row
            .get("redcap_repeat_instrument")
            .cloned()
            .unwrap_or_default();
        let repeat_row = row
            .get("redcap_repeat_instance")
            .is_some_and(|i| !i.is_empty());
        let forms = self.design.forms_for_event(self.dictionary, &event);
        row.iter()
            .filter(|(k, _)| *k != self.record_id_field())
            .filter(|(k, _)| {
                let Some((_, form, _)) = self.fields.get(*k) else {
                    return false;
                };
                // Only the forms the event has; a repeating form's row holds
                // only its own columns, and the event's plain row none of
                // the repeating forms'.
                forms.iter().any(|f| f == form)
                    && if !instrument.is_empty() {
                        *form == instrument
                    } else {
                        repeat_row || !self.design.repeats(&event, form)
                    }
            })
            .map(|(k, v)| {
                (
                    Cell {
                        record_id: record_id.clone(),
                        event: event.clone(),
                        instance,
                        field: k.clone(),
                    },
                    normalize(k, v),
                )
            })
            .collect()
    }
}
