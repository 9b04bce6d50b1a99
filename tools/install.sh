#!/usr/bin/env bash
# Create .venv/ and install the known-good set (requirements.txt).
# mmcv 2.1.0 has no wheel with compiled ops on PyPI: it is built once
# (~15 min on 2 cores) into $WHEEL_CACHE and reused by every later install.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV=${VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3.11}
WHEEL_CACHE=${WHEEL_CACHE:-$HOME/.cache/llava_detseg/wheels}
MMCV_VERSION=2.1.0
STAMP="$VENV/.installed"

command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
# Reinstall only when the pins or the packaging changed.
want="$(cat "$ROOT/requirements.txt" "$ROOT/setup.cfg" | sha256sum | cut -c1-16)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    echo "[install] $VENV is up to date"
    exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
# torch first and pinned, so nothing pulls a multi-GB CUDA build.
$PIP install -q torch==2.13.0 'setuptools<80' wheel ninja psutil numpy

mkdir -p "$WHEEL_CACHE"
if ! ls "$WHEEL_CACHE"/mmcv-$MMCV_VERSION-*.whl >/dev/null 2>&1; then
    echo "[install] building mmcv $MMCV_VERSION with ops into $WHEEL_CACHE (about 15 min, once)"
    MAX_JOBS=${MAX_JOBS:-2} $PIP wheel -q --no-build-isolation --no-deps \
        "mmcv==$MMCV_VERSION" -w "$WHEEL_CACHE"
fi
$PIP install -q --find-links "$WHEEL_CACHE" -r "$ROOT/requirements.txt"
$PIP install -q --no-build-isolation --no-deps -e "$ROOT"
"$VENV/bin/python" -c "import mmcv.ops, mmdet.models, mmseg.models, llava_detseg; print('[install] ok: mmcv', mmcv.__version__)"
echo "$want" > "$STAMP"
