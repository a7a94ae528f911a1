#!/usr/bin/env bash
# Sets up and runs every check: ruff, mypy, the import contract (imports follow the
# data flow, pyproject.toml [tool.importlinter]) and the whole pytest suite, on SQLite
# and on the PostgreSQL server at 127.0.0.1:5432 (override with TEST_DATABASE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}"
export KOPPLINGAR_CHROMIUM="${KOPPLINGAR_CHROMIUM:-/usr/bin/chromium}"
if ! pg_isready -q -d "$TEST_DATABASE_URL"; then
  echo "test: PostgreSQL at $TEST_DATABASE_URL is not reachable; the PostgreSQL tests need it" >&2
  exit 1
fi
.venv/bin/ruff check .
.venv/bin/mypy .
.venv/bin/lint-imports --no-cache
# Two passes: everything else on every core (pytest-xdist), then the tests marked
# `serial` alone, since they measure time or wait on another connection and a loaded
# machine fails them. Exit 5 is "no test collected" (a path with no serial test in it).
status=0
.venv/bin/pytest -n "${KOPPLINGAR_TEST_WORKERS:-auto}" -m "not serial" "$@" || status=$?
[ "$status" -eq 5 ] && status=0
serial=0
.venv/bin/pytest -m serial "$@" || serial=$?
[ "$serial" -eq 5 ] && serial=0
[ "$status" -eq 0 ] && status=$serial
exit "$status"
