//! Cross-crate and end-to-end suites for SiteDesk; the code is in
//! `tests.rs` and its modules. This library is empty on purpose.
