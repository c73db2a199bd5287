use super::*;

#[test]
fn the_default_is_everything_but_design() {
    let r = Rights::default();
    assert!(r.export && r.import && r.logging && r.dags && r.create && r.delete);
    assert!(!r.design);
    assert_eq!(r.data_export_of("any"), DataExport::Full);
    assert_eq!(r.form("any"), FormRight::Edit);
    assert_eq!(r.to_string(), "");
}

#[test]
fn a_site_coordinator_may_export_import_and_create_only() {
    let r = Rights::site_coordinator();
    assert!(r.export && r.import && r.create);
    assert!(!(r.logging || r.dags || r.delete || r.design));
    assert_eq!(r.data_export, DataExport::Full);
    assert_eq!(r.to_string(), "site");
}

#[test]
fn words_apply_in_order_and_read_back() {
    let r = Rights::parse_words(
        "site, design, export=deidentified, form:visits=view, form:labs=none, export:visits=no-identifiers",
    )
    .unwrap();
    assert!(r.design && !r.logging);
    assert_eq!(r.data_export_of("enrolment"), DataExport::Deidentified);
    assert_eq!(r.data_export_of("visits"), DataExport::NoIdentifiers);
    assert_eq!(
        (r.form("visits"), r.form("labs")),
        (FormRight::View, FormRight::None)
    );
    assert_eq!(Rights::parse_words(&r.to_string()).unwrap(), r);

    let r = Rights::parse_words("-logging,-dags,-import,-export,-create,-delete").unwrap();
    assert!(!(r.export || r.import || r.logging || r.dags || r.create || r.delete));
    assert_eq!(Rights::parse_words(&r.to_string()).unwrap(), r);
    let r = Rights::parse_words("-logging").unwrap();
    assert_eq!(r.to_string(), "-logging");
    assert!(
        Rights::parse_words("export=none")
            .unwrap()
            .exports_nothing()
    );
    assert!(
        !Rights::parse_words("export=none,export:a=full")
            .unwrap()
            .exports_nothing()
    );
}

#[test]
fn an_unknown_word_is_named() {
    for word in [
        "root",
        "export=some",
        "form:=view",
        "form:visits",
        "form:visits=write",
        "-everything",
    ] {
        assert_eq!(
            Rights::parse_words(&format!("site,{word}")),
            Err(word.to_owned())
        );
    }
}

#[test]
fn rights_saved_without_a_field_take_the_default() {
    let r: Rights = serde_json::from_str(r#"{"logging":false,"forms":{"visits":"view"}}"#).unwrap();
    assert!(!r.logging && r.export && r.delete);
    assert_eq!(r.form("visits"), FormRight::View);
    let back: Rights = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
}
