use super::*;

fn params(body: &str) -> Params {
    Params::parse(body.as_bytes()).unwrap()
}

#[test]
fn lists_come_indexed_in_index_order_bracketed_or_comma_separated() {
    let p = params("records%5B1%5D=b&records%5B0%5D=a&records%5B10%5D=k&records%5B2%5D=c");
    assert_eq!(p.list("records"), ["a", "b", "c", "k"]);
    assert_eq!(
        params("fields%5B%5D=x&fields%5B%5D=y").list("fields"),
        ["x", "y"]
    );
    assert_eq!(params("forms=f1,%20f2").list("forms"), ["f1", "f2"]);
    assert!(params("records_x%5B0%5D=1").list("records").is_empty());
    assert!(params("token=A").list("records").is_empty());
}

#[test]
fn a_body_is_form_encoded() {
    let p = params("token=ABC&data=%5B%7B%22a%22%3A%221+2%22%7D%5D");
    assert_eq!(p.get("data"), Some("[{\"a\":\"1 2\"}]"));
}

#[test]
fn error_bodies_are_redcaps() {
    assert_eq!(
        ApiError::forbidden().body(),
        r#"{"error":"You do not have permissions to use the API"}"#
    );
}

#[test]
fn a_token_spec_names_user_group_and_rights() {
    let hex = "0123456789abcdef0123456789ABCDEF";
    let u = ApiUser::parse_spec(hex).unwrap();
    assert_eq!(
        (u.username.as_str(), u.dag, u.rights.design),
        ("api_user", None, false)
    );
    let u = ApiUser::parse_spec(&format!("{hex}:crc:site_a")).unwrap();
    assert_eq!((u.dag.as_deref(), u.rights.design), (Some("site_a"), false));
    let u = ApiUser::parse_spec(&format!("{hex}:dm::design")).unwrap();
    assert_eq!(
        (u.username.as_str(), u.dag, u.rights.design),
        ("dm", None, true)
    );
    assert!(matches!(
        ApiUser::parse_spec(&format!("{hex}:dm::root")),
        Err(TokenError::UnknownRight { right, .. }) if right == "root"
    ));
    // A user saved before rights existed has the default rights.
    let old: ApiUser =
        serde_json::from_str(&format!(r#"{{"token":"{hex}","username":"u","dag":null}}"#)).unwrap();
    assert_eq!(old.rights, Rights::default());
}

#[test]
fn a_site_coordinators_token_spec() {
    let hex = "0123456789abcdef0123456789ABCDEF";
    let u = ApiUser::parse_spec(&format!("{hex}:site_user:s01:site")).unwrap();
    assert_eq!(
        (u.username.as_str(), u.dag.as_deref()),
        ("site_user", Some("s01"))
    );
    assert_eq!(u.rights, Rights::site_coordinator());
    // The rights may hold colons: only the first three separate.
    let u = ApiUser::parse_spec(&format!(
        "{hex}:crc:s01:site,form:labs=view,export:labs=none,export=deidentified"
    ))
    .unwrap();
    assert_eq!(u.rights.form("labs"), crate::rights::FormRight::View);
    assert_eq!(
        u.rights.data_export_of("labs"),
        crate::rights::DataExport::None
    );
    assert_eq!(
        u.rights.data_export_of("demographics"),
        crate::rights::DataExport::Deidentified
    );
    let u = ApiUser::parse_spec(&format!("{hex}:crc::-logging,-dags")).unwrap();
    assert!(!u.rights.logging && !u.rights.dags && u.rights.delete);
    let err = ApiUser::parse_spec(&format!("{hex}:crc::site,-everything")).unwrap_err();
    assert!(
        matches!(&err, TokenError::UnknownRight { right, .. } if right == "-everything"),
        "{err}"
    );
    assert!(err.to_string().contains("form:NAME="), "{err}");
}
