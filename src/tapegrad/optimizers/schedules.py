"""Learning-rate schedules: Keras 3's ``keras.optimizers.schedules`` (what
``tf.keras.optimizers.schedules`` names in TensorFlow 2.21).

A schedule maps the optimizer's step (``iterations`` read *before* the step's
increment, so the first update uses ``schedule(0)``) to a learning rate.  As
in Keras, the arithmetic is done in the dtype of the initial learning rate
(float32 for a Python float) and the result is a scalar Tensor.
"""
import math

import numpy as np

from tapegrad import _core
from tapegrad._core import Tensor, Variable

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay",
           "InverseTimeDecay"]


def _step_value(step):
    if isinstance(step, (Tensor, Variable)):
        step = step._value
    return np.asarray(step).item()


def _float_like(value):
    """The dtype a Python number (float32) or a NumPy/tensor value keeps."""
    if isinstance(value, (Tensor, Variable)):
        return np.result_type(value._value)
    if isinstance(value, (np.ndarray, np.generic)) and np.result_type(value).kind == "f":
        return np.result_type(value)
    return np.dtype(np.float32)


def _scalar(value, dtype):
    return _core.wrap(np.asarray(value, dtype=dtype))


class LearningRateSchedule:
    """Base class: subclasses define ``__call__(step)`` and ``get_config()``."""

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{self.__class__.__name__}' must override "
                                  f"`__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule '{self.__class__.__name__}' must override "
                                  f"`get_config()` in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; the
    exponent is floored with ``staircase=True``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        dt = _float_like(self.initial_learning_rate)
        lr0 = np.asarray(self.initial_learning_rate, dtype=dt)
        p = dt.type(_step_value(step)) / dt.type(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return _scalar(lr0 * np.power(dt.type(self.decay_rate), p), dt)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; the
    ratio ``step / decay_steps`` is floored with ``staircase=True``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        dt = _float_like(self.initial_learning_rate)
        lr0 = np.asarray(self.initial_learning_rate, dtype=dt)
        p = dt.type(_step_value(step)) / dt.type(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return _scalar(lr0 / (dt.type(1) + dt.type(self.decay_rate) * p), dt)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last
    boundary (a boundary belongs to the interval on its left)."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(f"The length of boundaries should be 1 less than the length of values. Received: "
                             f"boundaries={boundaries} of length {len(boundaries)}, and values={values} of length "
                             f"{len(values)}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        s = _step_value(step)
        chosen = self.values[-1]
        for b, v in zip(self.boundaries, self.values):
            if s <= _step_value(b):
                chosen = v
                break
        # a Python float becomes float32, as tf.convert_to_tensor makes it
        return _core.as_tensor(chosen.value() if isinstance(chosen, Variable) else chosen)

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` to ``alpha`` times it over
    ``decay_steps``, then constant.  With ``warmup_steps=w`` and
    ``warmup_target=T``: a linear ramp from the initial rate to ``T`` over
    ``w`` steps, then the cosine decay with ``T`` as its peak, its
    ``decay_steps`` counted from step ``w``."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decayed(self, peak, step, dt):
        done = dt.type(min(step, self.decay_steps)) / dt.type(self.decay_steps)
        cosine = dt.type(0.5) * (dt.type(1) + np.cos(dt.type(math.pi) * done))
        return ((dt.type(1) - dt.type(self.alpha)) * cosine + dt.type(self.alpha)) * peak

    def __call__(self, step):
        dt = _float_like(self.initial_learning_rate)
        lr0 = np.asarray(self.initial_learning_rate, dtype=dt)
        s = _step_value(step)
        if self.warmup_target is None:
            return _scalar(self._decayed(lr0, s, dt), dt)
        target = np.asarray(self.warmup_target, dtype=dt)
        if s < self.warmup_steps:
            ramp = (target - lr0) * (dt.type(s) / dt.type(self.warmup_steps))
            return _scalar(lr0 + ramp, dt)
        return _scalar(self._decayed(target, s - self.warmup_steps, dt), dt)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}
