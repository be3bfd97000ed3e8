#!/usr/bin/env bash
# The test suite against a core built with AddressSanitizer + UndefinedBehaviorSanitizer and
# Cython's bounds checks (CMake option TAPEGRAD_SANITIZE, see docs/internals.md).
#
#   tools/sanitize.sh                 # the whole suite
#   tools/sanitize.sh tests/test_core.py -k sweep     # arguments go to pytest
#
# Environment: PYTHON (the interpreter to build for, default python3), CC (the compiler whose
# sanitizer runtimes are preloaded; it must be the one CMake uses, default cc), SANITIZE_VENV
# (where the sanitized build is installed, default build/sanitize-venv).
#
# The interpreter is not built with ASan, so the runtimes are loaded first with LD_PRELOAD (an
# ASan-instrumented extension module needs its runtime before any other library), and
# PYTHONMALLOC=malloc routes Python's object allocations through malloc so ASan sees each one.
# Leak detection is off: CPython keeps memory alive until exit on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${SANITIZE_VENV:-build/sanitize-venv}
CC=${CC:-cc}
export CC

if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q "scikit-build-core>=1.0" "cython>=3.0" "cython-cmake>=0.2" "numpy>=2.0" ninja cmake
# (pip always rebuilds and reinstalls a project given as a path; the build folder keeps it incremental)
"$VENV/bin/python" -m pip install -q --no-build-isolation -Ccmake.define.TAPEGRAD_SANITIZE=ON \
    -Cbuild-dir=build/sanitize ".[test]"

# (found without importing it: an ASan module cannot load before the runtime is preloaded)
core=$("$VENV/bin/python" -c "import glob, importlib.util as u, os
d = u.find_spec('tapegrad').submodule_search_locations[0]
print(glob.glob(os.path.join(d, '_core*.so'))[0])" 2>/dev/null || true)
if [ -z "$core" ] || ! nm -D "$core" | grep -q "__asan_"; then
    echo "sanitize.sh: $core is not an ASan build" >&2
    exit 2
fi
asan=$("$CC" -print-file-name=libasan.so)
ubsan=$("$CC" -print-file-name=libubsan.so)
for lib in "$asan" "$ubsan"; do
    if [ ! -e "$lib" ]; then
        echo "sanitize.sh: $CC has no $lib (install its sanitizer runtimes, e.g. Debian's libasan8 and libubsan1)" >&2
        exit 2
    fi
done
echo "sanitize.sh: $core with $asan and $ubsan"

export LD_PRELOAD="$asan:$ubsan"
# An allocation above 2 GB fails (NumPy raises MemoryError) instead of being mapped: the junk
# fuzzer asks for huge shapes, and its usual address-space limit cannot coexist with ASan's shadow.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_init_order=1:allocator_may_return_null=1:max_allocation_size_mb=2048"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PYTHONMALLOC=malloc
exec "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
