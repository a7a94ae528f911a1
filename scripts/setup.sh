#!/usr/bin/env bash
# Sets up everything kopplingar needs on a Debian machine, as root:
# system packages from apt, then a virtualenv with the pinned Python packages.
# Usage: scripts/setup.sh [runtime|test]   (test adds what the test suite needs)
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${1:-runtime}"
runtime_pkgs=(python3 python3-venv python3-dev gcc fonts-dejavu-core ca-certificates
              tesseract-ocr tesseract-ocr-swe)
test_pkgs=(chromium postgresql-client dovecot-imapd)
pkgs=("${runtime_pkgs[@]}")
if [ "$profile" = "test" ]; then
  pkgs+=("${test_pkgs[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's own interpreter, so the result does not depend on what else is on PATH.
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv .venv
fi
stamp=".venv/.installed-$(cat pyproject.toml constraints.txt devtools/pyproject.toml | sha256sum | cut -c1-16)-$profile"
if [ ! -f "$stamp" ]; then
  # runtime: the product alone. test: its dev extra (test tools, aiosmtpd) and the
  # development kit in devtools/ (local mail servers, screenshots), never in the wheel.
  targets=(-e .)
  [ "$profile" = "test" ] && targets=(-e ".[dev]" -e ./devtools)
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt "${targets[@]}"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
