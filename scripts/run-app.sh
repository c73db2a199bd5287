#!/usr/bin/env bash
# Builds and starts SiteDesk. With nothing configured it opens in demo mode
# with the demo study. Extra arguments go to the app (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh app
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/sitedesk-target}

echo "==> Building the UI"
(cd ui && npm run build)
echo "==> Building the app"
cargo build --release -p sitedesk

app="$CARGO_TARGET_DIR/release/sitedesk"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "==> No display found: starting SiteDesk on a virtual display (Xvfb); its window is not visible here."
  exec xvfb-run -a "$app" "$@"
fi
exec "$app" "$@"
