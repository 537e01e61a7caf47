#!/usr/bin/env bash
# Install everything the service needs on Debian/Ubuntu: system packages (Tesseract with the eng, osd,
# deu, fra and Fraktur (frk, script/Fraktur) models, redis-server for the all-in-one mode) and the Python package in ./.venv.
#   scripts/install.sh           the service
#   scripts/install.sh --test    the service plus what the test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

packages=(python3 python3-venv python3-dev tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd
          tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-frk tesseract-ocr-script-frak redis-server)
if ((want_test)); then
  # chromium and its driver: the browser form's end-to-end tests (nothing downloads a browser); curl and jq:
  # the README's curl recipes, run as written; fonts: the synthetic pages of bench/synthetic.py
  packages+=(poppler-utils procps chromium chromium-driver curl jq fonts-dejavu-core fonts-liberation2)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing system packages: ${missing[*]}"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
extra=""
((want_test)) && extra="[test]"
.venv/bin/python -m pip install -q --upgrade pip 2>/dev/null || true
# The versions the image ships (requirements.lock, made by scripts/lock.sh) are the versions tested.
.venv/bin/python -m pip install -q --constraint requirements.lock -e ".${extra}"
# Upstream's more accurate English model (tessdata_best, integerised; Debian packages tessdata_fast), into the
# venv's own model directory: docs/accuracy.md, "Models". Without the registry the service reads with Debian's.
.venv/bin/ocr-service models install \
  || echo "warning: tessdata_best not installed; reading with Debian's models (retry: .venv/bin/ocr-service models install)" >&2
echo "installed: $(.venv/bin/ocr-service --help | head -1)"
