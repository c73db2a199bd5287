//! Cross-crate and end-to-end suites for SiteDesk; the suites are in
//! `tests.rs` and its modules, the benchmarks in `benches/`. This library
//! holds what they share: one way to set up a desk.

use std::path::Path;

use sitedesk_core::desk::{Desk, DeskOptions};
use sitedesk_core::domain::DeskCode;
use sitedesk_core::store::Store;

/// A new desk in `dir` as the app sets one up, through the app's own
/// `Desk::open`: the demo study with its forms, this desk at its first
/// site, acting as `account`. Answers its store; the desk itself closes
/// when the store's last handle drops (its hold on the folder, see
/// `sitedesk_core::instance`, ends as this returns).
pub async fn new_desk(dir: &Path, account: &str, desk_code: Option<&str>) -> Store {
    let desk = Desk::open(DeskOptions {
        desk_code: desk_code.map(|c| DeskCode::parse(c).expect("a valid desk code")),
        ..DeskOptions::new(dir, account)
    })
    .await
    .expect("open a new desk");
    desk.store().clone()
}
