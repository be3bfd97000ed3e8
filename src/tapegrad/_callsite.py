"""Where the user's code is: the first stack frame outside the tapegrad package.

Warnings and log records are reported at that frame (``stacklevel``), so a
warning raised while a rule runs deep inside a gradient sweep names the
user's ``tape.gradient(...)`` line, not a lambda in ``ops/math_ops.py``.
Messages that suggest code name tapegrad as the user imported it (``tg.``,
``tf.``), found in that frame's globals, else ``tapegrad.``.  Only error and
warning paths call these: nothing here runs per op.
"""
import contextlib
import os
import sys
import warnings

import numpy as np

from tapegrad import _core
from tapegrad.errors import GradientLostWarning
from tapegrad.ops import _registry

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def inside_package(filename):
    """Whether a code object's file belongs to tapegrad."""
    d = os.path.dirname(os.path.abspath(filename))
    return d == _PACKAGE_DIR or d.startswith(_PACKAGE_DIR + os.sep)


def user_frame():
    """The innermost frame outside tapegrad (None if there is none)."""
    f = sys._getframe(1)
    while f is not None and inside_package(f.f_code.co_filename):
        f = f.f_back
    return f


def stacklevel():
    """The ``stacklevel`` that makes ``warnings.warn`` or ``logger.warning``,
    called in the function that calls this one, report the user's frame
    (1 would report that function itself)."""
    f = sys._getframe(1)
    level = 1
    while f is not None and inside_package(f.f_code.co_filename):
        f = f.f_back
        level += 1
    return level


def module_name(frame=None):
    """The name the user's code bound the tapegrad module to (``tg``, ``tf``),
    or ``tapegrad`` when it did not bind one (``from tapegrad import ...``)."""
    if frame is None:
        frame = user_frame()
    if frame is not None:
        package = sys.modules.get("tapegrad")
        for name, value in frame.f_globals.items():
            if value is package and not name.startswith("_"):
                return name
    return "tapegrad"


# ---- floating-point warnings raised while a gradient is computed -------------------------------
# NumPy reports a divide by zero inside a derivative rule (sqrt's 0.5 / sqrt(x) at x = 0) as a
# RuntimeWarning located at that rule, a lambda in ops/math_ops.py.  While a gradient is computed,
# NumPy's 'warn' modes become 'call' with the handler below, which finds the op whose rule was
# running (from the rule's code object) and warns at the user's line instead.  Set once per
# gradient()/jacobian() call, never per op; modes the user set to 'ignore', 'raise', 'print' or
# 'log' are left alone.

_RULE_OPS = {}        # rule code object -> op name, built on the first warning


def _rule_ops():
    if not _RULE_OPS:
        for name, op in _registry.OPS.items():
            for rule in tuple(op.vjps) + tuple(op.jvps) + tuple(op.factors or ()) + tuple(op.diag_vjps or ()):
                code = getattr(rule, "__code__", None)
                if code is not None:
                    _RULE_OPS.setdefault(code, name)
    return _RULE_OPS


def _on_fp_error(kind, flag):
    rules = _rule_ops()
    op = None
    f = sys._getframe(1)
    while f is not None and inside_package(f.f_code.co_filename):
        op = rules.get(f.f_code)
        if op is not None:
            break
        f = f.f_back
    if op is None and _core.running_form() is not None:     # a rule run from its form: no frame
        op = _core.running_form().name
    if op is None:
        message = f"{kind} encountered while computing a gradient"
    else:
        derivative = getattr(_registry.OPS[op], "derivative", None)
        what = f" (its derivative is {derivative})" if derivative else ""
        message = (f"{kind} encountered in the derivative of {op}{what}: the gradient holds inf or nan "
                   f"where that derivative is undefined")
    warnings.warn(message, RuntimeWarning, stacklevel=stacklevel())


# NumPy >= 2 keeps its error state in a context variable: switching it costs ~0.3 us, where
# np.geterr() + np.errstate(...) cost ~3.5 us per gradient() call.  Ours is derived once per
# distinct state of the user's (their np.errstate / np.seterr settings) and cached.
try:
    from numpy._core import _ufunc_config as _ufc
    _STATE, _make_state = _ufc._extobj_contextvar, _ufc._make_extobj
except (ImportError, AttributeError):           # no such private variable: the public, slower route below
    _STATE = _make_state = None
_OURS = {}         # the user's error state -> ours (None: leave it alone)


def _derived_state():
    modes = np.geterr()
    if "warn" not in modes.values() or "call" in modes.values():
        return None
    return _make_state(call=_on_fp_error, **{k: "call" for k, v in modes.items() if v == "warn"})


def _switch_state():
    """Ours for the user's current error state (NumPy >= 2): the contextvars Token that undoes
    the switch (``token.var.reset(token)``), or None when nothing was switched."""
    user = _STATE.get()
    ours = _OURS.get(user, False)
    if ours is False:
        if len(_OURS) > 16:
            _OURS.clear()
        ours = _OURS[user] = _derived_state()
    return None if ours is None else _STATE.set(ours)


class _ReportedAtUserLine:
    __slots__ = ("_token",)

    def __enter__(self):
        self._token = _switch_state()
        return self

    def __exit__(self, *exc):
        if self._token is not None:
            _STATE.reset(self._token)
        return False


def fp_errors_reported_at_user_line():
    """A context for one backward computation (see above); a no-op when no
    floating-point error mode is 'warn' or the user installed a 'call' handler."""
    if _STATE is not None:
        return _ReportedAtUserLine()
    modes = np.geterr()
    if "warn" not in modes.values() or "call" in modes.values():
        return contextlib.nullcontext()
    return np.errstate(call=_on_fp_error, **{k: "call" if v == "warn" else v for k, v in modes.items()})


class _ExitOnReset:
    """NumPy 1.x: an entered context that `fp_errors_at_user_line_begin()` returns; its
    ``var.reset(it)`` exits the context, as a Token's resets the state on NumPy >= 2."""
    __slots__ = ("_context",)

    def __init__(self, context):
        self._context = context
        context.__enter__()

    @property
    def var(self):
        return self

    def reset(self, _):
        self._context.__exit__(None, None, None)


def fp_errors_at_user_line_begin():
    """fp_errors_reported_at_user_line()'s entry as one call, for gradient()'s short front end
    (two Python frames less than the ``with`` block): returns None when nothing was switched, or
    an object ``u`` whose ``u.var.reset(u)`` undoes the switch (a contextvars Token on NumPy >= 2,
    no Python frame)."""
    if _STATE is not None:
        return _switch_state()
    return _ExitOnReset(fp_errors_reported_at_user_line())


# ---- implicit conversions that lose a gradient -------------------------------------------------
# The core calls `_gradient_lost` when NumPy converts a tensor that an active tape, accumulator or
# transform tracks to an ndarray (`__array__`): what follows is NumPy (or SciPy, ...) on plain
# arrays, invisible to the recorders.  The core tests "is anything recording" before it calls in,
# so code that records nothing pays nothing.  Explicit conversions (`.numpy()`, `float()`, `str()`)
# never come here: they read the value without `__array__`.

_LOST_SITES = set()        # (conversion line, user's line) pairs already reported
_LIBRARY_DIRS = ("site-packages", "dist-packages")


def _in_library(filename):
    return any(d in filename for d in _LIBRARY_DIRS) or filename.startswith("<frozen")


def _gradient_lost(x):
    # The frame that converted (the first outside tapegrad: SciPy's, or the user's own), and the
    # user's frame that called into that library: the warning is reported there.
    conv, level = sys._getframe(1), 2
    while conv is not None and inside_package(conv.f_code.co_filename):
        conv, level = conv.f_back, level + 1
    user, user_level = conv, level
    while user is not None and _in_library(user.f_code.co_filename):
        user, user_level = user.f_back, user_level + 1
    if user is None:
        user, user_level = conv, level
    site = None if conv is None else (conv.f_code.co_filename, conv.f_lineno, user.f_code.co_filename,
                                      user.f_lineno)
    if site in _LOST_SITES:
        return
    _LOST_SITES.add(site)
    where = "" if conv is None else f" in {conv.f_code.co_name}() ({conv.f_globals.get('__name__', '?')})"
    kind = "variable" if isinstance(x, _core.Variable) else "tensor"
    tg = module_name(user)
    warnings.warn(
        f"a {kind} that is being differentiated was converted to a NumPy array{where} (np.asarray / "
        f"__array__): everything computed from that array is a constant to tapegrad, so the gradient "
        f"through it is lost (zero from {tg}.grad).  Keep the gradient by calling a differentiable "
        f"function instead (NumPy functions tapegrad records, tapegrad.scipy for SciPy's), or give the "
        f"foreign function a derivative with {tg}.custom_gradient or tapegrad.autograd.primitive + defvjp.",
        GradientLostWarning, stacklevel=user_level)


_core.install_gradient_lost(_gradient_lost)
