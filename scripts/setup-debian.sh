#!/usr/bin/env bash
# Installs what SiteDesk needs on Debian 12 (run as root), then the UI's npm
# packages. `app` installs what building and running needs; `test` adds the
# end-to-end tools (Xvfb, WebKitWebDriver, tauri-driver) and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-app}

# fonts-wqy-microhei: a CJK font, without which Simplified Chinese shows as
# empty boxes on a machine that has only Latin fonts.
packages=(build-essential pkg-config libwebkit2gtk-4.1-dev libsoup-3.0-dev
  libjavascriptcoregtk-4.1-dev librsvg2-dev xvfb xauth fonts-wqy-microhei)
# chromium: the real browser the UI's benchmark (ui/bench/subjects.mjs)
# measures the subjects list in, through playwright-core; Debian's build,
# updated with the system, rather than a browser that npm downloads.
[ "$mode" = test ] && packages+=(webkit2gtk-driver chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> Installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: installing packages needs root; run as root or install them first: ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

for tool in cargo node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "error: $tool is missing. SiteDesk builds with Rust (rustup, 1.90 or newer) and Node.js 20 with npm." >&2
    exit 1
  fi
done

if [ "$mode" = test ] && ! command -v tauri-driver >/dev/null; then
  echo "==> Installing tauri-driver"
  cargo install tauri-driver --locked --version '^2'
fi

if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "==> Installing UI packages"
  # `npm install`, not `npm ci`: the lock records only the platform packages
  # the registry serves, which `npm ci` counts as out of sync.
  (cd ui && npm install --no-audit --no-fund)
fi
