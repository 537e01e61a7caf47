#!/usr/bin/env bash
# Regenerate requirements.lock: every package (service and tests) pinned to one version. The image installs
# with it (Dockerfile) and scripts/install.sh installs with it, so tests run on the versions that ship.
# Run after changing the dependencies in pyproject.toml, then commit the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --upgrade pip
"$tmp/venv/bin/python" -m pip install -q ".[test]"
{
  echo "# Pinned versions of every dependency of ocr-service and its tests (Python 3.11, Linux)."
  echo "# Made by scripts/lock.sh from pyproject.toml; used as constraints by the Dockerfile and scripts/install.sh."
  "$tmp/venv/bin/python" -m pip freeze --all --exclude ocr-service --exclude pip --exclude setuptools --exclude wheel
} > requirements.lock
echo "wrote requirements.lock ($(grep -vc '^#' requirements.lock) packages)"
