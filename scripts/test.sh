#!/usr/bin/env bash
# The whole test suite: install, then pytest (unit, integration on a real embedded PostgreSQL
# started by the tests themselves, real Dagster runs). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
# Chart.js and Debian's chromium for the browser tests (tests/e2e skip, saying why, without them).
bash scripts/install_browser.sh
.venv/bin/python -m ruff check retailmart_dagster tests benchmarks
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
  echo "error: pytest collected no tests" >&2
fi
exit $status
