#!/usr/bin/env bash
# The README's test command: set everything up (plus PostgreSQL), start the real Kafka broker,
# PostgreSQL and the Airflow home, run lint, types and the whole test suite, then stop the services.
# NEWSFLOW_KEEP_INFRA=1 leaves the services running afterwards (faster reruns while developing).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/bootstrap.sh
source "$ROOT/scripts/bootstrap.sh"

bash "$ROOT/scripts/install_chromium.sh"
newsflow infra up --postgres
if [ "${NEWSFLOW_KEEP_INFRA:-0}" != "1" ]; then
  trap 'newsflow infra down || true' EXIT
fi

echo "==> ruff" >&2
ruff check .
echo "==> mypy" >&2
mypy newsflow ingest clustering dags
echo "==> import contracts (layers, Kafka edge)" >&2
lint-imports --no-cache
echo "==> pytest" >&2
mkdir -p test-output
python -m pytest -p no:cacheprovider --junitxml=test-output/junit.xml "$@"
