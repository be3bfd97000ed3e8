"""tapegrad benchmark suite: tape overhead against the hand-written NumPy floor and the peers.

Importing this package pins every math library to one thread.  The variables must be set
before NumPy (and OpenBLAS/MKL/OpenMP behind it) or any peer is imported, so ``run.py`` and the
W6/W10 subprocess entry points import this package first.  ``OPENBLAS_CORETYPE`` is left alone.
"""
import os
import sys

_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)
_XLA_FLAGS = ("--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1")


def pin_threads_env(environ=None):
    """Set the one-thread variables in ``environ`` (default: this process) and return it."""
    env = os.environ if environ is None else environ
    for var in _THREAD_VARS:
        env[var] = "1"
    flags = env.get("XLA_FLAGS", "").split()
    for flag in _XLA_FLAGS:
        if flag not in flags:
            flags.append(flag)
    env["XLA_FLAGS"] = " ".join(flags)
    env.setdefault("JAX_PLATFORMS", "cpu")
    env["JAX_ENABLE_X64"] = "1"  # float64 workloads need it; float32 ones pass dtypes explicitly
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # 2 = hide TF's INFO/WARNING start-up chatter
    return env


pin_threads_env()
NUMPY_IMPORTED_BEFORE_PINNING = "numpy" in sys.modules
