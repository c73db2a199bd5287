use super::*;
use crate::handlers::meta::Meta;

fn params(body: &str) -> Params {
    Params::parse(body.as_bytes()).unwrap()
}

#[test]
fn what_a_request_does_is_read_before_it_is_checked() {
    use crate::faults::Action;
    assert_eq!(action_of(&params("content=record&data=x")), Action::Import);
    assert_eq!(
        action_of(&params("content=record&action=import")),
        Action::Import
    );
    assert_eq!(
        action_of(&params("content=record&action=delete")),
        Action::Delete
    );
    assert_eq!(action_of(&params("content=record")), Action::Export);
    assert_eq!(action_of(&params("content=metadata")), Action::Export);
    // As REDCap decides it: data makes an import, whatever the content.
    assert_eq!(
        action_of(&params("content=metadata&data=x")),
        Action::Import
    );
    assert_eq!(
        action_of(&params("content=formEventMapping&data=x")),
        Action::Import
    );
    assert_eq!(action_of(&params("content=version&data=x")), Action::Export);
}

#[test]
fn design_imports_take_json_or_csv() {
    let project = Project::demo();
    let call = |body: &str| parse_call(&params(body), &project);
    for body in [
        "content=metadata&format=json&data=%5B%5D",
        "content=metadata&format=csv&returnFormat=csv&data=x",
        "content=formEventMapping&format=csv&data=x",
        "content=metadata&action=import&format=json&data=%5B%5D",
    ] {
        assert!(matches!(call(body), Ok(Call::Design(_))), "{body}");
    }
    let message = |body: &str| call(body).unwrap_err().message;
    assert!(message("content=metadata&format=xml&data=x").contains("not simulated"));
    assert!(message("content=metadata&action=import&format=json").contains("'data'"));
    assert!(matches!(
        call("content=formEventMapping&format=json"),
        Ok(Call::Meta(Meta::FormEventMapping { .. }))
    ));
}

#[test]
fn calls_other_than_version_want_json_or_csv() {
    let project = Project::demo();
    let err = |body: &str| parse_call(&params(body), &project).unwrap_err();
    assert!(matches!(
        parse_call(&params("content=metadata&format=csv"), &project),
        Ok(Call::Meta(Meta::Metadata { .. }))
    ));
    assert!(matches!(
        parse_call(
            &params("content=record&format=csv&returnFormat=csv&data=x"),
            &project
        ),
        Ok(Call::Job(Job::Import(_)))
    ));
    assert!(
        err("content=metadata&format=xml")
            .message
            .contains("The format 'xml' is not simulated by edc-sim")
    );
    assert!(err("content=metadata").message.contains("XML"));
    assert!(
        err("content=metadata&format=json&returnFormat=xml")
            .message
            .contains("returnFormat 'xml'")
    );
    assert!(matches!(
        parse_call(&params("content=version"), &project),
        Ok(Call::Meta(Meta::Version))
    ));
    assert!(err("format=json").message.contains("content"));
}

#[test]
fn a_call_the_simulator_lacks_is_refused_as_not_simulated() {
    let project = Project::demo();
    let err = |body: &str| parse_call(&params(body), &project).unwrap_err();
    for content in ["surveyLink", "file", "user", "report", "xyz"] {
        let e = err(&format!("content={content}&format=json"));
        assert_eq!(e.status, 400);
        assert_eq!(
            e.message,
            format!("The content '{content}' is not simulated by edc-sim")
        );
    }
    let e = err("content=record&format=json&action=rename");
    assert_eq!(
        e.message,
        "The action 'rename' of content 'record' is not simulated by edc-sim"
    );
    assert!(
        err("content=dag&format=json&action=import")
            .message
            .contains("not simulated")
    );
    // Every content the simulator names answers its actions.
    for (content, actions) in SIMULATED {
        for action in *actions {
            if let Err(e) = parse_call(
                &params(&format!("content={content}&action={action}&format=json")),
                &project,
            ) {
                assert!(
                    !e.message.contains("not simulated"),
                    "{content}/{action}: {}",
                    e.message
                );
            }
        }
    }
}

#[test]
fn import_options_are_checked() {
    let project = Project::demo();
    let err = |body: &str| parse_call(&params(body), &project).unwrap_err().message;
    let base = "content=record&format=json&data=%5B%5D";
    assert!(err(&format!("{base}&overwriteBehavior=sometimes")).contains("overwriteBehavior"));
    assert!(err(&format!("{base}&returnContent=auto_ids")).contains("forceAutoNumber"));
    assert!(err(&format!("{base}&returnContent=all")).contains("returnContent"));
    assert!(err(&format!("{base}&dateFormat=MYD")).contains("dateFormat"));
    assert!(parse_call(&params(&format!("{base}&dateFormat=DMY")), &project).is_ok());
    assert!(err(&format!("{base}&type=eav")).contains("flat"));
    assert!(err("content=record&format=json&data=%7B%7D").contains("JSON array"));
    assert!(err("content=record&format=json&data=%5B%7B%22a%22%3Atrue%7D%5D").contains("not text"));
}
