//! The demo study's forms: a small diabetes study with every kind of field
//! a CRC meets (dates, numbers with ranges, branching, a calculation, a
//! matrix, a slider, checkboxes, a repeating adverse-event form, file and
//! signature fields), over four visits. A new desk opens with it, so that
//! a CRC or a trainer can try everything before the study's own forms are
//! imported.

use crate::metadata::design::Design;
use crate::metadata::{Dictionary, parse_csv};

const DICTIONARY: &str = include_str!("demo_dictionary.csv");
const DESIGN: &str = include_str!("demo_design.json");

/// The demo dictionary and design, checked against each other as an
/// import from the EDC would be.
pub fn demo_forms() -> (Dictionary, Design) {
    let dictionary = parse_csv(DICTIONARY.as_bytes()).expect("the demo dictionary parses");
    let design: serde_json::Value = serde_json::from_str(DESIGN).expect("the demo design parses");
    let part = |key: &str| design[key].to_string();
    let design = Design::from_api(
        &dictionary,
        Some(&part("arms")),
        Some(&part("events")),
        Some(&part("mapping")),
        Some(&part("repeating")),
        Some(&part("dags")),
    )
    .and_then(|d| d.with_instrument_labels(&part("instruments")))
    .map(|d| d.with_missing_codes(design["missing_data_codes"].as_str().unwrap_or_default()))
    .expect("the demo design fits the demo dictionary");
    (dictionary, design)
}
