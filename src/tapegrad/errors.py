"""Exception types with TensorFlow's names, so ``except tf.errors.X`` ports."""


class OpError(Exception):
    """An op could not run on the values it was given."""


class InvalidArgumentError(OpError):
    """An op received an argument of the wrong dtype or an incompatible shape."""


class NotFoundError(OpError):
    """The op has no implementation for the given dtype (e.g. sin of an int tensor)."""


class UnimplementedError(OpError):
    """The requested operation has no implementation (e.g. no gradient rule)."""


class GradientLostWarning(UserWarning):
    """A tensor that a tape, accumulator or transform is tracking was converted
    to a NumPy array implicitly (``np.asarray(t)``, the path SciPy and other
    NumPy-based libraries take): whatever is computed from that array is a
    constant to tapegrad, so its gradient is missing (zero from ``tg.grad``).
    Raised once per call site; filter it like any warning:
    ``warnings.simplefilter("error", tapegrad.GradientLostWarning)`` finds the
    line, ``"ignore"`` silences it."""
