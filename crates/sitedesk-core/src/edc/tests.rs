use std::time::Duration;

use super::*;
use crate::i18n::Lang;

const SECRET: &str = "0123456789ABCDEF0123456789ABCDEF";

#[test]
fn the_api_url_is_found_from_what_a_user_types() {
    for (typed, want) in [
        (
            "https://redcap.example.org",
            "https://redcap.example.org/api/",
        ),
        (
            "https://redcap.example.org/",
            "https://redcap.example.org/api/",
        ),
        (
            "https://redcap.example.org/api",
            "https://redcap.example.org/api/",
        ),
        (
            "https://redcap.example.org/api/",
            "https://redcap.example.org/api/",
        ),
        (
            "  https://10.0.0.5:8443/redcap/  ",
            "https://10.0.0.5:8443/redcap/api/",
        ),
        // Plain http only to this computer: the demo EDC, a test server.
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/api/"),
        ("http://localhost/redcap", "http://localhost/redcap/api/"),
        ("http://[::1]:9000/", "http://[::1]:9000/api/"),
        ("https://h.org/api/?x=1#y", "https://h.org/api/"),
    ] {
        assert_eq!(api_url(typed).unwrap().as_str(), want, "{typed}");
    }
    for bad in [
        "",
        "redcap.example.org",
        "ftp://h.org/",
        "file:///etc/passwd",
        "https://",
    ] {
        assert!(matches!(api_url(bad), Err(EdcError::BadUrl(_))), "{bad}");
    }
    // The token goes in every request's body: not in clear to another
    // computer, not to an address carrying credentials of its own.
    for unsafe_address in [
        "http://redcap.example.org/api/",
        "http://10.0.0.5/",
        "http://127.0.0.1.example.org/",
        "https://dana@redcap.example.org/",
        "https://dana:secret@redcap.example.org/api/",
        "http://user:pw@127.0.0.1/",
    ] {
        assert!(
            matches!(api_url(unsafe_address), Err(EdcError::UnsafeUrl(_))),
            "{unsafe_address}"
        );
    }
    let Err(EdcError::UnsafeUrl(named)) = api_url("https://dana:secret@redcap.example.org/api/")
    else {
        panic!("refused");
    };
    assert!(
        !named.contains("secret") && !named.contains("dana"),
        "{named}"
    );
}

#[test]
fn a_saved_token_is_for_one_scheme_host_and_port() {
    let saved = "https://redcap.example.org/api/";
    assert!(same_origin(saved, "https://redcap.example.org"));
    assert!(same_origin(saved, "https://REDCAP.example.org:443/api/"));
    for other in [
        "https://redcap.example.org:8443/api/",
        "https://redcap.example.com/api/",
        "http://redcap.example.org/api/",
        "not an address",
    ] {
        assert!(!same_origin(saved, other), "{other}");
    }
}

#[test]
fn a_token_is_checked_for_shape_and_never_shown() {
    let t = Token::parse(&format!(" {} ", SECRET.to_lowercase())).unwrap();
    assert_eq!(t.expose(), SECRET);
    assert!(Token::parse(&"A".repeat(64)).is_some());
    for bad in ["", "xyz", &"A".repeat(31), &"G".repeat(32)] {
        assert!(Token::parse(bad).is_none(), "{bad}");
    }
    assert_eq!(format!("{t:?}"), "Token(redacted)");
    let client = EdcClient::new("https://h.org", t, Timeouts::default()).unwrap();
    assert!(!format!("{client:?}").contains(SECRET));
}

#[test]
fn refusals_become_typed_errors() {
    let rows = r#"{"error":"\"S01-0001\",\"weight_kg\",\"22x\",\"The value you provided could not be validated because it does not follow the expected format.\"\n\"S01-0002\",\"dob\",\"2099-01-01\",\"The value is in the future\""}"#;
    let EdcError::Validation(errors) = refusal(400, None, rows) else {
        panic!("{:?}", refusal(400, None, rows));
    };
    assert_eq!(errors.len(), 2);
    assert_eq!(
        (
            errors[0].record.as_str(),
            errors[0].field.as_str(),
            errors[0].value.as_str()
        ),
        ("S01-0001", "weight_kg", "22x")
    );
    assert_eq!(
        refusal(
            400,
            None,
            r#"{"error":"The following fields were not found in the project as real data fields: foo, bar"}"#
        ),
        EdcError::UnknownFields(vec!["foo".into(), "bar".into()])
    );
    assert_eq!(
        refusal(
            403,
            None,
            r#"{"error":"You do not have permissions to use the API"}"#
        ),
        EdcError::BadToken
    );
    assert_eq!(
        refusal(429, Some(Duration::from_secs(7)), ""),
        EdcError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert!(matches!(
        refusal(503, None, "<html>Service Unavailable</html>"),
        EdcError::Server { status: 503, .. }
    ));
    assert_eq!(
        refusal(
            400,
            None,
            r#"{"error":"You cannot export arms for classic projects"}"#
        ),
        EdcError::Refused("You cannot export arms for classic projects".into())
    );
    // A site's token without the Data Access Groups right.
    let words = "Insufficient user privileges: You must have 'API Export' privileges and 'Data Access Groups' privileges in the project.";
    assert_eq!(
        refusal(400, None, &format!(r#"{{"error":"{words}"}}"#)),
        EdcError::NoRight(words.into())
    );
    // REDCap's own rate limiter answers in JSON and may be waited out;
    // its ban is plain text, without Retry-After.
    assert_eq!(
        refusal(429, None, r#"{"error":"too many requests"}"#),
        EdcError::RateLimited { retry_after: None }
    );
    assert!(matches!(
        refusal(429, None, "Your IP address has been banned."),
        EdcError::Banned(w) if w.contains("banned")
    ));
    assert!(!EdcError::Banned(String::new()).is_transient());
}

#[test]
fn errors_say_whether_a_retry_may_help_and_read_in_both_languages() {
    let all = [
        EdcError::BadUrl("x".into()),
        EdcError::BadToken,
        EdcError::Forbidden("no".into()),
        EdcError::Validation(vec![]),
        EdcError::UnknownFields(vec!["a".into()]),
        EdcError::Refused("no".into()),
        EdcError::RateLimited { retry_after: None },
        EdcError::Server {
            status: 502,
            message: String::new(),
        },
        EdcError::Transport("reset".into()),
        EdcError::Timeout,
        EdcError::Malformed("x".into()),
    ];
    let transient: Vec<bool> = all.iter().map(EdcError::is_transient).collect();
    assert_eq!(
        transient,
        [
            false, false, false, false, false, false, true, true, true, true, false
        ]
    );
    assert!(EdcError::Timeout.outcome_unknown() && !EdcError::BadToken.outcome_unknown());
    for e in &all {
        let (en, zh) = (e.message(Lang::EN), e.message(zh()));
        assert!(!en.is_empty() && !zh.is_empty() && en != zh, "{e:?}");
        assert!(!en.contains(SECRET));
    }
}

/// Simplified Chinese, the catalog beside English.
fn zh() -> Lang {
    Lang::from_tag("zh-CN").expect("a zh-CN catalog")
}
