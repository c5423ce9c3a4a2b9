#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests when it is missing (Playwright drives it through
# NEWSFLOW_CHROMIUM; Playwright's own browser download is never used: this machine cannot reach it).
set -euo pipefail
if command -v "${NEWSFLOW_CHROMIUM:-chromium}" >/dev/null 2>&1; then
  exit 0
fi
echo "==> installing Debian's chromium for the browser tests (apt-get)" >&2
SUDO=""
if [ "$(id -u)" != "0" ]; then
  command -v sudo >/dev/null 2>&1 || { echo "MissingToolError: chromium is not installed and neither root nor sudo is available to install it (apt-get install chromium)" >&2; exit 1; }
  SUDO="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null; } ||
  { echo "MissingToolError: apt-get install chromium failed" >&2; exit 1; }
