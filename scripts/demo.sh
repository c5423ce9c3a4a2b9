#!/usr/bin/env bash
# The README's demo command: set everything up, start local Kafka, run the main job on the embedded
# default store (SQLite) over the bundled sample feeds, and print the topic table.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/bootstrap.sh
source "$ROOT/scripts/bootstrap.sh"
newsflow infra up
newsflow demo "$@"
