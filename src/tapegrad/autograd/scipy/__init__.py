"""tapegrad.autograd.scipy: tapegrad.scipy (SciPy's functions, differentiable)
under autograd's module names, with autograd's results: ``import
tapegrad.autograd.scipy.stats.norm as norm`` and ``from
tapegrad.autograd.scipy.special import logsumexp`` work as in autograd.

The one difference from tapegrad.scipy: called on plain values (no tensor
among the arguments, i.e. outside a differentiated function), a function
returns plain NumPy values, as autograd's do, so a loss evaluated between
optimizer steps prints as a number.  Inside a differentiated function the
arguments are tensors and the results are recorded tensors, as in
tapegrad.scipy."""
import functools
import sys
import types

import tapegrad.scipy
from tapegrad._core import Tensor, Variable

_PREFIX = "tapegrad.scipy."


def _holds_tensor(x):
    if isinstance(x, (Tensor, Variable)):
        return True
    if isinstance(x, (list, tuple)):
        return any(_holds_tensor(e) for e in x)
    if isinstance(x, dict):
        return any(_holds_tensor(e) for e in x.values())
    return False


def _plain(x):
    if isinstance(x, Tensor):
        return x.numpy()
    if isinstance(x, tuple):
        parts = [_plain(e) for e in x]
        return type(x)(*parts) if hasattr(x, "_fields") else tuple(parts)
    return x


def _plain_on_plain_values(f):
    @functools.wraps(f)
    def on_values(*args, **kwargs):
        out = f(*args, **kwargs)
        if _holds_tensor(args) or _holds_tensor(kwargs):
            return out
        return _plain(out)
    return on_values


def _mirror(module):
    """A module of autograd's name holding `module`'s public functions (wrapped) and submodules
    (mirrored); registered in sys.modules so that `import ... as` finds it."""
    name = "tapegrad.autograd.scipy." + module.__name__[len(_PREFIX):]
    if name in sys.modules:
        return sys.modules[name]
    mirror = types.ModuleType(name, module.__doc__)
    sys.modules[name] = mirror
    for attr in getattr(module, "__all__", [a for a in vars(module) if not a.startswith("_")]):
        value = getattr(module, attr)
        if isinstance(value, types.ModuleType) and value.__name__.startswith(_PREFIX):
            value = _mirror(value)
        elif callable(value):
            value = _plain_on_plain_values(value)
        setattr(mirror, attr, value)
    mirror.__all__ = list(getattr(module, "__all__", vars(mirror)))
    return mirror


integrate = _mirror(tapegrad.scipy.integrate)
linalg = _mirror(tapegrad.scipy.linalg)
signal = _mirror(tapegrad.scipy.signal)
special = _mirror(tapegrad.scipy.special)
stats = _mirror(tapegrad.scipy.stats)
__all__ = ["integrate", "linalg", "signal", "special", "stats"]
