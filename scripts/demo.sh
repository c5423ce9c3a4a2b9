#!/usr/bin/env bash
# The README's demo command: set everything up, start local Kafka, run the main job on the embedded
# default store (SQLite) over the bundled sample feeds, and print the topic table.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/bootstrap.sh
source "$ROOT/scripts/bootstrap.sh"
# Piped or logged output gets a table wide enough to read instead of rich's 80-column default.
[ -t 1 ] || export COLUMNS="${COLUMNS:-160}"
newsflow infra up
newsflow demo "$@"
