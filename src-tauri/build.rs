//! Generates the Tauri context and the ACL permissions of the app's own
//! commands: a command missing from the list cannot be called at all, and
//! one listed is callable only if a capability grants it. The list is read
//! from the one table of commands, `src/ipc.rs`.

const TABLE: &str = "src/ipc.rs";

/// The names in the table: the lines of the `surface!` invocation that
/// start with a command's name and its payload in parentheses.
fn commands(table: &str) -> Vec<String> {
    let body = table
        .split_once("\nsurface! {\n")
        .and_then(|(_, rest)| rest.split_once("\n}"))
        .map(|(body, _)| body)
        .expect("src/ipc.rs invokes surface! { .. } with one command a line");
    body.lines()
        .filter_map(|line| line.trim().split_once('(').map(|(name, _)| name.to_owned()))
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect()
}

fn main() {
    println!("cargo:rerun-if-changed={TABLE}");
    let table = std::fs::read_to_string(TABLE).expect("read src/ipc.rs");
    let names = commands(&table);
    assert!(!names.is_empty(), "no commands found in {TABLE}");
    // The manifest keeps the names for the rest of the build script.
    let names: &'static [&'static str] = Box::leak(
        names
            .into_iter()
            .map(|n| &*Box::leak(n.into_boxed_str()))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(names)),
    )
    .expect("tauri build script");
}
