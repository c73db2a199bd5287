//! Embeds the word catalogs, every `locales/*.json` at the repository's
//! root, so that adding a language is adding a file: the core knows its
//! languages from this list alone. English comes first; it is the language
//! every other falls back to, and it must exist.

// Cargo reads a build script's instructions from its standard output.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dir = manifest.join("../../locales");
    // A directory is watched as a whole: a new or changed catalog rebuilds.
    println!("cargo::rerun-if-changed={}", dir.display());
    let entries = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the catalogs in {}: {e}", dir.display()));
    let mut catalogs: Vec<(String, PathBuf)> = entries
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let tag = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_else(|| panic!("{} is not named by a language tag", path.display()))
                .to_owned();
            let path = path.canonicalize().expect("the catalog exists");
            (tag, path)
        })
        .collect();
    catalogs.sort_by(|(a, _), (b, _)| (a != "en", a).cmp(&(b != "en", b)));
    assert!(
        catalogs.first().is_some_and(|(tag, _)| tag == "en"),
        "{} has no en.json",
        dir.display()
    );
    let mut out = String::from(
        "/// Every catalog of `locales/`, English first: (language tag, JSON text).\n\
         pub(crate) const EMBEDDED: &[(&str, &str)] = &[\n",
    );
    for (tag, path) in &catalogs {
        let path = path.to_str().expect("a UTF-8 path");
        out.push_str(&format!("    ({tag:?}, include_str!({path:?})),\n"));
    }
    out.push_str("];\n");
    let target = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it")).join("catalogs.rs");
    fs::write(&target, out).expect("OUT_DIR is writable");
}
