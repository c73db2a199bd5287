//! The forms benchmark: what one `evaluate_form` costs (the answer to every
//! keystroke on a form), with and without the forms kept parsed per
//! dictionary version, measured in the same run on the same database.
//!
//! - before: the path as it was, at each keystroke: read the dictionary in
//!   force and deserialize it, read the record's values, and evaluate,
//!   parsing each branching logic and calculation;
//! - after: `Desk::forms` (one read of the version's hash, the parsed forms
//!   kept from before), the record's values, and the evaluation with the
//!   parsed logic.
//!
//! On the demo's largest form and on a generated form of 300 fields (text
//! with validation, radios with branching logic on the field before,
//! calculations). `cargo bench -p sitedesk-core --bench forms`; `-- --short`
//! a quick run (CI).

#![allow(clippy::print_stdout, reason = "a benchmark prints its table")]

use std::collections::BTreeMap;
use std::time::Instant;

use hdrhistogram::Histogram;
use sitedesk_core::desk::{Desk, DeskOptions};
use sitedesk_core::domain::RecordEdit;
use sitedesk_core::forms::{FormAt, RecordValues, Study};
use sitedesk_core::i18n::Lang;
use sitedesk_core::metadata::design::Design;
use sitedesk_core::metadata::{Dictionary, parse_csv};
use sitedesk_core::store::Lane;

/// Fields of the generated form.
const BIG_FIELDS: usize = 300;

fn main() {
    let short = std::env::args().any(|a| a == "--short");
    let rounds = if short { 200 } else { 3000 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "forms benchmark ({}): evaluate_form, {rounds} keystrokes a case, time per answer",
        if short { "short" } else { "full" }
    );
    println!(
        "{:<34} {:>12} {:>12} {:>12} {:>12} {:>8}",
        "form", "before p50", "before p99", "after p50", "after p99", "p50 x"
    );
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let desk = Desk::open(DeskOptions::new(dir.path().join("demo"), "bench"))
            .await
            .unwrap();
        let forms = desk.forms().await.unwrap().unwrap();
        let dictionary = &forms.stored.dictionary;
        let largest = dictionary
            .instruments()
            .into_iter()
            .max_by_key(|i| i.fields.len())
            .unwrap();
        let event = forms
            .stored
            .design
            .event_names()
            .into_iter()
            .find(|e| {
                forms
                    .stored
                    .design
                    .forms_for_event(dictionary, e)
                    .contains(&largest.name)
            })
            .unwrap();
        let label = format!("demo: {} ({} fields)", largest.name, largest.fields.len());
        case(&desk, &label, &event, &largest.name, rounds).await;
        desk.shutdown().await;

        let desk = Desk::open(DeskOptions::new(dir.path().join("big"), "bench"))
            .await
            .unwrap();
        desk.store()
            .writer()
            .import_dictionary(
                desk.actor(),
                big_form(),
                Some(Design::default()),
                "generated".into(),
            )
            .await
            .unwrap();
        let forms = desk.forms().await.unwrap().unwrap();
        let event = forms.stored.design.event_names().remove(0);
        let label = format!("generated: big ({BIG_FIELDS} fields)");
        case(&desk, &label, &event, "big", rounds).await;
        desk.shutdown().await;
    });
}

/// Measures both paths on one form of a record with a saved value, typing
/// into the form's first text field.
async fn case(desk: &Desk, label: &str, event: &str, form: &str, rounds: usize) {
    let record = "S01-BEN-0001";
    let forms = desk.forms().await.unwrap().unwrap();
    let field = forms
        .stored
        .dictionary
        .fields
        .iter()
        .skip(1)
        .find(|f| f.form == form && f.field_type == sitedesk_core::metadata::FieldType::Text)
        .map(|f| f.name.clone())
        .unwrap();
    desk.store()
        .writer()
        .set_values(
            Lane::Interactive,
            desk.actor(),
            RecordEdit {
                record_id: record.into(),
                event: event.into(),
                instance: 1,
                values: BTreeMap::from([(field.clone(), Some("1".into()))]),
                reason: None,
                computed: Vec::new(),
            },
        )
        .await
        .unwrap();
    let at = FormAt {
        record_id: record,
        event,
        form,
        instance: 1,
    };
    let now = chrono::Local::now().naive_local();
    let readers = desk.store().readers();
    let mut before = histogram();
    let mut after = histogram();
    // Alternate the two paths so that neither gets the quieter moments.
    for i in 0..rounds {
        let typed = BTreeMap::from([(field.clone(), (i % 97).to_string())]);
        let t = Instant::now();
        let stored = readers.dictionary().await.unwrap().unwrap();
        let saved = RecordValues::new(readers.record_values(record.into()).await.unwrap());
        let a = Study::new(&stored.dictionary, &stored.design)
            .evaluate(&at, &saved, &typed, now, Lang::EN)
            .unwrap();
        before.record(micros(t)).unwrap();

        let t = Instant::now();
        let forms = desk.forms().await.unwrap().unwrap();
        let saved = RecordValues::new(readers.record_values(record.into()).await.unwrap());
        let b = forms
            .study()
            .evaluate(&at, &saved, &typed, now, Lang::EN)
            .unwrap();
        after.record(micros(t)).unwrap();
        assert_eq!(a, b, "both paths answer the same");
    }
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{label:<34} {:>9.3} ms {:>9.3} ms {:>9.3} ms {:>9.3} ms {:>7.1}x",
        ms(&before, 0.5),
        ms(&before, 0.99),
        ms(&after, 0.5),
        ms(&after, 0.99),
        ms(&before, 0.5) / ms(&after, 0.5).max(0.001)
    );
}

fn histogram() -> Histogram<u64> {
    Histogram::new(3).unwrap()
}

fn micros(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// A classic project with one form of `BIG_FIELDS` fields: every third a
/// radio shown when the one before it is filled, every tenth a calculation
/// over the two before it, the rest numbers with a range.
fn big_form() -> Dictionary {
    let mut csv = String::from(
        "Variable / Field Name,Form Name,Section Header,Field Type,Field Label,\
         \"Choices, Calculations, OR Slider Labels\",Field Note,\
         Text Validation Type OR Show Slider Number,Text Validation Min,Text Validation Max,\
         Identifier?,Branching Logic (Show field only if...),Required Field?,Custom Alignment,\
         Question Number (surveys only),Matrix Group Name,Matrix Ranking?,Field Annotation\n\
         record_id,big,,text,ID,,,,,,,,,,,,,\n",
    );
    for i in 1..=BIG_FIELDS {
        let prev = format!("f{}", i - 1);
        let line = if i % 10 == 0 {
            format!(
                "f{i},big,,calc,Sum {i},\"[f{}] + [f{}]\",,,,,,,,,,,,\n",
                i - 2,
                i - 3
            )
        } else if i % 3 == 0 {
            format!("f{i},big,,radio,Answer {i},\"1, Yes | 0, No\",,,,,,[{prev}] <> '',,,,,,\n")
        } else {
            format!("f{i},big,,text,Value {i},,,number,0,100,,,,,,,,\n")
        };
        csv.push_str(&line);
    }
    parse_csv(csv.as_bytes()).unwrap()
}
