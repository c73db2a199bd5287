#!/usr/bin/env bash
# Runs every check and test: UI (types, lint, unit tests), Rust (format,
# clippy, unit and cross-crate tests), and the end-to-end suite that drives
# the built app under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh test
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/sitedesk-target}
export SITEDESK_SCREENSHOTS=${SITEDESK_SCREENSHOTS:-$PWD/e2e-screenshots}
step() { echo; echo "==> $*"; }

step "UI: type check, lint, unit tests, build"
(cd ui && npm run typecheck && npm run lint && npm test && npm run build)

step "Rust: format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p sitedesk-tests --all-targets --features e2e --locked -- -D warnings
if cargo tree -p sitedesk-core -e normal,build --prefix none | grep -q '^tauri'; then
  echo "error: sitedesk-core depends on tauri" >&2
  exit 1
fi

step "Rust: unit and cross-crate tests"
# The instance tests run the built app binary (as the end-to-end suite does).
cargo build -p sitedesk --locked
export SITEDESK_APP_BIN="$CARGO_TARGET_DIR/debug/sitedesk"
cargo test --workspace --locked

step "Benchmarks, short mode (full runs: cargo bench -p sitedesk-core --bench store|forms; cargo bench -p sitedesk-tests --bench sync; cd ui && npm run bench:browser)"
cargo bench -p sitedesk-core --bench store --locked -- --short
cargo bench -p sitedesk-core --bench forms --locked -- --short
cargo bench -p sitedesk-tests --bench sync --locked -- --short
(cd ui && npm run bench:browser -- --short)

step "End-to-end: the app under Xvfb through WebDriver (screenshots in $SITEDESK_SCREENSHOTS)"
xvfb-run -a --server-args="-screen 0 1440x900x24" \
  cargo test -p sitedesk-tests --features e2e --locked --test tests -- e2e:: --test-threads=1
