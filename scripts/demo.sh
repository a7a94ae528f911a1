#!/usr/bin/env bash
# Sets up and runs the main job on the embedded default: SQLite in ./data, the
# sample registry loaded, the public form pages on http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh runtime
exec .venv/bin/kopplingar demo "$@"
