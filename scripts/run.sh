#!/usr/bin/env bash
# The main job end to end: install, embedded PostgreSQL (unless RETAILMART_DATABASE_URL is set),
# sample data, full materialization through Dagster, dashboard JSON. Extra arguments go to
# `retailmart run` (e.g. --scale 1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
exec .venv/bin/retailmart run "$@"
