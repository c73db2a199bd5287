//! What the suites share: starting a simulator and speaking to it.

use edc_sim::{Project, RunningSim, SimConfig, Simulator};
use serde_json::Value;

/// Starts `project` with the default configuration.
pub async fn start(project: Project) -> RunningSim {
    start_with(SimConfig::new(project)).await
}

pub async fn start_with(config: SimConfig) -> RunningSim {
    Simulator::start(config)
        .await
        .expect("the simulator starts")
}

/// An HTTP client for the simulator. reqwest's TLS takes the process's
/// crypto provider, so ring is installed first, as the desk's client does.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// One token's view of a simulator.
pub struct Client {
    pub http: reqwest::Client,
    pub url: String,
    pub token: String,
}

impl Client {
    pub fn new(sim: &RunningSim, token: &str) -> Client {
        Client {
            http: http(),
            url: sim.api_url(),
            token: token.to_owned(),
        }
    }

    /// POSTs `params` with the token and `format=json`; status and body.
    pub async fn post(&self, params: &[(&str, &str)]) -> (u16, String) {
        let response = self.request(params).send().await.expect("an answer");
        let status = response.status().as_u16();
        (status, response.text().await.expect("a body"))
    }

    pub fn request(&self, params: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut form: Vec<(&str, &str)> = vec![("token", &self.token), ("format", "json")];
        form.extend_from_slice(params);
        self.http.post(&self.url).form(&form)
    }

    /// A call that must succeed, as JSON.
    pub async fn json(&self, params: &[(&str, &str)]) -> Value {
        let (status, body) = self.post(params).await;
        assert_eq!(status, 200, "{params:?}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    /// A call that must fail: status and REDCap's error message.
    pub async fn error(&self, params: &[(&str, &str)]) -> (u16, String) {
        let (status, body) = self.post(params).await;
        assert!(status >= 400, "{params:?} answered {status}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
        (
            status,
            v["error"].as_str().expect("an error message").to_owned(),
        )
    }

    /// A flat record export with extra parameters.
    pub async fn export(&self, extra: &[(&str, &str)]) -> Vec<Value> {
        let mut params = vec![("content", "record"), ("type", "flat")];
        params.extend_from_slice(extra);
        match self.json(&params).await {
            Value::Array(rows) => rows,
            other => panic!("an export is an array: {other}"),
        }
    }

    /// Imports `rows`; status and body.
    pub async fn import(&self, rows: Value, extra: &[(&str, &str)]) -> (u16, String) {
        self.import_text(&rows.to_string(), extra).await
    }

    /// Imports `data` as written (`json!` sorts an object's keys; this
    /// keeps the order a client sends).
    pub async fn import_text(&self, data: &str, extra: &[(&str, &str)]) -> (u16, String) {
        let mut params = vec![("content", "record"), ("type", "flat"), ("data", data)];
        params.extend_from_slice(extra);
        self.post(&params).await
    }

    /// An import that must succeed, as JSON.
    pub async fn import_ok(&self, rows: Value, extra: &[(&str, &str)]) -> Value {
        let (status, body) = self.import(rows, extra).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// REDCap's error message in an answer's body (`{"error": ...}`).
pub fn error_of(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["error"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error: {body}"))
        .to_owned()
}

/// The rows of one record, as exported.
pub fn rows_of<'a>(rows: &'a [Value], id: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["record_id"] == id).collect()
}

/// A small classic project with a repeating form, numeric ids and every
/// kind of value the import checks: for tests that need no events.
pub fn classic_project() -> Project {
    let dictionary = r#""Variable / Field Name","Form Name","Section Header","Field Type","Field Label","Choices, Calculations, OR Slider Labels","Field Note","Text Validation Type OR Show Slider Number","Text Validation Min","Text Validation Max",Identifier?,"Branching Logic (Show field only if...)","Required Field?","Custom Alignment","Question Number (surveys only)","Matrix Group Name","Matrix Ranking?","Field Annotation"
record_id,enrolment,,text,"Record ID",,,,,,,,,,,,,
name,enrolment,,text,"Name",,,,,,y,,,,,,,
dob,enrolment,,text,"Date of birth",,,date_dmy,,,y,,,,,,,
weight,enrolment,,text,"Weight (kg)",,,number_1dp,30,250,,,,,,,,
age,enrolment,,calc,"Age","rounddown(datediff([dob],'today','y'))",,,,,,,,,,,,
symptoms,enrolment,,checkbox,"Symptoms","1, Cough | 2, Fever | -99, Unknown",,,,,,,,,,,,
comment,enrolment,,notes,"Comment",,,,,,,,,,,,,
visit_date,visits,,text,"Visit date",,,date_ymd,,,,,,,,,,
sbp,visits,,text,"Systolic",,,integer,,,,,,,,,,
"#;
    let data = "record_id,redcap_repeat_instrument,redcap_repeat_instance,name,dob,weight,age,symptoms___1,symptoms___2,symptoms____99,comment,enrolment_complete,visit_date,sbp,visits_complete\n\
1,,,Ada,1990-02-03,61.5,34,1,0,0,,2,,,\n\
1,visits,1,,,,,,,,,,2024-01-05,120,2\n";
    Project::from_csv(edc_sim::CsvFiles {
        dictionary: dictionary.as_bytes(),
        data: Some(data.as_bytes()),
        ..Default::default()
    })
    .expect("the classic test project loads")
}
