//! Reading REDCap's project file: the "CDISC ODM (XML) with REDCap
//! extensions" export (`project.xml`), from which a REDCap server can
//! create the project. It carries the data dictionary and the design
//! (arms, events, which forms each event has, repeating forms, data access
//! groups), so a desk can be set up from one file without a server.
//!
//! Each field becomes the row of 18 dictionary columns that REDCap's CSV
//! export would have, and goes through the same checks as the CSV
//! (`dictionary::build`), so a field reads the same whichever way it came.
//! What the ODM export leaves out stays empty: the choices of `sql` fields,
//! and the min and max of a field without a validation type (a slider's).
//! A data access group's unique name is not in the file; it is derived the
//! way REDCap derives it from the group's name.
//!
//! [`parse_odm_project`] also reads what a REDCap server takes from the
//! file to serve the project: the title, record autonumbering and missing
//! data codes of `GlobalVariables`, and the records of `ClinicalData` as
//! the file writes them (subject, events, forms, items), checked against
//! nothing: placing them in a project is the caller's.
//!
//! Deliberately not here: surveys, reports, user roles and the other
//! project settings the file carries.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use md5::{Digest as _, Md5};
use roxmltree::{Attribute, Document, Node};

use super::Dictionary;
use super::design::{Arm, Dag, Design, DesignError, Event, FormEvent, InstrumentLabel, Repeating};
use super::dictionary;
use super::error::MetadataError;
use crate::i18n::{Lang, Message};

/// Why a project file cannot be used: the first thing that shows it, with
/// the line of the element at fault where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OdmError {
    /// Not well-formed XML; the parser's words, with line and column.
    #[error("the file is not well-formed XML: {0}")]
    Xml(String),
    /// XML, but its root element is not `<ODM>`.
    #[error("the file is not a CDISC ODM file: its root element is <{0}>")]
    NotOdm(String),
    /// An element every REDCap project file has is missing.
    #[error("the file has no <{0}> element")]
    MissingElement(&'static str),
    #[error("line {line}: {element} has no {attribute} attribute")]
    MissingAttribute {
        line: u32,
        /// The element, with its OID when it has one.
        element: String,
        attribute: &'static str,
    },
    /// A reference (`ItemGroupRef`, `ItemRef`, `CodeListRef`, `FormRef`,
    /// `StudyEventRef`, the record id field) to something the file does
    /// not define.
    #[error("line {line}: {element} refers to {kind} {target}, which the file does not define")]
    UnknownReference {
        line: u32,
        element: String,
        kind: &'static str,
        target: String,
    },
    /// Two definitions with the same OID.
    #[error("line {line}: {element} is defined twice")]
    DuplicateOid { line: u32, element: String },
    #[error("line {line}: {element} has {attribute}=\"{value}\", which is not a number")]
    NotANumber {
        line: u32,
        element: String,
        attribute: &'static str,
        value: String,
    },
    /// The forms hold no field (only their `_complete` status items).
    #[error("the file's forms have no fields")]
    NoFields,
    /// The field the file names as the record id is not the first field.
    #[error("the record id field {named} is not the first field ({first} is)")]
    RecordIdNotFirst { named: String, first: String },
    /// A field the dictionary checks refuse; its line is the line of the
    /// field's `ItemDef`.
    #[error(transparent)]
    Field(#[from] MetadataError),
    #[error(transparent)]
    Design(#[from] DesignError),
}

impl OdmError {
    /// The error in words for the import screen, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        self.msg().render(lang)
    }

    /// The message, in no language yet.
    pub fn msg(&self) -> Message {
        use OdmError::*;
        let problem = match self {
            Field(e) => return e.msg(),
            Design(e) => return e.msg(),
            Xml(e) => Message::new("core.metadata.odm.xml").with("detail", e),
            NotOdm(root) => Message::new("core.metadata.odm.notOdm").with("root", root),
            MissingElement(name) => {
                Message::new("core.metadata.odm.missingElement").with("element", *name)
            }
            MissingAttribute {
                line,
                element,
                attribute,
            } => Message::new("core.metadata.odm.missingAttribute")
                .with("line", line.to_string())
                .with("element", element)
                .with("attribute", *attribute),
            UnknownReference {
                line,
                element,
                kind,
                target,
            } => Message::new("core.metadata.odm.unknownReference")
                .with("line", line.to_string())
                .with("element", element)
                .with("kind", *kind)
                .with("target", target),
            DuplicateOid { line, element } => Message::new("core.metadata.odm.duplicateOid")
                .with("line", line.to_string())
                .with("element", element),
            NotANumber {
                line,
                element,
                attribute,
                value,
            } => Message::new("core.metadata.odm.notANumber")
                .with("line", line.to_string())
                .with("element", element)
                .with("attribute", *attribute)
                .with("value", value),
            NoFields => Message::new("core.metadata.odm.noFields"),
            RecordIdNotFirst { named, first } => Message::new("core.metadata.odm.recordIdNotFirst")
                .with("named", named)
                .with("first", first),
        };
        Message::new("core.metadata.odm.error").with("problem", problem)
    }
}

/// Pseudo-fields REDCap adds to an export with data; none is a field of
/// the dictionary (survey timestamps, `<form>_timestamp`, also are not).
const PSEUDO_FIELDS: [&str; 5] = [
    "redcap_data_access_group",
    "redcap_survey_identifier",
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
];

/// Reads a REDCap project file into its data dictionary and design, and
/// checks that the design holds together with the dictionary.
pub fn parse_odm(text: &str) -> Result<(Dictionary, Design), OdmError> {
    let doc = document(text)?;
    let (study, r) = study(&doc)?;
    r.metadata(study)
}

/// A project file read for a server: the dictionary and design (as
/// [`parse_odm`] reads them), the project's settings, and its records.
#[derive(Debug, Clone)]
pub struct OdmProject {
    pub dictionary: Dictionary,
    pub design: Design,
    /// `StudyName`, when it is not blank.
    pub title: Option<String>,
    /// `redcap:RecordAutonumberingEnabled` is `1`.
    pub autonumbering: bool,
    /// `redcap:MissingDataCodes` as written; empty without.
    pub missing_data_codes: String,
    /// Every `SubjectData`, in the file's order.
    pub subjects: Vec<OdmSubject>,
}

/// One record of the file's `ClinicalData`, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdmSubject {
    /// `SubjectKey`, the record id (empty when missing).
    pub key: String,
    /// The `FormData` directly under the subject: a classic project's.
    pub forms: Vec<OdmForm>,
    /// The `StudyEventData` under the subject: a longitudinal project's.
    pub events: Vec<OdmEvent>,
}

/// One `StudyEventData` of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdmEvent {
    /// `redcap:UniqueEventName`, else the `StudyEventOID` without its
    /// `Event.` prefix (empty when neither is there).
    pub unique_event_name: String,
    /// `StudyEventRepeatKey`; `None` when missing or not a number.
    pub repeat_key: Option<u32>,
    pub forms: Vec<OdmForm>,
}

/// One `FormData` of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdmForm {
    /// `FormOID` (empty when missing).
    pub oid: String,
    /// The name of the form the OID refers to (`redcap:FormName`, else the
    /// OID without `Form.`); `None` when the file defines no such form.
    pub name: Option<String>,
    /// `FormRepeatKey`; `None` when missing or not a number.
    pub repeat_key: Option<u32>,
    /// The `ItemData` and `ItemDataBase64Binary` inside it, in order.
    pub items: Vec<OdmItem>,
}

/// One value of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdmItem {
    /// `ItemOID`: the export column (`weight`, `meds___2`,
    /// `redcap_data_access_group`); empty when missing.
    pub oid: String,
    pub value: OdmValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OdmValue {
    /// `ItemData`'s `Value`, with its line breaks; `None` without one.
    Text(Option<String>),
    /// `ItemDataBase64Binary`, a stored file: its `redcap:DocName`, when
    /// the file gives it.
    File(Option<String>),
}

/// Reads a REDCap project file as [`parse_odm`] does, and with it the
/// project's settings and records (see [`OdmProject`]).
pub fn parse_odm_project(text: &str) -> Result<OdmProject, OdmError> {
    let doc = document(text)?;
    let (study, r) = study(&doc)?;
    let (dictionary, design) = r.metadata(study)?;
    let globals = child(study, "GlobalVariables");
    let setting = |name: &str| {
        globals
            .and_then(|g| g.children().find(|n| n.tag_name().name() == name))
            .and_then(|n| n.text())
            .map(|t| t.trim().to_owned())
    };
    Ok(OdmProject {
        dictionary,
        design,
        title: setting("StudyName").filter(|t| !t.is_empty()),
        autonumbering: setting("RecordAutonumberingEnabled").as_deref() == Some("1"),
        missing_data_codes: setting("MissingDataCodes").unwrap_or_default(),
        subjects: r.subjects()?,
    })
}

fn document(text: &str) -> Result<Document<'_>, OdmError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Document::parse(text).map_err(|e| OdmError::Xml(e.to_string()))
}

/// The file's `Study` and a reader of its `MetaDataVersion`.
fn study<'a, 'input>(
    doc: &'a Document<'input>,
) -> Result<(Node<'a, 'input>, Reader<'a, 'input>), OdmError> {
    let odm = doc.root_element();
    if odm.tag_name().name() != "ODM" {
        return Err(OdmError::NotOdm(odm.tag_name().name().to_owned()));
    }
    let study = child(odm, "Study").ok_or(OdmError::MissingElement("Study"))?;
    let mdv = child(study, "MetaDataVersion").ok_or(OdmError::MissingElement("MetaDataVersion"))?;
    Ok((study, Reader::new(doc, mdv)?))
}

/// The definitions of a `MetaDataVersion`, by OID.
struct Reader<'a, 'input> {
    doc: &'a Document<'input>,
    mdv: Node<'a, 'input>,
    forms: HashMap<&'a str, Node<'a, 'input>>,
    groups: HashMap<&'a str, Node<'a, 'input>>,
    items: HashMap<&'a str, Node<'a, 'input>>,
    code_lists: HashMap<&'a str, Node<'a, 'input>>,
    events: HashMap<&'a str, Node<'a, 'input>>,
}

impl<'a, 'input> Reader<'a, 'input> {
    fn new(doc: &'a Document<'input>, mdv: Node<'a, 'input>) -> Result<Self, OdmError> {
        let mut r = Reader {
            doc,
            mdv,
            forms: HashMap::new(),
            groups: HashMap::new(),
            items: HashMap::new(),
            code_lists: HashMap::new(),
            events: HashMap::new(),
        };
        for node in mdv.children().filter(Node::is_element) {
            let map = match node.tag_name().name() {
                "FormDef" => &mut r.forms,
                "ItemGroupDef" => &mut r.groups,
                "ItemDef" => &mut r.items,
                "CodeList" => &mut r.code_lists,
                "StudyEventDef" => &mut r.events,
                _ => continue,
            };
            let oid = node
                .attribute("OID")
                .ok_or_else(|| OdmError::MissingAttribute {
                    line: line(doc, node),
                    element: describe(node),
                    attribute: "OID",
                })?;
            if map.insert(oid, node).is_some() {
                return Err(OdmError::DuplicateOid {
                    line: line(doc, node),
                    element: describe(node),
                });
            }
        }
        if r.items.is_empty() {
            return Err(OdmError::MissingElement("ItemDef"));
        }
        Ok(r)
    }

    fn line(&self, node: Node) -> u32 {
        line(self.doc, node)
    }

    /// The dictionary and the design, checked to hold together.
    fn metadata(&self, study: Node) -> Result<(Dictionary, Design), OdmError> {
        let dictionary = self.dictionary()?;
        let globals = child(study, "GlobalVariables");
        let missing = globals
            .and_then(|g| {
                g.children()
                    .find(|n| n.tag_name().name() == "MissingDataCodes")
            })
            .and_then(|n| n.text())
            .unwrap_or_default();
        let design = self.design(globals)?.with_missing_codes(missing);
        design.check(&dictionary)?;
        Ok((dictionary, design))
    }

    /// The records of `ClinicalData`, as written.
    fn subjects(&self) -> Result<Vec<OdmSubject>, OdmError> {
        let repeat_key = |node: Node, name: &str| node.attribute(name).and_then(|k| k.parse().ok());
        let forms = |parent: Node| -> Result<Vec<OdmForm>, OdmError> {
            children(parent, "FormData")
                .map(|fd| {
                    let oid = fd.attribute("FormOID").unwrap_or_default();
                    Ok(OdmForm {
                        oid: oid.to_owned(),
                        name: self
                            .forms
                            .get(oid)
                            .map(|&def| self.form_name(def))
                            .transpose()?,
                        repeat_key: repeat_key(fd, "FormRepeatKey"),
                        items: fd
                            .descendants()
                            .filter(|n| {
                                n.has_tag_name("ItemData") || n.has_tag_name("ItemDataBase64Binary")
                            })
                            .map(|item| OdmItem {
                                oid: item.attribute("ItemOID").unwrap_or_default().to_owned(),
                                value: if item.has_tag_name("ItemDataBase64Binary") {
                                    OdmValue::File(self.rc(item, "DocName"))
                                } else {
                                    OdmValue::Text(self.plain(item, "Value"))
                                },
                            })
                            .collect(),
                    })
                })
                .collect()
        };
        self.doc
            .descendants()
            .filter(|n| n.has_tag_name("SubjectData"))
            .map(|subject| {
                let events = children(subject, "StudyEventData")
                    .map(|se| {
                        Ok(OdmEvent {
                            unique_event_name: self
                                .rc(se, "UniqueEventName")
                                .or_else(|| {
                                    se.attribute("StudyEventOID")
                                        .map(|o| o.strip_prefix("Event.").unwrap_or(o).to_owned())
                                })
                                .unwrap_or_default(),
                            repeat_key: repeat_key(se, "StudyEventRepeatKey"),
                            forms: forms(se)?,
                        })
                    })
                    .collect::<Result<_, OdmError>>()?;
                Ok(OdmSubject {
                    key: subject
                        .attribute("SubjectKey")
                        .unwrap_or_default()
                        .to_owned(),
                    forms: forms(subject)?,
                    events,
                })
            })
            .collect()
    }

    /// A REDCap attribute (`redcap:Variable`), by its local name.
    fn rc(&self, node: Node, name: &str) -> Option<String> {
        node.attributes()
            .find(|a| a.name() == name && a.namespace().is_some())
            .map(|a| self.value(&a))
    }

    /// An attribute without a namespace (`OID`, `Name`).
    fn plain(&self, node: Node, name: &str) -> Option<String> {
        node.attributes()
            .find(|a| a.name() == name && a.namespace().is_none())
            .map(|a| self.value(&a))
    }

    fn required(&self, node: Node, name: &'static str) -> Result<String, OdmError> {
        self.plain(node, name)
            .ok_or_else(|| OdmError::MissingAttribute {
                line: self.line(node),
                element: describe(node),
                attribute: name,
            })
    }

    /// An attribute's value with its line breaks. XML turns a line break
    /// written into an attribute into a space, and REDCap writes branching
    /// logic, notes, section headers and annotations into attributes with
    /// their line breaks as they are, so the value is decoded again from
    /// the text as written.
    fn value(&self, a: &Attribute) -> String {
        let normalized = a.value();
        let Some(raw) = self.doc.input_text().get(a.range_value()) else {
            return normalized.to_owned();
        };
        if !raw.contains(['\n', '\r', '\t']) {
            return normalized.to_owned();
        }
        let decoded = decode_entities(&raw.replace("\r\n", "\n").replace('\r', "\n"));
        // The range is only exact for short names; never trust a mismatch.
        if decoded.replace(['\n', '\t'], " ") == normalized {
            decoded
        } else {
            normalized.to_owned()
        }
    }

    fn reference(
        &self,
        map: &HashMap<&'a str, Node<'a, 'input>>,
        from: Node,
        attribute: &'static str,
        kind: &'static str,
    ) -> Result<Node<'a, 'input>, OdmError> {
        let target = self.required(from, attribute)?;
        map.get(target.as_str())
            .copied()
            .ok_or_else(|| OdmError::UnknownReference {
                line: self.line(from),
                element: describe(from),
                kind,
                target,
            })
    }

    /// A form's name: `redcap:FormName`, else its OID without `Form.`.
    fn form_name(&self, form: Node) -> Result<String, OdmError> {
        match self.rc(form, "FormName") {
            Some(name) => Ok(name),
            None => {
                let oid = self.required(form, "OID")?;
                Ok(oid.strip_prefix("Form.").unwrap_or(&oid).to_owned())
            }
        }
    }

    /// The dictionary: the fields of each `FormDef`, in the order of its
    /// item groups and their items.
    fn dictionary(&self) -> Result<Dictionary, OdmError> {
        let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
        // A checkbox is one `field___code` item per choice: the first makes
        // the field, the rest of the same form are folded into it.
        let mut checkboxes: HashSet<(String, String)> = HashSet::new();
        for form_def in self.mdv.children().filter(|n| n.has_tag_name("FormDef")) {
            let form = self.form_name(form_def)?;
            let complete = format!("{form}_complete");
            for group_ref in children(form_def, "ItemGroupRef") {
                let group =
                    self.reference(&self.groups, group_ref, "ItemGroupOID", "ItemGroupDef")?;
                for item_ref in children(group, "ItemRef") {
                    let item = self.reference(&self.items, item_ref, "ItemOID", "ItemDef")?;
                    let name = match self
                        .rc(item, "Variable")
                        .or_else(|| self.rc(item_ref, "Variable"))
                    {
                        Some(v) => v,
                        None => self.required(item, "OID")?,
                    };
                    if name == complete {
                        continue;
                    }
                    let Some(field_type) = self.rc(item, "FieldType") else {
                        if PSEUDO_FIELDS.contains(&name.as_str()) || name.ends_with("_timestamp") {
                            continue;
                        }
                        return Err(OdmError::MissingAttribute {
                            line: self.line(item),
                            element: describe(item),
                            attribute: "redcap:FieldType",
                        });
                    };
                    if field_type == "checkbox" && !checkboxes.insert((name.clone(), form.clone()))
                    {
                        continue;
                    }
                    let cells = self.row(&name, &form, &field_type, item, item_ref)?;
                    rows.push((self.line(item) as usize, Vec::from(cells)));
                }
            }
        }
        let Some((_, first)) = rows.first() else {
            return Err(OdmError::NoFields);
        };
        if let Some(named) = self.rc(self.mdv, "RecordIdField")
            && !named.is_empty()
            && named != first[0]
        {
            let first = first[0].clone();
            return Err(if rows.iter().any(|(_, c)| c[0] == named) {
                OdmError::RecordIdNotFirst { named, first }
            } else {
                OdmError::UnknownReference {
                    line: self.line(self.mdv),
                    element: describe(self.mdv),
                    kind: "field",
                    target: named,
                }
            });
        }
        Ok(dictionary::build(rows)?)
    }

    /// One field as the 18 columns of REDCap's data dictionary, in its
    /// order (`dictionary::COLUMNS`).
    fn row(
        &self,
        name: &str,
        form: &str,
        odm_type: &str,
        item: Node,
        item_ref: Node,
    ) -> Result<[String; 18], OdmError> {
        let rc = |n: &str| self.rc(item, n).unwrap_or_default();
        // The project's own names for two types and five validations;
        // the dictionary uses the names the CSV shows.
        let field_type = match odm_type {
            "textarea" => "notes",
            "select" => "dropdown",
            other => other,
        };
        let validation = match rc("TextValidationType").as_str() {
            "int" => "integer".to_owned(),
            "float" => "number".to_owned(),
            "date" => "date_ymd".to_owned(),
            "datetime" => "datetime_ymd".to_owned(),
            "datetime_seconds" => "datetime_seconds_ymd".to_owned(),
            other => other.to_owned(),
        };
        let choices = match field_type {
            "calc" => rc("Calculation"),
            "slider" => rc("SliderLabels"),
            "checkbox" => {
                let list = self.code_list(item)?;
                match list {
                    Some(list) => self.rc(list, "CheckboxChoices").ok_or_else(|| {
                        OdmError::MissingAttribute {
                            line: self.line(list),
                            element: describe(list),
                            attribute: "redcap:CheckboxChoices",
                        }
                    })?,
                    None => String::new(),
                }
            }
            "dropdown" | "radio" => match self.code_list(item)? {
                Some(list) => self.choices(list)?,
                None => String::new(),
            },
            // Yes/no and true/false code lists are fixed, not choices; an
            // `sql` field's choices are a query the export leaves out.
            _ => self.rc(item, "OntologySearch").unwrap_or_default(),
        };
        let (mut min, mut max) = (String::new(), String::new());
        for check in children(item, "RangeCheck") {
            let value = child(check, "CheckValue").map(text).unwrap_or_default();
            match check.attribute("Comparator") {
                Some("GE" | "GT") => min = value,
                Some("LE" | "LT") => max = value,
                _ => {}
            }
        }
        let required = match self.rc(item, "RequiredField") {
            Some(flag) => flag,
            None if item_ref.attribute("Mandatory") == Some("Yes") => "y".to_owned(),
            None => String::new(),
        };
        Ok([
            name.to_owned(),
            form.to_owned(),
            rc("SectionHeader"),
            field_type.to_owned(),
            label(item),
            choices,
            rc("FieldNote"),
            validation,
            min,
            max,
            rc("Identifier"),
            rc("BranchingLogic"),
            required,
            rc("CustomAlignment"),
            rc("QuestionNumber"),
            rc("MatrixGroupName"),
            rc("MatrixRanking"),
            rc("FieldAnnotation"),
        ])
    }

    fn code_list(&self, item: Node) -> Result<Option<Node<'a, 'input>>, OdmError> {
        child(item, "CodeListRef")
            .map(|r| self.reference(&self.code_lists, r, "CodeListOID", "CodeList"))
            .transpose()
    }

    /// A code list as the dictionary writes choices: `1, One | 2, Two`.
    /// REDCap keeps choices as this text, so no label holds a `|`.
    fn choices(&self, list: Node) -> Result<String, OdmError> {
        let mut out = Vec::new();
        for item in children(list, "CodeListItem") {
            let code = self.required(item, "CodedValue")?;
            let label = child(item, "Decode").map(label_of).unwrap_or_default();
            out.push(format!("{code}, {label}"));
        }
        Ok(out.join(" | "))
    }

    /// Arms, events and their forms (`StudyEventDef`), repeating forms and
    /// events, and data access groups (`GlobalVariables`).
    fn design(&self, globals: Option<Node>) -> Result<Design, OdmError> {
        let mut design = Design::default();
        for form_def in self.mdv.children().filter(|n| n.has_tag_name("FormDef")) {
            if let Some(label) = form_def.attribute("Name").filter(|l| !l.trim().is_empty()) {
                design.instruments.push(InstrumentLabel {
                    instrument_name: self.form_name(form_def)?,
                    instrument_label: label.to_owned(),
                });
            }
        }
        if let Some(protocol) = child(self.mdv, "Protocol") {
            for event_ref in children(protocol, "StudyEventRef") {
                self.reference(&self.events, event_ref, "StudyEventOID", "StudyEventDef")?;
            }
        }
        for def in self
            .mdv
            .children()
            .filter(|n| n.has_tag_name("StudyEventDef"))
        {
            let unique = match self.rc(def, "UniqueEventName") {
                Some(name) => name,
                None => {
                    let oid = self.required(def, "OID")?;
                    oid.strip_prefix("Event.").unwrap_or(&oid).to_owned()
                }
            };
            let arm_text = self
                .rc(def, "ArmNum")
                .ok_or_else(|| OdmError::MissingAttribute {
                    line: self.line(def),
                    element: describe(def),
                    attribute: "redcap:ArmNum",
                })?;
            let arm_num: u32 = arm_text.trim().parse().map_err(|_| OdmError::NotANumber {
                line: self.line(def),
                element: describe(def),
                attribute: "redcap:ArmNum",
                value: arm_text.clone(),
            })?;
            if !design.arms.iter().any(|a| a.arm_num == arm_num) {
                design.arms.push(Arm {
                    arm_num,
                    name: self
                        .rc(def, "ArmName")
                        .unwrap_or_else(|| format!("Arm {arm_num}")),
                });
            }
            for form_ref in children(def, "FormRef") {
                let form_def = self.reference(&self.forms, form_ref, "FormOID", "FormDef")?;
                design.mapping.push(FormEvent {
                    arm_num,
                    unique_event_name: unique.clone(),
                    form: self.form_name(form_def)?,
                });
            }
            design.events.push(Event {
                event_name: self
                    .rc(def, "EventName")
                    .or_else(|| self.plain(def, "Name"))
                    .unwrap_or_else(|| unique.clone()),
                arm_num,
                unique_event_name: unique,
                custom_event_label: self.rc(def, "CustomEventLabel").filter(|l| !l.is_empty()),
            });
        }
        design.arms.sort_by_key(|a| a.arm_num);
        let Some(globals) = globals else {
            return Ok(design);
        };
        let longitudinal = design.is_longitudinal();
        for node in globals.descendants().filter(Node::is_element) {
            // A classic project's export names its one event
            // `event_1_arm_1`; the API (and `Design`) leave it empty.
            let event = || {
                let name = self.rc(node, "UniqueEventName").unwrap_or_default();
                if longitudinal { name } else { String::new() }
            };
            match node.tag_name().name() {
                "RepeatingInstrument" => {
                    let form = self.rc(node, "RepeatInstrument").ok_or_else(|| {
                        OdmError::MissingAttribute {
                            line: self.line(node),
                            element: describe(node),
                            attribute: "redcap:RepeatInstrument",
                        }
                    })?;
                    design.repeating.push(Repeating {
                        event_name: event(),
                        form_name: form,
                        custom_form_label: self.rc(node, "CustomLabel").filter(|l| !l.is_empty()),
                    });
                }
                "RepeatingEvent" => design.repeating.push(Repeating {
                    event_name: event(),
                    form_name: String::new(),
                    custom_form_label: None,
                }),
                _ => {}
            }
        }
        let mut names = Vec::new();
        for group in globals
            .descendants()
            .filter(|n| n.has_tag_name("DataAccessGroupsGroup"))
        {
            for dag in children(group, "DataAccessGroups") {
                names.push(self.required(dag, "group_name")?);
            }
        }
        design.dags = names
            .iter()
            .zip(unique_group_names(&names))
            .map(|(name, unique)| Dag {
                data_access_group_name: name.clone(),
                unique_group_name: unique,
            })
            .collect();
        Ok(design)
    }
}

/// The unique names REDCap gives data access groups (`Project::
/// getUniqueGroupNames`): the name's ASCII letters, digits, underscores
/// and spaces, spaces as underscores, cut to 18 characters, lower case,
/// without a trailing underscore; for a name with none of those (a Chinese
/// one), the first 10 hex digits of the MD5 of the name. A name already
/// taken gets `b`, `c`, ... appended, in the order the groups are listed.
pub(super) fn unique_group_names(names: &[String]) -> Vec<String> {
    let mut bases: Vec<String> = Vec::with_capacity(names.len());
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let decoded = decode_entities(name);
        let kept: String = decoded
            .trim_matches([' ', '\t', '\n', '\r', '\0', '\x0B'])
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ' ')
            .map(|c| {
                if c == ' ' {
                    '_'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .take(18)
            .collect();
        let mut base = kept;
        if base.ends_with('_') {
            base.pop();
        }
        if base.is_empty() {
            base = Md5::digest(name.as_bytes())
                .iter()
                .fold(String::new(), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                });
            base.truncate(10);
        }
        let count = bases.iter().filter(|b| **b == base).count();
        let suffix = match count {
            0 => String::new(),
            1..=25 => char::from(b'a' + count as u8).to_string(),
            26..=701 => {
                let first = char::from(b'a' - 1 + (count / 26) as u8);
                let second = char::from(b'a' + (count % 26) as u8);
                format!("{first}{second}")
            }
            _ => "??".to_owned(),
        };
        out.push(format!("{base}{suffix}"));
        bases.push(base);
    }
    out
}

/// Decodes the entities XML and HTML share (`&amp;`, `&lt;`, `&gt;`,
/// `&quot;`, `&apos;`, `&#39;`, `&#x27;`); anything else is kept as it is.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok().and_then(char::from_u32),
                    None => name
                        .strip_prefix('#')
                        .and_then(|d| d.parse().ok())
                        .and_then(char::from_u32),
                },
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn line(doc: &Document, node: Node) -> u32 {
    doc.text_pos_at(node.range().start).row
}

/// How an error names an element: `FormDef "Form.demographics"`, and one
/// without an OID by where it is (`ItemGroupRef in FormDef "Form.f"`).
fn describe(node: Node) -> String {
    let named = |n: Node| {
        let tag = n.tag_name().name();
        match n.attribute("OID") {
            Some(oid) => format!("{tag} \"{oid}\""),
            None => tag.to_owned(),
        }
    };
    match node.parent_element() {
        Some(parent) if node.attribute("OID").is_none() => {
            format!("{} in {}", named(node), named(parent))
        }
        _ => named(node),
    }
}

fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children().find(|n| n.has_tag_name(name))
}

fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children().filter(move |n| n.has_tag_name(name))
}

/// All the text inside an element.
fn text(node: Node) -> String {
    node.descendants()
        .filter(Node::is_text)
        .filter_map(|n| n.text())
        .collect()
}

/// A label: REDCap writes the label with its HTML into
/// `redcap:FormattedTranslatedText` and a plain-text copy into
/// `TranslatedText`; the dictionary has the HTML.
fn label_of(node: Node) -> String {
    child(node, "FormattedTranslatedText")
        .or_else(|| child(node, "TranslatedText"))
        .map(text)
        .unwrap_or_default()
}

fn label(item: Node) -> String {
    child(item, "Question").map(label_of).unwrap_or_default()
}
