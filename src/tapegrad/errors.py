"""Exception types with TensorFlow's names, so ``except tf.errors.X`` ports."""


class OpError(Exception):
    """An op could not run on the values it was given."""


class InvalidArgumentError(OpError):
    """An op received an argument of the wrong dtype or an incompatible shape."""


class NotFoundError(OpError):
    """The op has no implementation for the given dtype (e.g. sin of an int tensor)."""


class UnimplementedError(OpError):
    """The requested operation has no implementation (e.g. no gradient rule)."""
