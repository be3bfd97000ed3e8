"""Lazy, cached imports of tapegrad and the peers, each configured for one thread.

Nothing here is imported by tapegrad itself; a peer that is not installed makes its rows
"skipped", never an error.
"""
import importlib
import operator
import os

from . import pin_threads_env

pin_threads_env()


class Unavailable(Exception):
    """An implementation cannot run here (not installed, or not applicable to a workload)."""


def _tapegrad():
    return importlib.import_module("tapegrad")


def _tapegrad_torch():
    return importlib.import_module("tapegrad.torch")


def _torch():
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only allowed once, before any inter-op work
        pass
    return torch


def _tensorflow():
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised
        pass
    return tf


def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    try:
        jax.config.update("jax_platforms", "cpu")
    except Exception:  # noqa: BLE001 - older/newer jax spell this differently; env covers it
        pass
    import jax.numpy  # noqa: F401

    return jax


def _autograd():
    import autograd
    import autograd.numpy  # noqa: F401
    import autograd.scipy.special  # noqa: F401

    return autograd


_IMPORTERS = {
    "tapegrad": _tapegrad,
    "tapegrad_torch": _tapegrad_torch,
    "torch": _torch,
    "tensorflow": _tensorflow,
    "jax": _jax,
    "autograd": _autograd,
}

# implementation name -> module it needs
IMPL_MODULE = {
    "floor": None,
    "tapegrad": "tapegrad",
    "torch": "torch",
    "tensorflow": "tensorflow",
    "jax": "jax",
    "jax_jit": "jax",
    "autograd": "autograd",
    # PyTorch's API on tapegrad's engine (issue 14): the workloads' PyTorch code, run by tapegrad.torch.
    "tapegrad_torch": "tapegrad_torch",
}
ALL_IMPLS = tuple(IMPL_MODULE)
# The implementations with TensorFlow 2's eager API (GradientTape, watch, Variable,
# autodiff.ForwardAccumulator, the tf.math / tf.nn names): a workload writes one adapter for all of
# them, ``make_tf_api(tf, cfg)``, which Workload.factory calls with the module.
TF_API = ("tapegrad", "tensorflow")
LABELS = {
    "floor": "numpy floor",
    "closed": "closed-form floor",
    "tapegrad": "tapegrad",
    "torch": "torch",
    "tensorflow": "tensorflow",
    "jax": "jax (eager)",
    "jax_jit": "jax.jit [compiled]",
    "autograd": "autograd",
    "tapegrad_torch": "tapegrad.torch",
}

_cache = {}


def get(name):
    """Import (once) and return module ``name``; raise Unavailable if it cannot be imported."""
    if name not in _cache:
        try:
            _cache[name] = _IMPORTERS[name]()
        except Exception as exc:  # noqa: BLE001 - any import failure means "skip this peer"
            _cache[name] = exc
    mod = _cache[name]
    if isinstance(mod, Exception):
        raise Unavailable(f"{name} is not importable ({type(mod).__name__}: {mod})")
    return mod


def available(impl):
    mod = IMPL_MODULE[impl]
    if mod is None:
        return True, ""
    try:
        get(mod)
    except Unavailable as exc:
        return False, str(exc)
    return True, ""


def version(impl):
    mod = IMPL_MODULE.get(impl)
    if mod is None:
        import numpy

        return "numpy " + numpy.__version__
    try:
        m = get(mod)
    except Unavailable:
        return None
    v = getattr(m, "__version__", None)
    if v is None:
        try:
            from importlib import metadata

            v = metadata.version(mod)
        except Exception:  # noqa: BLE001
            v = "?"
    if mod == "tapegrad":
        return f"tapegrad {v} ({os.path.dirname(getattr(m, '__file__', '') or '?')})"
    return f"{mod} {v}"


def matvec(tf):
    """``W @ x`` for a matrix W and a vector x, as module ``tf`` spells it.  tapegrad's ``@``
    accepts a vector operand, as NumPy's does (``operator.matmul`` is that operator itself);
    TensorFlow's needs two operands of rank 2 and has ``tf.linalg.matvec`` for this case."""
    return tf.linalg.matvec if tf.__name__ == "tensorflow" else operator.matmul
