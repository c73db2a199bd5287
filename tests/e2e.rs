//! The real desktop app, driven through WebDriver: tauri-driver in front of
//! WebKitWebDriver, under a display (Xvfb in CI). Needs `SITEDESK_APP_BIN`
//! (the built `sitedesk` binary) and `tauri-driver` on PATH; it fails, never
//! skips, when they are missing. Screenshots go to `SITEDESK_SCREENSHOTS`
//! (default: `e2e-screenshots/` at the workspace root).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// Generous: the first start of WebKit under Xvfb on a loaded 2-core machine
/// takes seconds.
const WAIT: Duration = Duration::from_secs(45);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// tauri-driver, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
    /// The port of the WebKitWebDriver that tauri-driver starts.
    native: u16,
}

impl Driver {
    async fn start() -> Driver {
        let (port, native) = (free_port(), free_port());
        let child = Command::new("tauri-driver")
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start tauri-driver (cargo install tauri-driver --locked): {e}")
            });
        // tauri-driver says nothing when it is ready: poll its port and the
        // port of the WebKitWebDriver it starts, which it forwards to; a
        // session asked for before both listen is dropped half-way.
        let deadline = Instant::now() + WAIT;
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        for p in [port, native] {
            while TcpStream::connect(("127.0.0.1", p)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "tauri-driver did not listen on {p}"
                );
                poll.tick().await;
            }
        }
        Driver {
            child,
            port,
            native,
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        // tauri-driver leaves the WebKitWebDriver it started running; it is
        // the one listening on our native port.
        let _ = Command::new("pkill")
            .args(["-f", &format!("WebKitWebDriver --port={} ", self.native)])
            .status();
        let _ = self.child.wait();
    }
}

fn app_binary() -> PathBuf {
    let bin = std::env::var_os("SITEDESK_APP_BIN")
        .map(PathBuf::from)
        .expect(
            "SITEDESK_APP_BIN must name the built sitedesk binary (scripts/test-all.sh sets it)",
        );
    assert!(
        bin.is_file(),
        "SITEDESK_APP_BIN {} is not a file",
        bin.display()
    );
    bin
}

fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("SITEDESK_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../e2e-screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts the app on `data_dir` and connects a WebDriver session to it.
async fn launch(driver: &Driver, data_dir: &Path) -> Client {
    launch_desk(driver, data_dir, "E2E").await
}

/// Starts the app as the desk with code `desk`, signed in as its
/// administrator (created at the first start); a new desk tries the demo.
async fn launch_desk(driver: &Driver, data_dir: &Path, desk: &str) -> Client {
    let c = open_app(driver, data_dir, desk).await;
    // A new desk's first start asks what it is for; these suites try the
    // demo. A desk that chose before opens on its subjects.
    let first = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&format!(
            "{}, {}",
            css("welcome"),
            css("nav-subjects")
        )))
        .await
        .expect("the welcome page or the app");
    if first.attr("data-testid").await.ok().flatten().as_deref() == Some("welcome") {
        shot(&c, &format!("00-welcome-{desk}")).await;
        click(&c, "welcome-demo").await;
        wait_present(&c, "nav-subjects", true).await;
    }
    c
}

/// The administrator of every desk these suites start.
const ADMIN_LOGIN: &str = "admin";
const ADMIN_PASSWORD: &str = "correct horse battery";

/// On a new desk, creates its administrator (and passes the recovery
/// key); on a desk that has one, signs them in.
async fn sign_in_as_admin(c: &Client, desk: &str) {
    let first = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&format!(
            "{}, {}",
            css("first-start"),
            css("sign-in")
        )))
        .await
        .expect("the first start or the sign-in");
    if first.attr("data-testid").await.ok().flatten().as_deref() == Some("first-start") {
        type_into(c, "first-login", ADMIN_LOGIN).await;
        type_into(c, "first-name", &format!("Admin {desk}")).await;
        type_into(c, "first-password", ADMIN_PASSWORD).await;
        type_into(c, "first-confirm", ADMIN_PASSWORD).await;
        click(c, "first-submit").await;
        wait_present(c, "recovery-key", true).await;
        click(c, "recovery-done").await;
    } else {
        sign_in(c, ADMIN_LOGIN, ADMIN_PASSWORD).await;
    }
}

/// Signs `login` in on the sign-in screen.
async fn sign_in(c: &Client, login: &str, password: &str) {
    wait_present(c, "sign-in", true).await;
    type_into(c, "sign-in-login", login).await;
    type_into(c, "sign-in-password", password).await;
    click(c, "sign-in-submit").await;
    wait_present(c, "sign-in", false).await;
}

/// Starts the app as the desk with code `desk`, signed in as its
/// administrator.
async fn open_app(driver: &Driver, data_dir: &Path, desk: &str) -> Client {
    let c = start_app(driver, data_dir, desk, &[]).await;
    sign_in_as_admin(&c, desk).await;
    c
}

/// Starts the app as the desk with code `desk` and more flags, on its
/// first screen.
async fn start_app(driver: &Driver, data_dir: &Path, desk: &str, flags: &[&str]) -> Client {
    let mut args = vec![
        json!("--data-dir"),
        json!(data_dir),
        json!("--desk-code"),
        json!(desk),
    ];
    args.extend(flags.iter().map(|f| json!(f)));
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("wry"));
    caps.insert(
        "tauri:options".into(),
        json!({
            "application": app_binary(),
            "args": args,
        }),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("WebDriver session with the app")
}

fn css(testid: &str) -> String {
    format!("[data-testid='{testid}']")
}

/// Waits until the element with `testid` shows `text`.
async fn wait_text(c: &Client, testid: &str, text: &str) {
    let xpath = format!("//*[@data-testid='{testid}'][contains(normalize-space(.), '{text}')]");
    if let Err(e) = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&xpath))
        .await
    {
        let shown = match c.find(Locator::Css(&css(testid))).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => "<absent>".into(),
        };
        panic!("{testid} never showed {text:?} (shows {shown:?}): {e:?}");
    }
}

async fn click(c: &Client, testid: &str) {
    click_css(c, &css(testid)).await;
}

async fn click_css(c: &Client, selector: &str) {
    let el = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("{selector}: {e:?}"));
    click_element(c, &el, selector).await;
}

/// Scrolls `el` to the middle of the window, clear of the fixed header,
/// and clicks it.
async fn click_element(c: &Client, el: &fantoccini::elements::Element, what: &str) {
    c.execute(
        "arguments[0].scrollIntoView({block: 'center'});",
        vec![serde_json::to_value(el).expect("element reference")],
    )
    .await
    .unwrap_or_else(|e| panic!("scroll to {what}: {e:?}"));
    el.click()
        .await
        .unwrap_or_else(|e| panic!("click {what}: {e:?}"));
}

/// Waits until the checkbox or radio button `testid` is checked.
async fn wait_checked(c: &Client, testid: &str) {
    let deadline = Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    loop {
        let el = c.find(Locator::Css(&css(testid))).await;
        if let Ok(el) = el
            && el.prop("checked").await.ok().flatten().as_deref() == Some("true")
        {
            return;
        }
        assert!(Instant::now() < deadline, "{testid} was never checked");
        poll.tick().await;
    }
}

async fn type_into(c: &Client, testid: &str, text: &str) {
    let el = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&css(testid)))
        .await
        .unwrap_or_else(|e| panic!("{testid}: {e:?}"));
    el.clear().await.unwrap();
    el.send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("type into {testid}: {e:?}"));
}

/// Saves a screenshot once the page has painted what the DOM holds: two
/// animation frames, so that the last click's re-render is on screen.
async fn shot(c: &Client, name: &str) {
    c.execute_async(
        "const done = arguments[arguments.length - 1];\
         requestAnimationFrame(() => requestAnimationFrame(() => done()));",
        vec![],
    )
    .await
    .expect("wait for a paint");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

/// WebDriver's codes for keys that are not text.
mod key {
    pub const TAB: &str = "\u{E004}";
    pub const SPACE: &str = "\u{E00D}";
    pub const RIGHT: &str = "\u{E014}";
    pub const BACKSPACE: &str = "\u{E003}";
    pub const ENTER: &str = "\u{E007}";
    /// Presses Ctrl until the sequence ends or `RELEASE` comes.
    pub const CTRL: &str = "\u{E009}";
    pub const RELEASE: &str = "\u{E000}";
}

/// Types into whatever has the focus, as a person at the keyboard does.
async fn keys(c: &Client, text: &str) {
    c.active_element()
        .await
        .expect("an element has the focus")
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("keys {text:?}: {e:?}"));
}

/// Waits until `testid` is present (`true`) or gone (`false`).
async fn wait_present(c: &Client, testid: &str, present: bool) {
    wait_css_present(c, &css(testid), present).await;
}

/// Waits until an element matching `selector` is present (or absent).
async fn wait_css_present(c: &Client, selector: &str, present: bool) {
    let deadline = Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    loop {
        let found = c.find(Locator::Css(selector)).await.is_ok();
        if found == present {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{selector} never became {}",
            if present { "present" } else { "absent" }
        );
        poll.tick().await;
    }
}

/// Waits until the input `testid` holds `value`.
async fn wait_value(c: &Client, testid: &str, value: &str) {
    let deadline = Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    loop {
        let shown = match c.find(Locator::Css(&css(testid))).await {
            Ok(el) => el.prop("value").await.ok().flatten(),
            Err(_) => None,
        };
        if shown.as_deref() == Some(value) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{testid} never held {value:?} (holds {shown:?})"
        );
        poll.tick().await;
    }
}

/// Replaces the text of a filled input as a person does: click into it,
/// select all, type. (WebDriver's clear bypasses React's change tracking.)
async fn replace_text(c: &Client, testid: &str, text: &str) {
    click(c, testid).await;
    // Two sequences: WebKit's driver keeps Ctrl down for text that
    // follows the release key in the same one.
    keys(c, &format!("{}a{}", key::CTRL, key::RELEASE)).await;
    keys(c, text).await;
    wait_value(c, testid, text).await;
}

/// Reads an attribute of the element `testid`.
async fn attr(c: &Client, testid: &str, name: &str) -> String {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&css(testid)))
        .await
        .unwrap_or_else(|e| panic!("{testid}: {e:?}"))
        .attr(name)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// On the sync page: Sync now, then waits until a run newer than the last
/// one shown has succeeded.
async fn sync_now(c: &Client) {
    click(c, "nav-sync").await;
    // A run the app started itself (at launch, on a new EDC) ends first.
    wait_text(c, "sync-state", "Up to date").await;
    let before = attr(c, "sync-last", "data-at").await;
    click(c, "sync-now").await;
    let deadline = Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(100));
    while attr(c, "sync-last", "data-at").await == before {
        assert!(Instant::now() < deadline, "no sync run succeeded");
        poll.tick().await;
    }
}

/// Points the desk at the EDC `url` with `token` (Settings → Central EDC).
async fn connect_edc(c: &Client, url: &str, token: &str) {
    click(c, "nav-settings").await;
    type_into(c, "edc-url-input", url).await;
    type_into(c, "edc-token-input", token).await;
    click(c, "edc-save").await;
    wait_text(c, "edc-mode", "Study REDCap").await;
}

/// Opens the vitals form at baseline of the subject or record on screen,
/// sets the systolic pressure and saves (Ctrl+S), with `reason` when a
/// saved value changes.
async fn set_sbp(c: &Client, value: &str, reason: Option<&str>) {
    click(c, "grid-baseline_arm_1-vitals-1").await;
    wait_text(c, "form-title", "Vital signs").await;
    replace_text(c, "field-sbp", value).await;
    keys(c, &format!("{}s{}", key::CTRL, key::RELEASE)).await;
    if let Some(reason) = reason {
        wait_text(c, "reason-modal", "Systolic").await;
        type_into(c, "reason-input", reason).await;
        keys(c, key::ENTER).await;
    }
    wait_text(c, "form-saved", "values written").await;
    click(c, "form-back").await;
}

/// On the diagnostics panel: records a CPU profile of `seconds`, waits for
/// its summary to show `summary`, and checks that the flame graph drew at
/// least `frames` frames.
async fn record_profile(c: &Client, seconds: u32, summary: &str, frames: u64) {
    replace_text(c, "profile-seconds", &seconds.to_string()).await;
    click(c, "profile-record").await;
    wait_text(c, "profile-summary", summary).await;
    let drawn = c
        .execute(
            "return document.querySelectorAll(\"[data-testid='flame-graph'] svg g\").length;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        drawn.as_u64().unwrap_or(0) >= frames,
        "frames drawn: {drawn}"
    );
}

/// Screens a new subject through the screening form; returns on its page.
async fn screen_subject(c: &Client, label: &str, id: &str) {
    let today = chrono::Local::now().date_naive().to_string();
    click(c, "screen-new").await;
    type_into(c, "screening-label", label).await;
    type_into(c, "consent-date", &today).await;
    type_into(c, "consent-version", "v1.0").await;
    for id in ["scr_incl_1", "scr_incl_2", "scr_incl_3"] {
        click(c, &format!("elig-{id}-yes")).await;
    }
    for id in ["scr_excl_1", "scr_excl_2"] {
        click(c, &format!("elig-{id}-no")).await;
    }
    for id in [
        "elig-scr_incl_1-yes",
        "elig-scr_incl_2-yes",
        "elig-scr_incl_3-yes",
        "elig-scr_excl_1-no",
        "elig-scr_excl_2-no",
    ] {
        wait_checked(c, id).await;
    }
    click(c, "form-save").await;
    wait_text(c, "subject-id", id).await;
}

#[tokio::test]
async fn fill_a_form_by_keyboard_with_logic_validation_calc_reason_and_safe_labels() {
    let data = tempfile::tempdir().unwrap();
    let driver = Driver::start().await;
    let c = launch(&driver, data.path()).await;
    wait_text(&c, "page-title", "Subjects").await;
    screen_subject(&c, "CD", "S01-E2E-0001").await;
    wait_text(&c, "visit-grid", "Demographics").await;
    shot(&c, "10-visit-grid").await;
    click(&c, "grid-screening_arm_1-demographics-1").await;
    wait_text(&c, "form-title", "Demographics").await;

    // The date of birth has the focus: fill the form from the keyboard.
    keys(&c, "1980-02-29").await;
    wait_value(&c, "field-dob", "1980-02-29").await;
    assert!(
        c.find(Locator::Css(&css("field-pregnant"))).await.is_err(),
        "the pregnancy question waits for the answer on sex"
    );
    // Sex: Tab into the choices, the arrow picks the second (Female), and
    // branching logic shows the pregnancy question.
    keys(&c, key::TAB).await;
    keys(&c, key::RIGHT).await;
    wait_checked(&c, "choice-sex-2").await;
    wait_present(&c, "field-pregnant", true).await;
    keys(&c, key::TAB).await;
    keys(&c, key::RIGHT).await;
    wait_checked(&c, "choice-pregnant-0").await;
    // Height: a malformed value gets the core's message at once.
    keys(&c, &format!("{}tall", key::TAB)).await;
    wait_text(&c, "msg-height_cm", "not a valid value").await;
    shot(&c, "11-validation-error").await;
    keys(&c, &format!("{0}{0}{0}{0}165", key::BACKSPACE)).await;
    wait_value(&c, "field-height_cm", "165").await;
    wait_present(&c, "msg-height_cm", false).await;
    keys(&c, &format!("{}72.5", key::TAB)).await;
    // The calculated BMI follows the typed values.
    wait_value(&c, "calc-bmi", "26.6").await;
    // Smoker: Tab skips the read-only calc; Space answers Yes, which shows
    // the cigarettes question.
    keys(&c, key::TAB).await;
    keys(&c, key::SPACE).await;
    wait_checked(&c, "choice-smoker-1").await;
    wait_present(&c, "field-cigs_per_day", true).await;
    keys(&c, &format!("{}10", key::TAB)).await;
    wait_value(&c, "field-cigs_per_day", "10").await;
    shot(&c, "12-form-filled").await;
    // Ctrl+S saves.
    keys(&c, &format!("{}s{}", key::CTRL, key::RELEASE)).await;
    wait_text(&c, "form-saved", "values written").await;
    click(&c, "form-back").await;
    wait_text(&c, "subject-id", "S01-E2E-0001").await;
    let cell = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&css("grid-screening_arm_1-demographics-1")))
        .await
        .unwrap();
    assert_eq!(
        cell.attr("data-status").await.unwrap().as_deref(),
        Some("incomplete")
    );

    // Correct a saved value: answering "not a smoker" hides the cigarettes
    // question, which has a value, so the form asks before erasing it; the
    // save then asks for a reason.
    click(&c, "grid-screening_arm_1-demographics-1").await;
    wait_value(&c, "field-weight_kg", "72.5").await;
    replace_text(&c, "field-weight_kg", "70.0").await;
    wait_value(&c, "calc-bmi", "25.7").await;
    click(&c, "choice-smoker-0").await;
    wait_present(&c, "hide-erase", true).await;
    shot(&c, "13-hide-with-value").await;
    click(&c, "hide-erase").await;
    wait_present(&c, "field-cigs_per_day", false).await;
    keys(&c, &format!("{}s{}", key::CTRL, key::RELEASE)).await;
    wait_text(&c, "reason-modal", "Weight (kg)").await;
    type_into(&c, "reason-input", "Re-weighed on the calibrated scale").await;
    shot(&c, "14-reason-for-change").await;
    keys(&c, key::ENTER).await;
    wait_text(&c, "form-saved", "values written").await;
    click(&c, "form-back").await;
    wait_text(&c, "audit-table", "Re-weighed on the calibrated scale").await;
    wait_text(&c, "audit-table", "weight_kg").await;
    wait_text(&c, "audit-table", "cigs_per_day").await;
    shot(&c, "15-form-audit").await;

    // The demo EDC takes the edits at once: Sync now empties the outbox.
    click(&c, "nav-sync").await;
    wait_text(&c, "page-title", "Sync").await;
    click(&c, "sync-now").await;
    wait_text(&c, "sync-pending", "0").await;
    wait_text(&c, "sync-state", "Up to date").await;
    shot(&c, "15b-synced").await;

    // The desk moves to a REDCap that cannot be reached (a closed port):
    // sync is then offline, and a dictionary imported locally stays.
    click(&c, "nav-settings").await;
    type_into(&c, "edc-url-input", "http://127.0.0.1:9/").await;
    type_into(&c, "edc-token-input", "0123456789ABCDEF0123456789ABCDEF").await;
    click(&c, "edc-save").await;
    wait_text(&c, "edc-mode", "Study REDCap").await;
    c.close().await.expect("quit the app");

    // A dictionary whose label carries a script: imported from the command
    // line, it renders as text, and nothing runs.
    let dictionary = data.path().join("forms-with-probe.csv");
    let mut csv = include_str!("../crates/sitedesk-core/src/forms/demo_dictionary.csv").to_owned();
    csv.push_str("xss_probe,demographics,,text,\"<img src=x onerror=alert(1)>Probe<script>document.title='pwned'</script>\",,,,,,,,,,,,,\n");
    std::fs::write(&dictionary, csv).unwrap();
    // The desk's data is encrypted: the command asks the administrator's
    // password (read from standard input when it is not a terminal).
    let mut import = Command::new(app_binary())
        .arg("import-dictionary")
        .arg(&dictionary)
        .arg("--data-dir")
        .arg(data.path())
        .arg("--login")
        .arg(ADMIN_LOGIN)
        .stdin(Stdio::piped())
        .spawn()
        .expect("run sitedesk import-dictionary");
    {
        use std::io::Write as _;
        let mut stdin = import.stdin.take().unwrap();
        writeln!(stdin, "{ADMIN_PASSWORD}").unwrap();
    }
    let status = import.wait().unwrap();
    assert!(status.success(), "import-dictionary: {status}");
    let c = launch(&driver, data.path()).await;
    click(&c, "nav-sync").await;
    wait_text(&c, "sync-state", "Offline").await;
    shot(&c, "15c-offline").await;
    click(&c, "nav-subjects").await;
    wait_text(&c, "subject-table", "S01-E2E-0001").await;
    click_css(&c, &format!("{} td", css("row-S01-E2E-0001"))).await;
    click(&c, "grid-screening_arm_1-demographics-1").await;
    wait_text(&c, "crf-xss_probe", "Probe").await;
    let probe = c
        .execute(
            "const f = document.querySelector(\"[data-testid='crf-xss_probe']\");\
             return [f.querySelectorAll('img, script').length, document.title];",
            vec![],
        )
        .await
        .expect("no alert is open: the label's script did not run");
    assert_eq!(
        probe,
        json!([0, "SiteDesk"]),
        "no image, no script, title untouched"
    );
    shot(&c, "16-safe-label").await;
    c.close().await.expect("quit the app");
}

#[tokio::test]
async fn screen_enroll_restart_translate_and_diagnose() {
    let data = tempfile::tempdir().unwrap();
    let driver = Driver::start().await;
    let today = chrono::Local::now().date_naive().to_string();

    // First run: screen a subject and enroll it.
    let c = launch(&driver, data.path()).await;
    wait_text(&c, "page-title", "Subjects").await;
    shot(&c, "01-subjects-empty").await;
    click(&c, "screen-new").await;
    type_into(&c, "screening-label", "AB").await;
    type_into(&c, "consent-date", &today).await;
    type_into(&c, "consent-version", "v1.0").await;
    for id in ["scr_incl_1", "scr_incl_2", "scr_incl_3"] {
        click(&c, &format!("elig-{id}-yes")).await;
    }
    for id in ["scr_excl_1", "scr_excl_2"] {
        click(&c, &format!("elig-{id}-no")).await;
    }
    for id in [
        "elig-scr_incl_1-yes",
        "elig-scr_incl_2-yes",
        "elig-scr_incl_3-yes",
        "elig-scr_excl_1-no",
        "elig-scr_excl_2-no",
    ] {
        wait_checked(&c, id).await;
    }
    shot(&c, "02-screening-form").await;
    click(&c, "form-save").await;
    wait_text(&c, "subject-id", "S01-E2E-0001").await;
    wait_text(&c, "subject-status", "Screening").await;
    click(&c, "action-enroll").await;
    type_into(&c, "action-date", &today).await;
    click(&c, "action-save").await;
    wait_text(&c, "subject-status", "Enrolled").await;
    shot(&c, "03-enrolled").await;
    c.close().await.expect("quit the app");

    // Second run on the same database: the subject and its history are there.
    let c = launch(&driver, data.path()).await;
    wait_text(&c, "subject-table", "S01-E2E-0001").await;
    // A row opens on a click anywhere in it: click its first cell.
    click_css(&c, &format!("{} td", css("row-S01-E2E-0001"))).await;
    wait_text(&c, "subject-status", "Enrolled").await;
    wait_text(&c, "audit-table", "Enrollment date").await;
    wait_text(&c, "audit-table", "Screening").await;
    shot(&c, "04-after-restart-audit").await;

    // A supervisor verifies the audit trail: the chain is intact.
    click(&c, "nav-settings").await;
    click(&c, "verify-audit").await;
    wait_text(&c, "audit-result", "Intact").await;
    c.execute(
        "document.querySelector(\"[data-testid='audit-result']\").scrollIntoView();",
        vec![],
    )
    .await
    .expect("scroll to the result");
    shot(&c, "05-audit-verified").await;

    // From a fresh start the desk runs against the built-in demo EDC, and
    // Test connection reaches it.
    wait_text(&c, "edc-mode", "Demo EDC").await;
    click(&c, "edc-test").await;
    wait_text(&c, "edc-test-result", "Connected: SiteDesk").await;
    shot(&c, "05b-demo-edc").await;

    // Switch to Simplified Chinese and read a translated label.
    let chinese = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath("//label[contains(., '简体中文')]"))
        .await
        .expect("language choice");
    click_element(&c, &chinese, "简体中文").await;
    click(&c, "settings-save").await;
    wait_text(&c, "page-title", "设置").await;
    wait_text(&c, "nav-subjects", "受试者").await;
    shot(&c, "06-chinese").await;

    // The diagnostics panel lists the writer task, live.
    click(&c, "nav-diagnostics").await;
    wait_text(&c, "task-table", "SQLite writer").await;
    wait_text(&c, "task-table", "运行中").await;
    wait_text(&c, "lane-interactive", "交互").await;
    shot(&c, "07-diagnostics").await;

    // A CPU profile of the running app: its flame graph, a search in it,
    // and the SVG saved beside the database.
    record_profile(&c, 2, "个采样", 1).await;
    type_into(&c, "profile-search", "sitedesk").await;
    wait_text(&c, "profile-matches", "匹配的方块").await;
    shot(&c, "08-cpu-profile").await;
    click(&c, "profile-save-svg").await;
    wait_text(&c, "profile-saved", ".svg").await;
    let saved = std::fs::read_dir(data.path())
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().ends_with(".svg"))
        .expect("the SVG beside the database");
    assert!(
        std::fs::read_to_string(saved.path())
            .unwrap()
            .contains("<svg")
    );
    c.close().await.expect("quit the app");
}

/// One SiteDesk per data folder (issue 15): a second app started on the
/// running app's folder exits 1 saying that SiteDesk is already open, after
/// asking the open window to come forward (which answered); the open app
/// goes on answering and its audit trail verifies.
#[tokio::test]
async fn a_second_app_on_the_open_folder_exits_with_its_message_and_the_first_answers() {
    let data = tempfile::tempdir().unwrap();
    let driver = Driver::start().await;
    let c = launch(&driver, data.path()).await;
    wait_text(&c, "page-title", "Subjects").await;

    let second = Command::new(app_binary())
        .arg("--data-dir")
        .arg(data.path())
        .env("LANG", "en_US.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .expect("run a second sitedesk");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "SiteDesk is already open on the data folder {}.",
            data.path().display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("the open window was asked to come forward"),
        "the open app answered the focus request: {stderr}"
    );

    click(&c, "nav-settings").await;
    click(&c, "verify-audit").await;
    wait_text(&c, "audit-result", "Intact").await;
    shot(&c, "30-second-start-refused").await;
    c.close().await.expect("quit the app");
}

/// Two desks of one site, two databases, one EDC (the simulator on
/// 127.0.0.1): a subject screened at desk A reaches desk B; both change its
/// systolic pressure without syncing; A syncs first, so B's sync holds a
/// conflict; B keeps its value with a reason; the EDC ends with B's value
/// and B's audit trail says why.
#[tokio::test]
async fn two_desks_change_one_value_and_the_second_resolves_the_conflict() {
    use edc_sim::{DEMO_TOKEN_RIVERSIDE, Project, SimConfig, Simulator};
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    let url = sim.api_url();
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let driver = Driver::start().await;

    // Desk A screens a subject, records 120 and syncs.
    let a = launch_desk(&driver, a_dir.path(), "E2A").await;
    connect_edc(&a, &url, DEMO_TOKEN_RIVERSIDE).await;
    click(&a, "nav-subjects").await;
    screen_subject(&a, "TD", "S01-E2A-0001").await;
    set_sbp(&a, "120", None).await;
    sync_now(&a).await;
    wait_text(&a, "sync-pending", "0").await;
    a.close().await.expect("quit desk A");

    // Desk B pulls it: a subject of its site, screened at desk A.
    let b = launch_desk(&driver, b_dir.path(), "E2B").await;
    connect_edc(&b, &url, DEMO_TOKEN_RIVERSIDE).await;
    sync_now(&b).await;
    click(&b, "nav-subjects").await;
    wait_text(&b, "subject-table", "S01-E2A-0001").await;
    wait_text(&b, "row-S01-E2A-0001", "E2A").await;
    shot(&b, "30-subject-from-another-desk").await;
    click_css(&b, &format!("{} td", css("row-S01-E2A-0001"))).await;
    wait_text(&b, "subject-status", "Screening").await;
    click(&b, "grid-baseline_arm_1-vitals-1").await;
    wait_value(&b, "field-sbp", "120").await;
    click(&b, "form-back").await;

    // Both change it, neither syncs yet.
    set_sbp(&b, "135", Some("Repeated after rest: 135")).await;
    b.close().await.expect("quit desk B");
    let a = launch_desk(&driver, a_dir.path(), "E2A").await;
    click_css(&a, &format!("{} td", css("row-S01-E2A-0001"))).await;
    set_sbp(&a, "130", Some("Transcription error: 130")).await;
    sync_now(&a).await;
    wait_text(&a, "sync-pending", "0").await;
    a.close().await.expect("quit desk A");

    // B syncs second: its change and A's differ, so it is held.
    let b = launch_desk(&driver, b_dir.path(), "E2B").await;
    sync_now(&b).await;
    wait_text(&b, "conflict-table", "S01-E2A-0001").await;
    wait_text(&b, "conflict-table", "135").await;
    wait_text(&b, "conflict-table", "130").await;
    shot(&b, "31-conflict").await;
    click_css(&b, "[data-testid^='keep-mine-']").await;
    type_into(&b, "conflict-reason", "Checked the source: 135 after rest").await;
    click(&b, "conflict-resolve").await;
    wait_present(&b, "conflict-resolve", false).await;
    sync_now(&b).await;
    wait_text(&b, "sync-pending", "0").await;

    let client = sitedesk_core::edc::EdcClient::new(
        &url,
        sitedesk_core::edc::Token::parse(DEMO_TOKEN_RIVERSIDE).unwrap(),
        sitedesk_core::edc::Timeouts::default(),
    )
    .unwrap();
    let rows = client
        .export_records(&sitedesk_core::edc::RecordQuery {
            records: vec!["S01-E2A-0001".into()],
            events: vec!["baseline_arm_1".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        rows.iter().filter_map(|r| r.get("sbp")).collect::<Vec<_>>(),
        ["135"],
        "the EDC holds the value desk B kept"
    );

    click(&b, "nav-subjects").await;
    click_css(&b, &format!("{} td", css("row-S01-E2A-0001"))).await;
    wait_text(&b, "audit-table", "Checked the source: 135 after rest").await;
    shot(&b, "32-resolved-in-the-audit-trail").await;
    b.close().await.expect("quit desk B");
    sim.shutdown().await;
}

/// The diagnostics panel while a sync is slow: a desk with 1,000 edited
/// records pushes to a simulator that charges 50 ms per record; the panel
/// shows the run's tasks with progress, records a 3-second CPU profile and
/// draws it, then cancels the run, and every task of the run ends.
#[tokio::test]
async fn the_panel_shows_a_slow_sync_profiles_it_and_cancels_it() {
    use edc_sim::{DEMO_TOKEN_RIVERSIDE, Project, SimConfig, Simulator};
    use sitedesk_core::domain::{Actor, RecordEdit};
    use sitedesk_core::store::{Lane, SyncSettings};

    let sim = Simulator::start(SimConfig {
        faults: "record-cost=50ms".parse().unwrap(),
        ..SimConfig::new(Project::demo())
    })
    .await
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    // The desk as the app leaves it after a day offline: the demo study,
    // 1,000 records edited, the study's EDC set up, 2 batches at once.
    {
        let actor = Actor {
            account: "crc".into(),
            display_name: String::new(),
            login: None,
        };
        let store = sitedesk_tests::new_desk(data.path(), &actor.account, Some("E2E")).await;
        let w = store.writer();
        w.set_edc_connection(
            actor.clone(),
            Some((sim.api_url(), DEMO_TOKEN_RIVERSIDE.into())),
        )
        .await
        .unwrap();
        w.set_sync_settings(
            actor.clone(),
            SyncSettings {
                interval_minutes: 15,
                concurrency: 2,
            },
        )
        .await
        .unwrap();
        for i in 1..=1000 {
            w.set_values(
                Lane::Interactive,
                actor.clone(),
                RecordEdit {
                    record_id: format!("S01-E2E-{i:04}"),
                    event: "baseline_arm_1".into(),
                    instance: 1,
                    values: [("sbp", "120"), ("dbp", "80")]
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), Some(v.to_owned())))
                        .collect(),
                    reason: None,
                    computed: Vec::new(),
                },
            )
            .await
            .unwrap();
        }
        store.close().await;
    }

    // The app syncs at start: the panel shows the run pushing.
    let driver = Driver::start().await;
    let c = launch(&driver, data.path()).await;
    click(&c, "nav-diagnostics").await;
    wait_text(&c, "task-table", "Push batch").await;
    wait_text(&c, "task-table", "Push local edits").await;
    shot(&c, "40-slow-sync-tasks").await;

    record_profile(&c, 3, "samples in 3.0 s", 3).await;
    shot(&c, "41-profile-during-sync").await;

    // The run is still pushing (1,000 records at 50 ms, 2 at once): cancel
    // it from its row, and every task of the run ends.
    let run_states = "return [...document.querySelectorAll(\"[data-testid='task-table'] tbody tr\")]\
         .filter(r => /Sync run|Push |Pull /.test(r.textContent))\
         .map(r => r.querySelectorAll('td')[2].textContent);";
    let states = c.execute(run_states, vec![]).await.unwrap();
    assert!(
        states.to_string().contains("Running") || states.to_string().contains("Waiting"),
        "the run still pushes when the profile ends: {states}"
    );
    let cancel_run = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(
            "//*[@data-testid='task-table']//tr[td[1][normalize-space(.)='Sync run']]\
             //button[starts-with(@data-testid, 'cancel-task-')]",
        ))
        .await
        .expect("the running sync run's Cancel button");
    click_element(&c, &cancel_run, "Cancel on the sync run").await;
    let deadline = Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(100));
    loop {
        let states = c.execute(run_states, vec![]).await.unwrap();
        let live = states
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| {
                let s = s.as_str().unwrap_or_default();
                ["Queued", "Running", "Waiting", "Cancelling"]
                    .iter()
                    .any(|l| s.contains(l))
            })
            .count();
        if live == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "tasks still alive: {states}");
        poll.tick().await;
    }
    shot(&c, "42-sync-cancelled").await;
    let run = c
        .execute(
            "return [...document.querySelectorAll(\"[data-testid='task-table'] tbody tr\")]\
             .filter(r => r.querySelectorAll('td')[0].textContent.trim() === 'Sync run')\
             .map(r => r.querySelectorAll('td')[2].textContent);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(run, json!(["Cancelled"]), "one run, cancelled");
    // Cancelled, not finished: the EDC did not get every batch, and no
    // new run started by itself.
    let imports = sim
        .stats()
        .by_call
        .get("record/import")
        .copied()
        .unwrap_or(0);
    assert!(
        (1..10).contains(&imports),
        "{imports} of 10 batches imported"
    );
    c.close().await.expect("quit the app");
    sim.shutdown().await;
}

/// Connects a new desk to its study's REDCap from the first start: the
/// address and token, the project's summary, then binding.
async fn onboard(c: &Client, url: &str, token: &str, desk: &str) {
    click(c, "welcome-connect").await;
    type_into(c, "onboard-url", url).await;
    type_into(c, "onboard-token", token).await;
    click(c, "onboard-probe").await;
    wait_text(c, "onboard-summary", "Heart Failure Registry").await;
    shot(c, &format!("40-onboard-summary-{desk}")).await;
    click(c, "onboard-confirm").await;
    wait_present(c, "nav-subjects", true).await;
    // The notice that says so covers the page's top right until it goes.
    wait_css_present(c, ".mantine-Notification-root", false).await;
}

/// Two desks of one site of a real study (a project that is not the demo,
/// two sites, a token bound to one): a fresh desk onboards, screens and
/// enrolls a subject and syncs; the EDC holds the screening instrument's
/// values in the site's group; a second desk of the site onboards, syncs,
/// lists the subject with its status and counts it. Both then change the
/// status offline: the second desk's sync holds a conflict on the status
/// cell, and resolving it is audited.
#[tokio::test]
async fn two_desks_onboard_to_a_study_and_share_its_screening_log() {
    use crate::onboard::{Instrument, MANAGER, NORTH, sim};
    let sim = sim(Instrument::Tagged).await;
    let url = sim.api_url();
    let code = sitedesk_core::desk::onboard::site_code(sim.project().dag_id("north").unwrap());
    let id = format!("{code}-E3A-0001");
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let driver = Driver::start().await;

    let a = open_app(&driver, a_dir.path(), "E3A").await;
    onboard(&a, &url, NORTH, "a").await;
    screen_subject(&a, "HF", &id).await;
    click(&a, "action-enroll").await;
    type_into(
        &a,
        "action-date",
        &chrono::Local::now().date_naive().to_string(),
    )
    .await;
    click(&a, "action-save").await;
    wait_text(&a, "subject-status", "Enrolled").await;
    sync_now(&a).await;
    wait_text(&a, "sync-pending", "0").await;
    a.close().await.expect("quit desk A");

    let rows = sitedesk_core::edc::EdcClient::new(
        &url,
        sitedesk_core::edc::Token::parse(MANAGER).unwrap(),
        sitedesk_core::edc::Timeouts::default(),
    )
    .unwrap()
    .export_records(&sitedesk_core::edc::RecordQuery {
        records: vec![id.clone()],
        data_access_groups: true,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["scr_status"], "3");
    assert_eq!(rows[0]["scr_initials"], "HF");
    assert_eq!(rows[0]["redcap_data_access_group"], "north");

    let b = open_app(&driver, b_dir.path(), "E3B").await;
    onboard(&b, &url, NORTH, "b").await;
    sync_now(&b).await;
    click(&b, "nav-subjects").await;
    wait_text(&b, &format!("row-{id}"), "E3A").await;
    wait_text(&b, &format!("row-{id}"), "Enrolled").await;
    let study = b
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(
            "//*[@data-testid='enrollment-scope']//label[contains(., 'Whole study')]",
        ))
        .await
        .expect("the study scope");
    click_element(&b, &study, "Whole study").await;
    wait_text(&b, "enrollment-progress", "Enrolled 1 of 60").await;
    shot(&b, "41-site-subjects-from-both-desks").await;

    // Offline, desk B completes the subject and desk A withdraws it.
    let today = chrono::Local::now().date_naive().to_string();
    click_css(&b, &format!("{} td", css(&format!("row-{id}")))).await;
    click(&b, "action-complete").await;
    type_into(&b, "action-date", &today).await;
    click(&b, "action-save").await;
    wait_text(&b, "subject-status", "Completed").await;
    b.close().await.expect("quit desk B");
    let a = open_app(&driver, a_dir.path(), "E3A").await;
    click_css(&a, &format!("{} td", css(&format!("row-{id}")))).await;
    click(&a, "action-withdraw").await;
    type_into(&a, "action-date", &today).await;
    a.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(
            "select[data-testid='action-reason'], [data-testid='action-reason'] select",
        ))
        .await
        .expect("the reasons")
        .select_by_value("5")
        .await
        .expect("choose 'Withdrew consent'");
    click(&a, "action-save").await;
    wait_text(&a, "subject-status", "Withdrawn").await;
    sync_now(&a).await;
    wait_text(&a, "sync-pending", "0").await;
    a.close().await.expect("quit desk A");

    // B syncs second: the status cell is held; B takes A's with a reason.
    let b = open_app(&driver, b_dir.path(), "E3B").await;
    sync_now(&b).await;
    wait_text(&b, "conflict-table", &id).await;
    wait_text(&b, "conflict-table", "Status").await;
    shot(&b, "42-status-conflict").await;
    click_css(&b, "[data-testid^='keep-theirs-']").await;
    type_into(
        &b,
        "conflict-reason",
        "Withdrawal confirmed with the investigator",
    )
    .await;
    click(&b, "conflict-resolve").await;
    wait_present(&b, "conflict-resolve", false).await;
    click(&b, "nav-subjects").await;
    click_css(&b, &format!("{} td", css(&format!("row-{id}")))).await;
    wait_text(&b, "subject-status", "Withdrawn").await;
    wait_text(
        &b,
        "audit-table",
        "Withdrawal confirmed with the investigator",
    )
    .await;
    shot(&b, "43-status-conflict-resolved").await;
    b.close().await.expect("quit desk B");
    sim.shutdown().await;
}

/// A site coordinator's usual token (bound to the site's group, without
/// the Logging or Data Access Groups right) onboards and syncs in the real
/// app. REDCap refuses one value (its form was locked there): the sync
/// center lists it with REDCap's words while the rest is sent; once the
/// form is unlocked, the CRC opens it from the sync center, corrects the
/// value, and the next sync sends it.
#[tokio::test]
async fn a_site_token_syncs_and_a_refused_value_is_fixed_in_the_form() {
    use crate::onboard::{Instrument, MANAGER, NORTH, sim};
    let sim = sim(Instrument::Tagged).await;
    assert!(sim.set_rights(NORTH, edc_sim::Rights::site_coordinator()));
    let url = sim.api_url();
    let code = sitedesk_core::desk::onboard::site_code(sim.project().dag_id("north").unwrap());
    let id = format!("{code}-E4A-0001");
    let dir = tempfile::tempdir().unwrap();
    let driver = Driver::start().await;

    let c = open_app(&driver, dir.path(), "E4A").await;
    onboard(&c, &url, NORTH, "site-token").await;
    screen_subject(&c, "RV", &id).await;
    // In REDCap, the data manager locks the subject's demographics.
    sim.lock_form(&id, None, "demographics").await.unwrap();
    let dob = |value: &'static str, reason: Option<&'static str>| {
        let c = c.clone();
        async move {
            wait_present(&c, "field-dob", true).await;
            replace_text(&c, "field-dob", value).await;
            keys(&c, &format!("{}s{}", key::CTRL, key::RELEASE)).await;
            if let Some(reason) = reason {
                wait_text(&c, "reason-modal", "Date of birth").await;
                type_into(&c, "reason-input", reason).await;
                keys(&c, key::ENTER).await;
            }
            wait_text(&c, "form-saved", "values written").await;
        }
    };
    click(&c, "grid-event_1_arm_1-demographics-1").await;
    dob("1980-01-02", None).await;
    click(&c, "form-back").await;
    sync_now(&c).await;
    wait_text(&c, "refused-table", "locked").await;
    wait_text(&c, "refused-table", "1980-01-02").await;
    wait_text(&c, "refused-table", "Date of birth").await;
    shot(&c, "50-refused-value").await;

    // The screening log went; the refused value alone waits.
    let manager = sitedesk_core::edc::EdcClient::new(
        &url,
        sitedesk_core::edc::Token::parse(MANAGER).unwrap(),
        sitedesk_core::edc::Timeouts::default(),
    )
    .unwrap();
    let dob_in_edc = || async {
        let rows = manager
            .export_records(&sitedesk_core::edc::RecordQuery {
                records: vec![id.clone()],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["scr_initials"], "RV");
        rows[0]["dob"].clone()
    };
    assert_eq!(dob_in_edc().await, "");

    sim.unlock_form(&id, None, "demographics").await.unwrap();
    click(&c, &format!("refused-open-{id}-dob")).await;
    dob("1980-01-03", Some("Checked the ID card")).await;
    sync_now(&c).await;
    wait_text(&c, "sync-pending", "0").await;
    wait_present(&c, "refused-table", false).await;
    assert_eq!(dob_in_edc().await, "1980-01-03");
    // The token could read neither the log nor the groups.
    let stats = sim.stats();
    assert!(stats.by_call.get("log/export").copied().unwrap_or(0) >= 1);
    assert!(stats.by_call.get("dag/export").copied().unwrap_or(0) >= 1);
    c.close().await.expect("quit the app");
    sim.shutdown().await;
}

/// Calls a command the way a page script could, bypassing the UI: what a
/// forged call gets. Answers `{"ok": ..}` or `{"err": {code, message}}`.
async fn forge(c: &Client, command: &str, args: serde_json::Value) -> serde_json::Value {
    c.execute_async(
        "const [command, args, done] = arguments;
         window.__TAURI_INTERNALS__.invoke(command, args)
           .then((ok) => done({ ok: ok ?? null }), (err) => done({ err }));",
        vec![json!(command), args],
    )
    .await
    .unwrap_or_else(|e| panic!("{command}: {e:?}"))
}

/// People at the desk (issue 15): the first start creates the
/// administrator, who adds a CRC and a supervisor; the CRC screens a
/// subject and types into a form; the desk locks by itself and the page
/// then holds no subject data; a wrong password is refused and the next
/// attempt must wait; the CRC unlocks and the typed value is still there;
/// a forged administrator's call from the CRC's page is refused and changes
/// nothing; the supervisor signs in by *Switch user*; the history names
/// each person.
#[tokio::test]
async fn people_sign_in_lock_switch_and_a_forged_call_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let driver = Driver::start().await;
    let c = start_app(&driver, data.path(), "E5P", &["--lock-seconds", "15"]).await;
    wait_present(&c, "first-start", true).await;
    shot(&c, "50-first-start").await;
    sign_in_as_admin(&c, "E5P").await;
    click(&c, "welcome-demo").await;
    wait_present(&c, "nav-subjects", true).await;

    // The administrator adds a CRC and a supervisor.
    click(&c, "nav-settings").await;
    for (login, name, role) in [
        ("mei", "Mei Chen", "CRC"),
        ("sam", "Sam Ortiz", "Supervisor"),
    ] {
        click(&c, "user-add").await;
        type_into(&c, "user-login", login).await;
        type_into(&c, "user-name", name).await;
        click(&c, "user-role-select").await;
        click_css(
            &c,
            &format!("[role='option'][value='{}']", role.to_lowercase()),
        )
        .await;
        type_into(&c, "user-password", "mei and sam's password").await;
        click(&c, "user-save").await;
        wait_text(&c, &format!("user-{login}"), name).await;
    }
    // Each has the role chosen.
    let users = forge(&c, "list_users", json!({})).await;
    let roles: Vec<(String, String)> = users["ok"]
        .as_array()
        .expect("the people")
        .iter()
        .map(|u| {
            (
                u["login"].as_str().unwrap().to_owned(),
                u["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [("admin", "admin"), ("mei", "crc"), ("sam", "supervisor")]
            .map(|(l, r)| (l.to_owned(), r.to_owned()))
    );
    shot(&c, "51-people").await;
    click(&c, "user-menu").await;
    click(&c, "menu-switch").await;

    // The CRC signs in, screens a subject and types a value.
    sign_in(&c, "mei", "mei and sam's password").await;
    wait_text(&c, "user-menu", "Mei Chen").await;
    let id = "S01-E5P-0001";
    screen_subject(&c, "QZ", id).await;
    click(&c, "grid-baseline_arm_1-vitals-1").await;
    wait_text(&c, "form-title", "Vital signs").await;
    type_into(&c, "field-sbp", "118").await;

    // Fifteen seconds without input: the desk locks, and the page holds
    // nothing of the subject.
    wait_present(&c, "lock-screen", true).await;
    let page = c.source().await.unwrap();
    assert!(
        !page.contains(id) && !page.contains("QZ"),
        "the lock screen shows subject data"
    );
    shot(&c, "52-locked").await;

    // A forged call while locked is refused too.
    let forged = forge(&c, "list_subjects", json!({"payload": {}})).await;
    assert_eq!(forged["err"]["code"], "locked", "{forged}");

    // A wrong password is refused, and the next attempt must wait.
    type_into(&c, "unlock-password", "not her password").await;
    click(&c, "unlock-submit").await;
    wait_text(&c, "error", "Wrong login or password").await;
    type_into(&c, "unlock-password", "mei and sam's password").await;
    click(&c, "unlock-submit").await;
    wait_text(&c, "error", "Try again in").await;
    // Each attempt in the wait is refused at once, unchecked; once the
    // wait has passed, her password opens the desk.
    let mut attempts = 0;
    loop {
        attempts += 1;
        assert!(attempts < 500, "the wait never ended");
        type_into(&c, "unlock-password", "mei and sam's password").await;
        click(&c, "unlock-submit").await;
        let answer = c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(&format!(
                "{}, {}",
                css("nav-subjects"),
                css("error")
            )))
            .await
            .expect("an answer to the attempt");
        if answer.attr("data-testid").await.ok().flatten().as_deref() == Some("nav-subjects") {
            break;
        }
    }
    // What she typed before the lock is still in the form; she saves it.
    wait_value(&c, "field-sbp", "118").await;
    keys(&c, &format!("{}s{}", key::CTRL, key::RELEASE)).await;
    wait_text(&c, "form-saved", "values written").await;

    let session = forge(&c, "session_status", json!({})).await;
    assert_eq!(session["ok"]["user"]["role"], "crc", "{session}");
    // A forged call to an administrator's command is refused and changes
    // nothing.
    let forged = forge(
        &c,
        "save_edc_settings",
        json!({"payload": {"url": "https://redcap.example.org/api/", "token": "0123456789ABCDEF0123456789ABCDEF"}}),
    )
    .await;
    assert_eq!(forged["err"]["code"], "forbidden", "{forged}");

    // Switch user: the supervisor signs the vitals off with his password.
    click(&c, "user-menu").await;
    click(&c, "menu-switch").await;
    sign_in(&c, "sam", "mei and sam's password").await;
    wait_text(&c, "user-role", "Supervisor").await;
    click_css(&c, &format!("{} td", css(&format!("row-{id}")))).await;
    click(&c, "grid-baseline_arm_1-vitals-1").await;
    click(&c, "signoff-open").await;
    type_into(&c, "signoff-password", "not his password").await;
    click(&c, "signoff-submit").await;
    wait_text(&c, "signoff-modal", "Wrong login or password").await;
    // The wait after a wrong password passes; each early try is refused.
    let mut attempts = 0;
    loop {
        attempts += 1;
        assert!(attempts < 500, "the wait never ended");
        type_into(&c, "signoff-password", "mei and sam's password").await;
        click(&c, "signoff-submit").await;
        let answer = c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(&format!(
                "{}, {} {}",
                css("signoff-banner"),
                css("signoff-modal"),
                css("error")
            )))
            .await
            .expect("an answer to the signature");
        if answer.attr("data-testid").await.ok().flatten().as_deref() == Some("signoff-banner") {
            break;
        }
    }
    wait_text(&c, "signoff-banner", "Sam Ortiz (sam)").await;
    shot(&c, "53-signed-off").await;

    // The CRC changes the signed form: a reason is asked, the sign-off is
    // voided.
    click(&c, "user-menu").await;
    click(&c, "menu-switch").await;
    sign_in(&c, "mei", "mei and sam's password").await;
    click_css(&c, &format!("{} td", css(&format!("row-{id}")))).await;
    click(&c, "grid-baseline_arm_1-vitals-1").await;
    wait_text(&c, "signoff-banner", "Sam Ortiz").await;
    replace_text(&c, "field-sbp", "121").await;
    keys(&c, &format!("{}s{}", key::CTRL, key::RELEASE)).await;
    wait_present(&c, "reason-signed", true).await;
    type_into(&c, "reason-input", "Measured again after rest").await;
    keys(&c, key::ENTER).await;
    wait_text(&c, "signoff-voided", "Measured again after rest").await;
    click(&c, "form-back").await;
    // The history names each person.
    wait_text(&c, "audit-table", "Sam Ortiz (sam)").await;
    wait_text(&c, "audit-table", "Mei Chen (mei)").await;
    shot(&c, "54-history-names-people").await;

    // The EDC is still the demo's: the forged call changed nothing.
    click(&c, "user-menu").await;
    click(&c, "menu-switch").await;
    sign_in(&c, ADMIN_LOGIN, ADMIN_PASSWORD).await;
    click(&c, "nav-settings").await;
    wait_text(&c, "edc-mode", "Demo EDC").await;

    // The administrator makes a backup while the app runs; IT restores it
    // into a new folder from the command line, with her password.
    click(&c, "backup-make").await;
    wait_present(&c, "backup-result", true).await;
    let folder = c
        .find(Locator::Css(&format!("{} code", css("backup-result"))))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    c.close().await.unwrap();
    let restored = data.path().join("restored");
    let mut restore = Command::new(app_binary())
        .arg("restore")
        .arg(&folder)
        .arg("--data-dir")
        .arg(&restored)
        .arg("--login")
        .arg(ADMIN_LOGIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sitedesk restore");
    {
        use std::io::Write as _;
        let mut stdin = restore.stdin.take().unwrap();
        writeln!(stdin, "{ADMIN_PASSWORD}").unwrap();
    }
    let out = restore.wait_with_output().unwrap();
    assert!(out.status.success(), "restore: {}", out.status);
    assert!(String::from_utf8_lossy(&out.stdout).contains("restored into"));
    assert!(restored.join("sitedesk.sqlite3").exists());
}
