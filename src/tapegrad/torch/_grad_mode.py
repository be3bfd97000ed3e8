"""Grad mode: no_grad, enable_grad, set_grad_enabled, inference_mode (context
managers and decorators, as in PyTorch)."""
import functools

from tapegrad import _graph


class _GradMode:
    mode = True

    def __enter__(self):
        self._prev = _graph.set_grad_enabled_flag(self.mode)
        return None

    def __exit__(self, *exc):
        _graph.set_grad_enabled_flag(self._prev)
        return False

    def __call__(self, f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            with type(self)() if not isinstance(self, set_grad_enabled) else set_grad_enabled(self.mode):
                return f(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Ops inside record nothing: results are leaves with requires_grad=False."""
    mode = False


class enable_grad(_GradMode):
    mode = True


class inference_mode(_GradMode):
    """no_grad (tapegrad keeps no separate inference tensors)."""

    def __init__(self, mode=True):
        self.mode = not mode


class set_grad_enabled(_GradMode):
    """Sets grad mode at once (usable as a function) and restores it when used
    as a context manager."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = _graph.set_grad_enabled_flag(self.mode)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        _graph.set_grad_enabled_flag(self._prev)
        return False


def is_grad_enabled():
    return _graph.is_grad_enabled()
