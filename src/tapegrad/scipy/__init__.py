"""tapegrad.scipy: SciPy's functions, differentiable (an optional extra:
``pip install "tapegrad[scipy]"``).

    from tapegrad.scipy import special, stats
    tg.grad(lambda m: stats.norm.logpdf(x, m, 1.0).sum())(0.0)

Each function takes SciPy's arguments (with its keywords, loc/scale included)
and returns a Tensor recorded on the active tapes; the ops behind them live in
tapegrad.ops.scipy_ops.  SciPy's own ufuncs applied to tensors
(``scipy.special.gammaln(x)``) are recorded too.  Importing this module
without SciPy raises ImportError saying how to install it.
"""
try:
    import scipy  # noqa: F401 - only to fail early, with the install command
except ImportError as e:
    raise ImportError('tapegrad.scipy needs SciPy: install it with  pip install "tapegrad[scipy]"') from e

from tapegrad.scipy import integrate, linalg, signal, special, stats

__all__ = ["integrate", "linalg", "signal", "special", "stats"]
