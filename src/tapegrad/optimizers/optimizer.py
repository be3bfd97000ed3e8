"""The Keras 3 optimizers that TensorFlow 2.21 programs call as
``tf.keras.optimizers.X``, computed in NumPy on the variables' values.

One ``apply_gradients`` step, in Keras 3's order (docs/training.md, section 2):

1. drop ``None`` gradients (a UserWarning names their variables; all ``None``
   is a ValueError);
2. divide by ``loss_scale_factor`` if set;
3. clip: ``clipnorm`` per gradient, else ``global_clipnorm``, else ``clipvalue``;
4. decoupled weight decay ``var -= var * weight_decay * lr`` (every optimizer);
5. the optimizer's own update of each variable and its slot variables;
6. the moving averages (``use_ema``), then ``iterations += 1``.

The learning rate is a float32 variable (or a schedule evaluated at
``iterations`` before the increment).  Arithmetic is done in each variable's
dtype, but the constants Keras passes through a cast (the learning rate, SGD's
momentum, the betas in bias corrections, all of Nadam's constants,
``weight_decay``, Adagrad's initial accumulator) are rounded to float32 first,
even for float64 variables, as Keras does.

Sparse gradients (``IndexedSlices``) follow Keras' TensorFlow backend: a term
that is linear in the gradient uses the rows summed per index; a term that
squares (or takes the absolute value of) the gradient does so entry by entry
before summing, so duplicate indices contribute ``sum(g_i**2)``.  Plain SGD
updates only the listed rows, in place when nothing else holds the variable's
array (the cost is then proportional to the rows, not to the table).
"""
import re
import warnings

import numpy as np

from tapegrad import _core, _nest
from tapegrad._core import Tensor, Variable
from tapegrad.errors import InvalidArgumentError
from tapegrad.module import name_scope
from tapegrad.ops.sparse_ops import IndexedSlices
from tapegrad.optimizers.schedules import LearningRateSchedule
from tapegrad.tape import GradientTape

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Nadam", "Adamax"]

_NAMES_USED = {}


def _snake(class_name):
    """Keras' snake_case: RMSprop -> rm_sprop, AdamW -> adam_w, SGD -> sgd."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def _unique_name(class_name):
    """adam, adam_1, adam_2, ... per process, as Keras names optimizers."""
    base = _snake(class_name)
    n = _NAMES_USED.get(base, 0)
    _NAMES_USED[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _f32(value, dtype):
    """A constant Keras casts: rounded to float32, then to the variable's dtype."""
    return dtype.type(np.float32(value))


def _raw(x):
    return x._value if isinstance(x, (Tensor, Variable)) else x


def _store(var, value):
    """Give `var` the new raw value (a fresh array of its dtype and shape):
    the core takes ownership (read-only) without another copy."""
    var._state_set(_core.wrap(value)._value)


class _Grad:
    """One variable's gradient in the variable's dtype: dense (`indices` is
    None) or sparse rows (`value[i]` adds to row `indices[i]`)."""

    __slots__ = ("value", "indices", "shape", "_dense")

    def __init__(self, value, indices=None, shape=None):
        self.value = value
        self.indices = indices
        self.shape = shape
        self._dense = None

    def scaled(self, factor):
        return _Grad(self.value * factor, self.indices, self.shape)

    def map_entries(self, f):
        return _Grad(f(self.value), self.indices, self.shape)

    def sum_sq(self):
        return float(np.sum(np.square(self.value, dtype=np.float64)))

    @property
    def dense(self):
        """The gradient as a dense array, duplicate rows summed."""
        if self.indices is None:
            return self.value
        if self._dense is None:
            self._dense = self._scatter(self.value)
        return self._dense

    def entrywise(self, f):
        """f of every entry, summed per row: ``f(g)`` for a dense gradient,
        ``sum_i f(g_i)`` over the duplicates of a sparse one."""
        if self.indices is None:
            return f(self.value)
        return self._scatter(f(self.value))

    def _scatter(self, values):
        return _core.add_rows(np.zeros(self.shape, dtype=values.dtype), self.indices, values)


class Optimizer:
    """Keras 3's optimizer base.  Subclasses name their slots and implement
    ``_update(var, grad, slots, lr, t)`` returning the variable's new raw
    value (or None when they updated it themselves)."""

    _slots_per_variable = ()          # slot names created for every variable, interleaved per variable

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.", UserWarning, stacklevel=3)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if gradient_accumulation_steps:
            # Keras' accumulation interacts with schedules, EMA and the iteration count in ways
            # not measured for this port: refused rather than guessed.
            raise NotImplementedError("tapegrad.optimizers: gradient_accumulation_steps is not supported")
        self.name = _unique_name(type(self).__name__) if name is None else name
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.global_clipnorm = global_clipnorm
        self.clipvalue = clipvalue
        self.use_ema = use_ema
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        if use_ema:
            if ema_momentum > 1 or ema_momentum < 0:
                raise ValueError(f"`ema_momentum` must be in the range [0, 1]. Received: ema_momentum={ema_momentum}")
            if ema_overwrite_frequency and (not isinstance(ema_overwrite_frequency, int)
                                            or ema_overwrite_frequency < 1):
                raise ValueError(f"`ema_overwrite_frequency` must be an integer >= 1 or None. Received: "
                                 f"ema_overwrite_frequency={ema_overwrite_frequency}")
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(f"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                             f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        self.built = False
        self._variables = []
        self._trainable_variables = []
        self._index = {}                  # variable id -> position in the build list
        self._slots = {}                  # variable id -> {slot name: Variable}
        self._averages = {}               # variable id -> EMA Variable
        self._exclude_ids = set()
        self._exclude_pattern = None
        with name_scope(""):              # Keras' names, whatever scope the caller is in
            self._iterations = Variable(np.int64(0), trainable=False, name="iteration")
        self._variables.append(self._iterations)
        if isinstance(learning_rate, LearningRateSchedule) or callable(learning_rate):
            self._learning_rate = learning_rate
        else:
            if not isinstance(learning_rate, float):
                raise ValueError(f"Argument `learning_rate` should be float, or an instance of LearningRateSchedule, "
                                 f"or a callable (that takes in the current iteration value and returns the "
                                 f"corresponding learning rate value). Received instead: "
                                 f"learning_rate={learning_rate}")
            with name_scope(""):
                self._learning_rate = Variable(np.float32(learning_rate), trainable=False, name="learning_rate")
            self._variables.append(self._learning_rate)

    # ---- state ----------------------------------------------------------------------------
    @property
    def iterations(self):
        """The int64 step counter (a Variable), incremented by every apply."""
        return self._iterations

    @property
    def variables(self):
        """iteration, learning_rate (unless scheduled), then the slot variables."""
        return self._variables[:]

    @property
    def learning_rate(self):
        return self._current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        if isinstance(learning_rate, LearningRateSchedule) or callable(learning_rate):
            if isinstance(self._learning_rate, Variable):
                self._variables.remove(self._learning_rate)
            self._learning_rate = learning_rate
            return
        if isinstance(self._learning_rate, LearningRateSchedule):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` "
                            "constructor argument, hence its learning rate is not settable. If you need the learning "
                            "rate to be settable, you should instantiate the optimizer with a float `learning_rate` "
                            "argument.")
        self._learning_rate.assign(np.float32(_raw(learning_rate)))

    def _current_learning_rate(self):
        if isinstance(self._learning_rate, LearningRateSchedule):
            return self._learning_rate(self._iterations)
        if callable(self._learning_rate):
            return self._learning_rate()
        return self._learning_rate

    def _lr_in(self, lr, dtype):
        """The step's learning rate in a variable's dtype (a Python number
        goes through float32 first, as Keras' cast does)."""
        raw = _raw(lr)
        if isinstance(raw, (float, int)):
            raw = np.float32(raw)
        return dtype.type(raw)

    # ---- building -------------------------------------------------------------------------
    def build(self, var_list):
        """Create the slot variables for these variables (done by the first
        apply_gradients; later applies may only pass these variables)."""
        if self.built:
            return
        var_list = list(var_list)
        self._trainable_variables = var_list[:]
        for i, v in enumerate(var_list):
            self._index[v._id] = i
            self._slots[v._id] = {}
        if self.use_ema:
            for v in var_list:
                self._averages[v._id] = self.add_variable_from_reference(v, "average")
        for v in var_list:
            for slot in self._slots_per_variable:
                self._slots[v._id][slot] = self.add_variable_from_reference(v, slot, self._slot_initial(slot))
        self._build_more(var_list)
        self.built = True

    def _slot_initial(self, slot):
        return 0.0

    def _build_more(self, var_list):
        """Optional slots (created after the per-variable ones)."""

    def add_variable(self, shape, initializer="zeros", dtype=None, name=None):
        """A non-trainable optimizer variable (tracked in ``variables``)."""
        dtype = np.dtype(np.float32) if dtype is None else np.dtype(getattr(dtype, "as_numpy_dtype", dtype))
        if initializer == "zeros":
            value = np.zeros(shape, dtype)
        elif initializer == "ones":
            value = np.ones(shape, dtype)
        else:
            value = np.full(shape, initializer, dtype)
        with name_scope(""):
            var = Variable(value, trainable=False, name=name)
        self._variables.append(var)
        return var

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A slot: the reference variable's shape and dtype, named
        ``<reference name with / and : as _>_<name>``."""
        name = name or "var"
        ref = str(reference_variable.name).replace("/", "_").replace(":", "_")
        value = np.asarray(reference_variable._value)
        init = 0.0 if initializer == "zeros" else initializer
        if not isinstance(init, str):
            init = _f32(init, value.dtype)       # Keras casts the initial value through float32
        return self.add_variable(value.shape, init, value.dtype, f"{ref}_{name}")

    def _slot(self, var, name):
        return self._slots[var._id][name]

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exempt variables (or those whose name matches one of the regular
        expressions `var_names`) from weight decay; only before building."""
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configued before the optimizer is built.")
        self._exclude_ids = {v._id for v in var_list} if var_list else set()
        self._exclude_pattern = re.compile("|".join(set(var_names))) if var_names else None

    def _decays(self, var):
        if var._id in self._exclude_ids:
            return False
        return not (self._exclude_pattern is not None and self._exclude_pattern.search(var.name))

    # ---- applying -------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        """Apply ``(gradient, variable)`` pairs (any iterable, e.g. a zip);
        returns the ``iterations`` variable."""
        grads, trainable_variables = zip(*grads_and_vars)
        self.apply(grads, trainable_variables)
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """The list form: gradients for these variables, or (without
        variables) for every variable the optimizer was built with."""
        grads = list(grads)
        if len(grads) == 0:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be built on "
                                 "a list of variables. Call `optimizer.build(trainable_variables)` first. ")
            if len(grads) != len(self._index):
                # "one-to-on" is Keras' text
                raise ValueError(f"When passing `grads` as a list of gradient tensors, the gradients must match "
                                 f"`optimizer.variables` one-to-on. Received a list of {len(grads)} gradients, but "
                                 f"the optimizer is tracking {len(self._trainable_variables)} trainable variables.")
            trainable_variables = self._trainable_variables
        else:
            trainable_variables = list(trainable_variables)
            if not self.built:
                self.build(trainable_variables)
            for v in trainable_variables:
                if not isinstance(v, Variable) or v._id not in self._index:
                    raise ValueError(f"Unknown variable: {v}. This optimizer can only be called for the variables "
                                     f"it was originally built with. When working with a new set of variables, you "
                                     f"should recreate a new optimizer instance.")
        pairs = [(g, v) for g, v in zip(grads, trainable_variables)]
        missing = [v.name for g, v in pairs if g is None]
        pairs = [(g, v) for g, v in pairs if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the loss. If using "
                          f"`model.compile()`, did you forget to provide a `loss` argument?", UserWarning,
                          stacklevel=3)
        variables = [v for _, v in pairs]
        gs = [self._as_grad(g, v) for g, v in pairs]
        if self.loss_scale_factor is not None:
            gs = [g.scaled(g.value.dtype.type(1) / g.value.dtype.type(self.loss_scale_factor)) for g in gs]
        gs = self._clip(gs)
        lr = self._current_learning_rate()
        if self.weight_decay is not None:
            for v in variables:
                if self._decays(v):
                    dt = np.result_type(v._value)
                    x = v._value
                    _store(v, x - x * _f32(self.weight_decay, dt) * self._lr_in(lr, dt))
        self._before_updates(variables)
        t = int(self._iterations._value) + 1
        for g, v in zip(gs, variables):
            dt = np.result_type(v._value)
            new = self._update(v, g, self._slots[v._id], self._lr_in(lr, dt), dt.type(t))
            if new is not None:
                _store(v, np.asarray(new, dtype=dt) if np.ndim(new) else dt.type(new))
        if self.use_ema:
            self._update_averages()
        _store(self._iterations, np.int64(t))

    def _before_updates(self, variables):
        """Per-step state shared by all variables (Nadam's running product)."""

    def _as_grad(self, g, var):
        dt = np.result_type(var._value)
        shape = np.shape(var._value)
        if isinstance(g, IndexedSlices):
            values = np.asarray(g._raw_values()).astype(dt, copy=False)
            return _Grad(values.reshape((-1,) + shape[1:]), g._raw_indices().reshape(-1), shape)
        value = np.asarray(_raw(g)).astype(dt, copy=False)
        if value.shape != shape:
            raise InvalidArgumentError(f"Incompatible shapes: {list(value.shape)} vs. {list(shape)}: the gradient "
                                       f"of {var.name} does not have its variable's shape")
        return _Grad(value)

    def _clip(self, gs):
        if self.clipnorm and self.clipnorm > 0:
            out = []
            for g in gs:
                norm = np.sqrt(g.sum_sq())
                out.append(g if norm <= self.clipnorm else g.scaled(g.value.dtype.type(self.clipnorm / norm)))
            return out
        if self.global_clipnorm and self.global_clipnorm > 0:
            scale = _global_scale(np.sqrt(sum(g.sum_sq() for g in gs)), self.global_clipnorm)
            return [g.scaled(g.value.dtype.type(scale)) for g in gs]
        if self.clipvalue and self.clipvalue > 0:
            c = self.clipvalue
            return [g.map_entries(lambda a: np.clip(a, -c, c).astype(a.dtype, copy=False)) for g in gs]
        return gs

    def _update_averages(self):
        first = int(self._iterations._value) == 0
        overwrite = (self.ema_overwrite_frequency
                     and (int(self._iterations._value) + 1) % self.ema_overwrite_frequency == 0)
        for v in self._trainable_variables:
            avg = self._averages[v._id]
            dt = np.result_type(v._value)
            m = dt.type(0.0 if first else self.ema_momentum)
            _store(avg, m * avg._value + (dt.type(1) - m) * v._value)
        if overwrite:
            for v in self._trainable_variables:
                _store(v, np.array(self._averages[v._id]._value))

    def scale_loss(self, loss):
        """loss * loss_scale_factor (gradients are divided back by apply)."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    # ---- tf.keras 2's minimize (Keras 3 dropped it; TensorFlow programs still call it) -----
    def compute_gradients(self, loss, var_list, tape=None):
        """``[(gradient, variable), ...]`` of `loss` (a Tensor recorded by
        `tape`, or a callable taking no arguments) for `var_list` (a list of
        variables, or a callable returning one)."""
        if not callable(loss) and tape is None:
            raise ValueError(f"`tape` is required when a `Tensor` loss is passed. Received: loss={loss}, "
                             f"tape={tape}.")
        if tape is None:
            tape = GradientTape()
        if callable(loss):
            with tape:
                if not callable(var_list):
                    tape.watch(var_list)
                loss = loss()
                if callable(var_list):
                    var_list = var_list()
        var_list = _nest.flatten(var_list)
        grads = tape.gradient(loss, var_list)
        return list(zip(grads, var_list))

    def minimize(self, loss, var_list, tape=None):
        """compute_gradients then apply_gradients; returns ``iterations``."""
        return self.apply_gradients(self.compute_gradients(loss, var_list, tape))


def _global_scale(norm, clip_norm):
    """clip_norm * min(1 / norm, 1 / clip_norm); NaN when the norm is not
    finite (every clipped gradient then becomes NaN, as in TensorFlow)."""
    if not np.isfinite(norm):
        return float("nan")
    if norm <= clip_norm:
        return 1.0
    return clip_norm / norm


# ---- the optimizers -------------------------------------------------------------------------

class SGD(Optimizer):
    """Gradient descent; with momentum μ the velocity is ``m = μ m - lr g`` and
    the step adds ``m`` (or, with nesterov, ``μ m - lr g`` with the new m)."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = momentum
        self.nesterov = nesterov

    def _build_more(self, var_list):
        if self.momentum != 0:
            for v in var_list:
                self._slots[v._id]["momentum"] = self.add_variable_from_reference(v, "momentum")

    def _update(self, var, g, slots, lr, t):
        if self.momentum == 0:
            if g.indices is not None:
                # only the listed rows move (duplicates add), in place when nothing else holds the table
                # (so the table's array is not even read here)
                var.scatter_sub(IndexedSlices(g.value * lr, g.indices))
                return None
            return var._value - g.value * lr
        x = var._value
        dt = lr.dtype
        mu = _f32(self.momentum, dt)
        G = g.dense
        m = slots["momentum"]
        new_m = m._value * mu - G * lr
        _store(m, new_m)
        if self.nesterov:
            return x + (new_m * mu - G * lr)
        return x + new_m


class Adam(Optimizer):
    """Adam: ``m += (g - m)(1 - β1)``, ``v += (g² - v)(1 - β2)``,
    ``x -= m α / (sqrt(v) + ε)`` with ``α = lr sqrt(1 - β2^t) / (1 - β1^t)``
    (ε is not bias-corrected); amsgrad uses the running maximum of v."""

    _slots_per_variable = ("momentum", "velocity")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def _build_more(self, var_list):
        if self.amsgrad:
            for v in var_list:
                self._slots[v._id]["velocity_hat"] = self.add_variable_from_reference(v, "velocity_hat")

    def _update(self, var, g, slots, lr, t):
        x = var._value
        dt = lr.dtype
        one = dt.type(1)
        alpha = lr * np.sqrt(one - _f32(self.beta_2, dt) ** t) / (one - _f32(self.beta_1, dt) ** t)
        m, v = slots["momentum"], slots["velocity"]
        new_m = m._value + (g.dense - m._value) * dt.type(1 - self.beta_1)
        new_v = v._value + (g.entrywise(np.square) - v._value) * dt.type(1 - self.beta_2)
        _store(m, new_m)
        _store(v, new_v)
        if self.amsgrad:
            vh = slots["velocity_hat"]
            new_v = np.maximum(vh._value, new_v)
            _store(vh, new_v)
        return x - (new_m * alpha) / (np.sqrt(new_v) + dt.type(self.epsilon))


class AdamW(Adam):
    """Adam with weight decay (decoupled, as every Keras 3 optimizer applies
    it) on by default: ``weight_decay=0.004`` and it must be a float."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-07,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")


class RMSprop(Optimizer):
    """``v = ρ v + (1 - ρ) g²``; centered: ``a = ρ a + (1 - ρ) g`` and the
    denominator ``v - a² + ε``, else ``v + ε`` (ε inside the square root);
    the step ``lr g / sqrt(denominator)``, accumulated with momentum if set."""

    _slots_per_variable = ("velocity",)

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-07, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def _build_more(self, var_list):
        if self.momentum > 0:
            for v in var_list:
                self._slots[v._id]["momentum"] = self.add_variable_from_reference(v, "momentum")
        if self.centered:
            for v in var_list:
                self._slots[v._id]["average_gradient"] = self.add_variable_from_reference(v, "average_gradient")

    def _update(self, var, g, slots, lr, t):
        x = var._value
        dt = lr.dtype
        rho, keep = dt.type(self.rho), dt.type(1 - self.rho)
        vel = slots["velocity"]
        new_v = vel._value * rho + g.entrywise(np.square) * keep
        _store(vel, new_v)
        G = g.dense
        if self.centered:
            avg = slots["average_gradient"]
            new_a = avg._value * rho + G * keep
            _store(avg, new_a)
            denominator = new_v - np.square(new_a) + dt.type(self.epsilon)
        else:
            denominator = new_v + dt.type(self.epsilon)
        increment = (G * lr) / np.sqrt(denominator)
        if self.momentum > 0:
            mo = slots["momentum"]
            new_mo = mo._value * dt.type(self.momentum) + increment
            _store(mo, new_mo)
            return x - new_mo
        return x - increment


class Adagrad(Optimizer):
    """``acc += g²`` (starting at initial_accumulator_value),
    ``x -= lr g / sqrt(acc + ε)``."""

    _slots_per_variable = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-07, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _slot_initial(self, slot):
        return self.initial_accumulator_value

    def _update(self, var, g, slots, lr, t):
        x = var._value
        dt = lr.dtype
        acc = slots["accumulator"]
        new_acc = acc._value + g.entrywise(np.square)
        _store(acc, new_acc)
        return x - (g.dense * lr) / np.sqrt(new_acc + dt.type(self.epsilon))


class Adadelta(Optimizer):
    """``E[g²] = ρ E[g²] + (1 - ρ) g²``,
    ``Δ = -sqrt(E[Δ²] + ε) g / sqrt(E[g²] + ε)``,
    ``E[Δ²] = ρ E[Δ²] + (1 - ρ) Δ²``, ``x += lr Δ``."""

    _slots_per_variable = ("accumulated_grad", "accumulated_delta_var")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-07, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def _update(self, var, g, slots, lr, t):
        x = var._value
        dt = lr.dtype
        rho, keep, eps = dt.type(self.rho), dt.type(1 - self.rho), dt.type(self.epsilon)
        eg, edx = slots["accumulated_grad"], slots["accumulated_delta_var"]
        new_eg = eg._value * rho + g.entrywise(np.square) * keep
        _store(eg, new_eg)
        delta = -np.sqrt(edx._value + eps) * g.dense / np.sqrt(new_eg + eps)
        _store(edx, edx._value * rho + (delta * delta) * keep)
        return x + lr * delta


class Adamax(Optimizer):
    """``m += (g - m)(1 - β1)``, ``u = max(β2 u, |g|)``,
    ``x -= lr m / ((1 - β1^t)(u + ε))``."""

    _slots_per_variable = ("momentum", "norm")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _update(self, var, g, slots, lr, t):
        x = var._value
        dt = lr.dtype
        m, u = slots["momentum"], slots["norm"]
        new_m = m._value + (g.dense - m._value) * dt.type(1 - self.beta_1)
        new_u = np.maximum(u._value * dt.type(self.beta_2), g.entrywise(np.abs))
        _store(m, new_m)
        _store(u, new_u)
        correction = dt.type(1) - _f32(self.beta_1, dt) ** t
        return x - (new_m * lr) / (correction * (new_u + dt.type(self.epsilon)))


class Nadam(Optimizer):
    """Adam with Nesterov momentum (Dozat): momentum schedule
    ``u_t = β1 (1 - 0.5 · 0.96^t)`` and its running product (one scalar per
    optimizer, advanced once per step, in the first variable's dtype)."""

    _slots_per_variable = ("momentum", "velocity")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _build_more(self, var_list):
        dt = np.result_type(var_list[0]._value) if var_list else np.dtype(np.float32)
        with name_scope(""):
            self._u_product = Variable(dt.type(1.0), trainable=False, name="variable")
        self._variables.append(self._u_product)

    def _before_updates(self, variables):
        up = self._u_product._value
        dt = np.result_type(up)
        t = dt.type(int(self._iterations._value) + 1)
        _store(self._u_product, up * dt.type(self.beta_1) * (dt.type(1) - dt.type(0.5) * dt.type(0.96) ** t))

    def _update(self, var, g, slots, lr, t):
        x = var._value
        dt = lr.dtype
        one, half = dt.type(1), dt.type(0.5)
        b1, b2, decay = _f32(self.beta_1, dt), _f32(self.beta_2, dt), _f32(0.96, dt)
        u_t = b1 * (one - half * decay ** t)
        u_next = b1 * (one - half * decay ** (t + one))
        prod = dt.type(self._u_product._value)
        prod_next = prod * u_next
        m, v = slots["momentum"], slots["velocity"]
        G = g.dense
        new_m = m._value + (G - m._value) * (one - b1)
        new_v = v._value + (g.entrywise(np.square) - v._value) * (one - b2)
        _store(m, new_m)
        _store(v, new_v)
        m_hat = (u_next * new_m) / (one - prod_next) + ((one - u_t) * G) / (one - prod)
        v_hat = new_v / (one - b2 ** t)
        return x - (m_hat * lr) / (np.sqrt(v_hat) + dt.type(self.epsilon))
