#!/usr/bin/env bash
# Create .venv and install the project with its test tools. Idempotent: re-installs only when
# pyproject.toml changed. Needs Python >= 3.11; nothing else (PostgreSQL comes from PyPI).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pick_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [[ -n "$candidate" ]] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "error: Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

if [[ ! -x .venv/bin/python ]]; then
  py=$(pick_python)
  echo "Creating .venv with $($py --version)" >&2
  "$py" -m venv .venv
fi

stamp=.venv/.retailmart-installed
want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
  echo "Installing retailmart_dagster and its dependencies into .venv ..." >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" >&2
  echo "$want" > "$stamp"
fi

# The dashboard's Chart.js (npm ci in dashboard/ when its lock file changed; skipped with a warning
# when npm is missing: the page then shows its figures and tables without charts).
bash scripts/install_browser.sh --npm-only
