#!/usr/bin/env bash
# What the dashboard and its browser tests need besides Python:
#   * Chart.js for the dashboard: `npm ci` in dashboard/ when node_modules is missing or
#     package-lock.json changed since the last install (stamp: dashboard/node_modules/.retailmart-lock);
#   * Debian's `chromium` for the browser tests (tests/e2e), at /usr/bin/chromium: installed with
#     apt-get when missing and we are root; otherwise the script says what to install and the browser
#     tests skip with that reason. Playwright drives this chromium (never `playwright install`).
# Usage: scripts/install_browser.sh            both
#        scripts/install_browser.sh --npm-only  only Chart.js (what bootstrap.sh calls)
# Idempotent and quiet when everything is in place. Never fails the caller for a missing browser.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

npm_only=false
[[ "${1:-}" == "--npm-only" ]] && npm_only=true

is_root() { [[ "$(id -u)" == "0" ]]; }
apt_updated=false
apt_install() {
  if ! $apt_updated; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    apt_updated=true
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# ---------------------------------------------------------------- Chart.js (npm ci in dashboard/)
install_dashboard_packages() {
  local stamp=dashboard/node_modules/.retailmart-lock
  local want
  want=$(sha256sum dashboard/package-lock.json | cut -c1-16)
  if [[ -f dashboard/node_modules/chart.js/dist/chart.umd.js && "$(cat "$stamp" 2>/dev/null || true)" == "$want" ]]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    if is_root && ! $npm_only && command -v apt-get >/dev/null 2>&1; then
      echo "Installing Debian's nodejs and npm (for the dashboard's Chart.js) ..." >&2
      apt_install nodejs npm
    else
      echo "warning: npm not found: the dashboard will show tables without charts." >&2
      echo "         Install Node.js and npm (Debian: apt-get install nodejs npm), then run" >&2
      echo "         bash scripts/install_browser.sh" >&2
      return 0
    fi
  fi
  echo "Installing the dashboard's npm packages (npm ci in dashboard/) ..." >&2
  if ! (cd dashboard && npm ci --no-audit --no-fund --loglevel=error >&2); then
    echo "warning: npm ci failed in dashboard/: the dashboard will show tables without charts" >&2
    echo "         and the browser tests will skip; run bash scripts/install_browser.sh again." >&2
    return 0
  fi
  echo "$want" > "$stamp"
}

# ---------------------------------------------------------------- chromium (browser tests)
# Fonts: DejaVu has the rupee sign (U+20B9) the dashboard prints; Liberation matches Arial metrics.
BROWSER_PACKAGES=(chromium fonts-dejavu-core fonts-liberation)

has_rupee_font() {
  ! command -v fc-list >/dev/null 2>&1 || [[ -n "$(fc-list ':charset=20b9' family 2>/dev/null)" ]]
}

install_chromium() {
  if [[ -x /usr/bin/chromium ]] && has_rupee_font; then
    return 0
  fi
  if is_root && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's ${BROWSER_PACKAGES[*]} for the browser tests ..." >&2
    if apt_install "${BROWSER_PACKAGES[@]}" && [[ -x /usr/bin/chromium ]]; then
      return 0
    fi
    echo "warning: apt-get install chromium failed; the browser tests (tests/e2e) will skip." >&2
    return 0
  fi
  [[ -x /usr/bin/chromium ]] && return 0
  echo "warning: /usr/bin/chromium is missing and this is not root: the browser tests" >&2
  echo "         (tests/e2e) will skip. Install it with: sudo apt-get install ${BROWSER_PACKAGES[*]}" >&2
  echo "         (or point RETAILMART_CHROMIUM at another Chromium binary)." >&2
}

install_dashboard_packages
$npm_only || install_chromium
