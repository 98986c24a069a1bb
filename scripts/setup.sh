#!/usr/bin/env bash
# Install everything handoutgen needs on a fresh Debian machine, then render the
# demo documents into output/. Safe to run again: it skips what is there.
#   bash scripts/setup.sh           # install + render the demo
#   bash scripts/setup.sh --no-demo # install only (used by scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

# System libraries: Pango for WeasyPrint, the HarfBuzz subset library for fast
# font subsetting, poppler-utils for the tests' pdftoppm/pdfinfo/pdffonts.
# fonts-noto-core/-cjk draw names in other scripts (Arabic, Chinese, Vietnamese...);
# zbar-tools lets the tests scan the printed QR codes; chromium runs the web
# app's end-to-end test (driven by Playwright, which downloads no browser);
# openssl makes the HTTPS test's throwaway certificate; libgs-common ships the
# CMYK printer profile PDF/X-4 output embeds (engine/pdfx.py).
packages=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils fontconfig
          fonts-noto-core fonts-noto-cjk zbar-tools chromium openssl libgs-common)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "Installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
# A venv left half-made by an interrupted run (no pip in it) is made again.
if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  rm -rf .venv
  "$PYTHON" -m venv .venv
fi
# pip's own output, without the notices about local index folders; a failed
# install stops the set-up here, with pip's message.
pip_install() {
  local log status=0
  log=$(mktemp)
  .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1 || status=$?
  grep -v '^WARNING: Location' "$log" || true
  rm -f "$log"
  if [ "$status" -ne 0 ]; then
    echo "Error: pip install $* failed (exit $status); see pip's message above." >&2
    exit 1
  fi
}
pip_install --upgrade pip
# The versions CI tested (constraints.txt, rewritten by scripts/refresh-lock.sh):
# a new machine gets what passed, not whatever was released since.
pip_install -c constraints.txt -e '.[test,cluster]'
.venv/bin/handoutgen doctor

if [ "${1:-}" != "--no-demo" ]; then
  mkdir -p output
  .venv/bin/handoutgen validate
  # Build the cached shared pages single renders assemble from (no patient data).
  .venv/bin/handoutgen warm
  .venv/bin/handoutgen render fusion-alternatives \
    --patient "Alex Example" --visit-date 2026-11-20 --clinician "Dr. Sam Rivera" \
    --clinic "Example Spine Clinic" \
    --note "We talked about trying a planned exercise program first.
Call us if the leg weakness gets worse." \
    -o output/fusion-alternatives.pdf
  .venv/bin/handoutgen render nonsurgical-options --patient "Alex Example" \
    -o output/nonsurgical-options.pdf
  .venv/bin/handoutgen render fusion-alternatives --patient "Alex Example" --format html \
    -o output/fusion-alternatives.html
  echo "Demo written to output/."
fi
