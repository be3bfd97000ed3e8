"""Helpers shared by several test modules, each defined once.

Test modules import the plain helpers with ``from conftest import ...``: pyproject.toml puts
``tests/`` on ``pythonpath`` and sets ``consider_namespace_packages``, so pytest itself imports this
file under the module name ``conftest`` and the import finds that same module instead of loading a
second copy (``test_conftest.py`` checks this).  The fixtures need no import.
"""
import logging
import re
import sys
import warnings

import numpy as np
import pytest

import tapegrad as tf

# --- TensorFlow's message texts that several modules assert exactly ------------------------------

ONE_SHOT = ('A non-persistent GradientTape can only be used to compute one set of '
            'gradients (or jacobians)')
NOT_RECORDING = 'Tape is not recording.'
TRUTH_VALUE = ('The truth value of an array with more than one element is ambiguous. '
               'Use a.any() or a.all()')
INT_WATCH_WARNING = ('The dtype of the watched tensor must be floating (e.g. tf.float32), '
                     'got tf.int32')


def raises_exactly(exc_type, message):
    """pytest.raises whose message must equal `message` exactly."""
    return pytest.raises(exc_type, match='^' + re.escape(message) + '$')


def raises_starting(exc_type, message):
    """pytest.raises whose message must begin with `message`: TensorFlow's text comes first, so
    code matching on it still works, and tapegrad may go on to say what to do."""
    return pytest.raises(exc_type, match='^' + re.escape(message))


def both_paths(fn):
    """(fn() with the core's structured-cotangent shortcuts on, fn() with them
    off); the switch is restored.  Tests compare the two results."""
    was = tf._core.structured_cotangents(True)
    try:
        on = fn()
        tf._core.structured_cotangents(False)
        off = fn()
    finally:
        tf._core.structured_cotangents(was)
    return on, off


def frames_run(fn, names):
    """(fn(), how many Python frames of functions named in `names` it ran): tests that a
    shortcut in the core really skips a Python function."""
    seen = []

    def prof(frame, event, arg):
        if event == "call" and frame.f_code.co_name in names:
            seen.append(frame.f_code.co_name)

    sys.setprofile(prof)
    try:
        out = fn()
    finally:
        sys.setprofile(None)
    return out, len(seen)


def warned(fn):
    """(fn(), the messages of the warnings it raised), every warning recorded."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter('always')
        result = fn()
    return result, [str(w.message) for w in seen]


def bits_of(v):
    """A value's dtype, shape and bytes: equal for two values exactly when their bits are."""
    a = np.asarray(v)
    return a.dtype.str, a.shape, a.tobytes()


def assert_same_bits(a, b):
    assert bits_of(a) == bits_of(b)


def logcosh_objective(matvec, w, x):
    """sum(log cosh(w x)) + sum(sin x) + 2 sum(x * x): W9's function made strongly convex near 0."""
    return (tf.reduce_sum(tf.math.log(tf.math.cosh(matvec(w, x)))) + tf.reduce_sum(tf.sin(x))
            + 2.0 * tf.reduce_sum(x * x))


def logcosh_objective_hessian(w, x):
    """logcosh_objective's Hessian at x, derived by hand."""
    t = np.tanh(w @ x)
    return w.T @ np.diag(1 - t * t) @ w - np.diag(np.sin(x)) + 4 * np.eye(len(x))


def grad_and_hvp(f, x0, v0):
    """f's gradient at x0 and its Hessian times v0, forward over reverse, as NumPy arrays."""
    x, v = tf.constant(x0), tf.constant(v0)
    with tf.autodiff.ForwardAccumulator(x, v) as acc:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        g = tape.gradient(y, x)
    return g.numpy(), acc.jvp(g).numpy()


def newton_step_by_cg(f, x0):
    """(g, p): f's gradient at x0 and the Newton step p solving H p = -g by conjugate
    gradients that see the Hessian only through grad_and_hvp."""
    n = len(x0)
    g = grad_and_hvp(f, x0, np.zeros(n))[0]
    p, r = np.zeros(n), -g
    d = r.copy()
    for _ in range(3 * n):
        hd = grad_and_hvp(f, x0, d)[1]
        alpha = (r @ r) / (d @ hd)
        p, r_new = p + alpha * d, r - alpha * hd
        if np.linalg.norm(r_new) < 1e-13:
            break
        d, r = r_new + (r_new @ r_new) / (r @ r) * d, r_new
    return g, p


def raises_fp_error_on_both_paths(fn):
    """fn() raises FloatingPointError under np.errstate(all='raise') with the
    core's shortcuts on and with them off (the switch is restored)."""
    for enabled in (True, False):
        was = tf._core.structured_cotangents(enabled)
        try:
            with np.errstate(all='raise'), pytest.raises(FloatingPointError):
                fn()
        finally:
            tf._core.structured_cotangents(was)


def apply_op(op, ts, const_side=None, constant=1.25):
    """op applied to the tensors ts; a binary op with const_side 0 or 1 takes the Python float
    constant on that side in place of ts[const_side] (the weak-scalar cases of the rule tests)."""
    if op.n_in == 1:
        return op(ts[0])
    if const_side == 0:
        return op(constant, ts[1])
    if const_side == 1:
        return op(ts[0], constant)
    return op(ts[0], ts[1])


def repr_scalar(value, dtype='float32'):
    """repr() of a 0-d tensor, as TensorFlow prints it with `tapegrad.` for `tf.`."""
    return f'<tapegrad.Tensor: shape=(), dtype={dtype}, numpy={value}>'


def str_scalar(value, dtype='float32'):
    """str() of a 0-d tensor, as TensorFlow prints it with `tapegrad.` for `tf.`."""
    return f'tapegrad.Tensor({value}, shape=(), dtype={dtype})'


def d2l_f(a):
    """The control-flow function of the d2l autograd chapter (seeds 000, 002, 003): linear in `a`
    (a power-of-two factor, times 100 on the negative branch), so its second derivative is None."""
    b = a * 2
    while tf.norm(b) < 1000:
        b = b * 2
    if tf.reduce_sum(b) > 0:
        c = b
    else:
        c = 100 * b
    return c


# --- matplotlib: a test dependency (the `test` extra), so the plotting tests never skip -----------

@pytest.fixture
def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display on CI)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


# --- warnings: whichever channel tapegrad uses -----------------------------------------------------

_TF_WARNING_MARKERS = ('The dtype of the watched', 'must be floating',
                       'Calling GradientTape.gradient on a persistent tape')


class _ToCaplog(logging.Handler):
    """Forwards records to the handler caplog uses for the current test phase."""

    def __init__(self, caplog):
        super().__init__()
        self.caplog = caplog

    def emit(self, record):
        self.caplog.handler.handle(record)


@pytest.fixture
def warning_channels(caplog, recwarn):
    """Route records of the 'tapegrad' and 'tensorflow' loggers (and their children) to caplog,
    even if those loggers do not propagate to the root logger; and record every Python warning
    (not once per location), so that counts measure tapegrad's own rate limits."""
    warnings.simplefilter('always')      # inside recwarn's context, which restores the filters
    caplog.set_level(logging.WARNING)
    names = ['tapegrad', 'tensorflow'] + [
        n for n in logging.root.manager.loggerDict
        if n.startswith(('tapegrad.', 'tensorflow.'))]
    loggers = [logging.getLogger(n) for n in names]
    forward = _ToCaplog(caplog)
    for logger in loggers:
        logger.addHandler(forward)
    yield
    for logger in loggers:
        logger.removeHandler(forward)


def warning_texts(caplog, recwarn, capsys):
    """The warning messages emitted so far in this test, from whichever channel carried them.

    tapegrad may log (logger 'tapegrad' or 'tensorflow'), call warnings.warn, or print to
    stderr. A message can reach several channels at once (a logger that both prints and
    propagates), so the channel carrying the most TF warning texts is returned rather than the
    sum, which keeps the rate-limit counts exact. Reads (and so consumes) captured output."""
    seen, logged = set(), []
    for record in caplog.records:          # a record reaches caplog.handler once per logger
        if id(record) not in seen:
            seen.add(id(record))
            logged.append(record.getMessage())
    warned = [str(w.message) for w in recwarn]
    out, err = capsys.readouterr()
    printed = (out + '\n' + err).splitlines()

    def relevance(texts):
        return sum(any(m in t for m in _TF_WARNING_MARKERS) for t in texts)
    return max((logged, warned, printed), key=relevance)


def count(texts, phrase):
    """How many of `texts` contain `phrase`."""
    return sum(phrase in t for t in texts)


def pytest_addoption(parser):
    # The fuzzers (tests/test_fuzz.py) run a short budget in every suite run; `--long` gives them
    # the budget meant to be run by hand.
    parser.addoption("--long", action="store_true", default=False,
                     help="run the fuzzers (tests/test_fuzz.py) with their long budget")
