"""Neural-network ops: softmax family and losses, with TensorFlow's rules."""
import numpy as np

from tapegrad._core import Tensor, apply
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops import math_ops
from tapegrad.ops._docs import op_doc
from tapegrad.ops._registry import call, general, unary
from tapegrad.ops._shapes import as_tensor, ndim_of, neg_axis, shape_of
from tapegrad.ops.array_ops import squeeze
from tapegrad.ops.creation import uniform
from tapegrad.ops.math_ops import leaky_relu_grad, relu, relu6, sigmoid, softplus  # noqa: F401 - tf.nn names
from tapegrad.ops.reduction_ops import reduce_mean, reduce_sum


# Forwards run on raw arrays only: array methods skip np.max's dispatch layer.
def _log_softmax_forward(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _softmax_forward(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# TensorFlow's rules: log_softmax: g - sum(g) * softmax; softmax: (g - sum(g*y)) * y
# (softmax's Jacobian is symmetric, so its JVP is the same expression).
def _softmax_rule(g, ans, x, axis):
    return (g - np.sum(g * ans, axis=axis, keepdims=True)) * ans


log_softmax_op = general("log_softmax", _log_softmax_forward,
                         (lambda g, ans, x, axis: g - np.sum(g, axis=axis, keepdims=True) * np.exp(ans),),
                         save="ans",
                         jvps=(lambda t, ans, x, axis: t - np.sum(t * np.exp(ans), axis=axis, keepdims=True),))
softmax_op = general("softmax", _softmax_forward, (_softmax_rule,), save="ans", jvps=(_softmax_rule,))


def _float_logits(logits, op):
    t = as_tensor(logits)
    if t._value.dtype.kind != "f":     # a Tensor's value is an ndarray or a NumPy scalar
        raise InvalidArgumentError(f"{op}: logits must be a float tensor, got {t._value.dtype}")
    if t._value.ndim == 0:            # (the value's own ndim: ndim_of's frame is a share of an MLP step)
        raise InvalidArgumentError(f"{op}: logits must have rank >= 1")
    return t


@op_doc(
    summary="log(softmax(logits)) along an axis, computed stably: logits - logsumexp(logits).",
    tf="``tf.nn.log_softmax``",
    numpy="``x - scipy.special.logsumexp(x, axis, keepdims=True)``",
    returns="A Tensor of logits' shape.",
    args={"axis": ("int or None", "the class axis; None means -1 (the last).")},
    dtypes="float16, float32, float64.",
    derivative="d y_i / d x_j = delta_ij - softmax(x)_j along the axis.",
    raises="InvalidArgumentError: integer logits, or a scalar.",
    example="""
        >>> tg.nn.log_softmax([0.0, 0.0])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([-0.6931472, -0.6931472], dtype=float32)>
    """)
def log_softmax(logits, axis=None, name=None):
    t = _float_logits(logits, "log_softmax")
    return apply(log_softmax_op, (t,), (-1 if axis is None else neg_axis(axis, ndim_of(t), "log_softmax"),))


@op_doc(
    summary="exp(logits) / sum(exp(logits)) along an axis, computed stably (the maximum is subtracted first).",
    tf="``tf.nn.softmax``",
    numpy="``scipy.special.softmax``",
    returns="A Tensor of logits' shape whose entries along the axis sum to 1.",
    args={"axis": ("int or None", "the class axis; None means -1 (the last).")},
    dtypes="float16, float32, float64.",
    derivative="d y_i / d x_j = y_i (delta_ij - y_j) along the axis.",
    raises="InvalidArgumentError: integer logits, or a scalar.",
    example="""
        >>> tg.nn.softmax([1.0, 1.0, 1.0])
        <tapegrad.Tensor: shape=(3,), dtype=float32, numpy=array([0.33333334, 0.33333334, 0.33333334], dtype=float32)>
    """)
def softmax(logits, axis=None, name=None):
    t = _float_logits(logits, "softmax")
    return apply(softmax_op, (t,), (-1 if axis is None else neg_axis(axis, ndim_of(t), "softmax"),))


_ROWS = {}       # batch size -> np.arange(batch), read-only: the row index of each label (at most 16 kept)


def _rows(n):
    r = _ROWS.get(n)
    if r is None:
        if len(_ROWS) >= 16:
            _ROWS.clear()
        r = _ROWS[n] = np.arange(n)
        r.flags.writeable = False
    return r


# Native signed integer dtype -> its unsigned twin of the same size, and the
# most classes for which one maximum of that view tells both ends of the range:
# viewed unsigned, a negative label reads as at least 2**(bits-1), so with at
# most that many classes it is out of range as a label >= classes is (the
# check runs every step; int8 labels of 200 classes take the two reductions).
_UNSIGNED = {np.dtype(t): (np.dtype(t.upper()), 1 << (8 * np.dtype(t).itemsize - 1)) for t in "bhilq"}


def _label_out_of_range(lab, classes):
    u = _UNSIGNED.get(lab.dtype)
    if u is not None and classes <= u[1]:
        return np.maximum.reduce(lab.view(u[0]), None) >= classes
    return np.minimum.reduce(lab, None) < 0 or np.maximum.reduce(lab, None) >= classes


# Label dtypes whose flat index row * classes + label stays an intp in place.
_FLAT_LABELS = frozenset([np.dtype(np.intp), np.dtype(np.int32), np.dtype(np.int16), np.dtype(np.int8),
                          np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.uint32)])


class _SoftmaxParts:
    """The row softmax's parts that a 2-D forward computed, for the node's
    first-order gradient: the logits array the forward read (x), exp(logits -
    row max) (e), its row sums (s) and the label entries' flat index (flat,
or None).  The forward fills it; the rule uses it
    only when the logits it is given are that same array (``x is logits``), so
    a forward run again with other values (a batched replay) cannot mislead it.
    It sits in the node's params, so it is freed with them."""
    __slots__ = ("x", "e", "s", "flat")

    def __init__(self):
        self.x = None

    def __repr__(self):
        return "<softmax parts>"


def _sparse_xent_forward(logits, labels, parts=None):
    if logits.ndim == 2:
        # A batch of rows (an MLP's loss): only the label entries of log_softmax,
        # -(shifted - lse) computed as lse - shifted (the same bits, but +0.0 for
        # a loss of exactly 0, as TensorFlow's kernel gives), with the ufuncs'
        # own reductions (no np.max / ndarray.sum argument handling).
        shifted = logits - np.maximum.reduce(logits, -1, None, None, True)
        e = np.exp(shifted)
        s = np.add.reduce(e, -1, None, None, False)
        if labels.dtype in _FLAT_LABELS and shifted.flags.c_contiguous:
            # The label entries by their flat (C order) index, kept for the
            # gradient's decrement: a 1-d take costs less than a 2-d fancy index.
            rows = _ROWS.get(logits.shape[0])          # (_rows without its frame once cached)
            flat = (_rows(logits.shape[0]) if rows is None else rows) * logits.shape[1]
            flat += labels
            picked = shifted.ravel()[flat]
        else:
            flat = None
            picked = shifted[_rows(logits.shape[0]), labels]
        if parts is not None:
            parts.x, parts.e, parts.s, parts.flat = logits, e, s, flat
        return np.subtract(np.log(s), picked)
    logp = _log_softmax_forward(logits, -1)
    return -np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]


def _sparse_xent_grad(g, ans, logits, labels, parts=None):
    # d loss / d logits = softmax(logits) - onehot(labels), scaled per example.
    if (type(logits) is np.ndarray and type(g) is np.ndarray and logits.ndim == 2 and g.ndim == 1
            and g.dtype == logits.dtype):
        # First-order fast path (an MLP's loss): one softmax, the label entries
        # decremented in place, the per-example scaling into the same buffer
        # (a fresh array: g * d and d * g have the same bits).  The softmax's
        # exp and row sums come from the forward when it kept them for these
        # logits (the same ufuncs on the same array: the same bits).
        if parts is not None and parts.x is logits:
            d = np.divide(parts.e, parts.s[:, None])
            if parts.flat is not None and d.flags.c_contiguous:
                dv = d.ravel()                  # (a view: d is C-contiguous)
                dv[parts.flat] -= 1
                return np.multiply(d, g[:, None], out=d)
        else:
            e = np.exp(logits - np.maximum.reduce(logits, -1, None, None, True))
            d = np.divide(e, np.add.reduce(e, -1, None, None, True), out=e)
        d[_rows(d.shape[0]), labels] -= 1
        return np.multiply(d, g[:, None], out=d)
    sm = softmax(logits) if isinstance(logits, Tensor) else _softmax_forward(logits, -1)
    onehot = np.eye(shape_of(logits)[-1], dtype=np.result_type(logits._value if isinstance(logits, Tensor)
                                                                 else logits))[labels]
    return np.expand_dims(g, -1) * (sm - onehot)


def _sparse_xent_jvp(t, ans, logits, labels, parts=None):
    return np.sum(t * _sparse_xent_grad(1, ans, logits, labels), axis=-1)


sparse_xent_op = general("sparse_softmax_cross_entropy_with_logits", _sparse_xent_forward,
                         (_sparse_xent_grad,), save="x", jvps=(_sparse_xent_jvp,))


@op_doc(
    tf="``tf.nn.sparse_softmax_cross_entropy_with_logits``",
    numpy="has none",
    returns="A Tensor of labels' shape: each example's loss.",
    args={"labels": ("integer Tensor or array-like", "class ids in [0, classes), logits' shape without its last "
                                                     "axis."),
          "logits": ("Tensor, Variable or array-like", "float scores, classes on the last axis.")},
    dtypes="float16, float32, float64 logits; integer labels.",
    derivative="d/d logits = softmax(logits) - one_hot(labels), per example; none for labels.",
    raises="ValueError: labels or logits missing.\nInvalidArgumentError: non-integer labels, a shape mismatch, or a "
           "label out of range.",
    example="""
        >>> tg.nn.sparse_softmax_cross_entropy_with_logits(labels=[0], logits=[[0.0, 0.0]])
        <tapegrad.Tensor: shape=(1,), dtype=float32, numpy=array([0.6931472], dtype=float32)>
    """)
def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Per-example -log softmax(logits)[label]; labels are int class ids."""
    if labels is None or logits is None:
        raise ValueError("sparse_softmax_cross_entropy_with_logits needs both labels= and logits=")
    logits = _float_logits(logits, "sparse_softmax_cross_entropy_with_logits")
    # (a Tensor's value directly: integer labels carry no gradient to lose in a conversion)
    lab = np.asarray(labels._value if type(labels) is Tensor else labels)
    if lab.dtype.kind not in "iu":
        raise InvalidArgumentError(f"labels must be integers, got dtype {lab.dtype}")
    ls = logits._value.shape          # (a Tensor, from _float_logits)
    if lab.shape != ls[:-1]:
        raise InvalidArgumentError(f"labels shape {list(lab.shape)} must equal logits shape {list(ls)} "
                                   f"without its last dimension")
    if lab.size and _label_out_of_range(lab, ls[-1]):
        raise InvalidArgumentError(f"Received a label value outside the valid range [0, {ls[-1]})")
    return apply(sparse_xent_op, (logits,), (lab, _SoftmaxParts()))


def _same_shape(labels, logits, op):
    z, x = as_tensor(labels), as_tensor(logits)
    if shape_of(z) != shape_of(x):
        raise ValueError(f"{op}: logits and labels must have the same shape ({shape_of(x)} vs {shape_of(z)})")
    if np.result_type(z._value) != np.result_type(x._value):
        z = math_ops.cast(z, np.result_type(x._value))
    return z, x


@op_doc(
    tf="``tf.nn.softmax_cross_entropy_with_logits``",
    numpy="has none",
    returns="A Tensor: logits' shape without `axis`, each example's loss.",
    args={"labels": ("Tensor, Variable or array-like", "a probability distribution per example, logits' shape."),
          "axis": ("int", "the class axis.")},
    dtypes="float16, float32, float64.",
    derivative="d/d logits = softmax(logits) * sum(labels) - labels; d/d labels = -log_softmax(logits).",
    raises="ValueError: labels and logits of different shapes.",
    example="""
        >>> tg.nn.softmax_cross_entropy_with_logits(labels=[[1.0, 0.0]], logits=[[0.0, 0.0]])
        <tapegrad.Tensor: shape=(1,), dtype=float32, numpy=array([0.6931472], dtype=float32)>
    """)
def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """-sum(labels * log_softmax(logits)); composite, differentiable in both."""
    z, x = _same_shape(labels, logits, "softmax_cross_entropy_with_logits")
    return -reduce_sum(z * log_softmax(x, axis=axis), axis=axis)


@op_doc(
    tf="``tf.nn.sigmoid_cross_entropy_with_logits``",
    numpy="has none",
    returns="A Tensor of logits' shape: the elementwise loss.",
    args={"labels": ("Tensor, Variable or array-like", "targets in [0, 1], logits' shape."),
          "logits": ("Tensor, Variable or array-like", "the scores x.")},
    dtypes="float16, float32, float64.",
    derivative="d/d logits = sigmoid(x) - z; d/d labels = -x.",
    raises="ValueError: labels and logits of different shapes, or one of them missing.",
    example="""
        >>> tg.nn.sigmoid_cross_entropy_with_logits(labels=[1.0, 0.0], logits=[0.0, 0.0])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([0.6931472, 0.6931472], dtype=float32)>
    """)
def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """max(x, 0) - x * z + log(1 + exp(-|x|)), TensorFlow's stable form."""
    z, x = _same_shape(labels, logits, "sigmoid_cross_entropy_with_logits")
    # TensorFlow's arrangement: both branches switch on one condition, so at x == 0 the
    # gradient is sigmoid(0) - z (maximum's and abs's own choices at 0 would give 1 - z)
    positive = np.asarray(x._value) >= 0
    relu_logits = math_ops.where(positive, x, 0.0)
    neg_abs_logits = math_ops.where(positive, -x, x)
    return relu_logits - x * z + math_ops.log1p(math_ops.exp(neg_abs_logits))


@op_doc(
    tf="``tf.nn.l2_loss``",
    numpy="``numpy.sum(t ** 2) / 2``",
    returns="A scalar Tensor.",
    dtypes="floating and integer dtypes; only floating inputs get gradients.",
    derivative="d/dt = t",
    example="""
        >>> tg.nn.l2_loss([1.0, 2.0])
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=2.5>
    """)
def l2_loss(t, name=None):
    """sum(t ** 2) / 2."""
    t = as_tensor(t)
    return reduce_sum(t * t) / 2


# ---- activations -------------------------------------------------------------------------
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0))).astype(np.result_type(x, np.float16), copy=False)


def _selu(x):
    return (_SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0)))).astype(
        np.result_type(x), copy=False)


# TensorFlow's EluGrad/SeluGrad read the output.
elu = unary("elu", _elu, lambda g, ans, x: np.where(ans > 0, g, g * (ans + 1)), save="ans",
            doc="The exponential linear unit: x where x > 0, else exp(x) - 1.",
            numpy="numpy.where(x > 0, x, numpy.expm1(x))",
            grad="1 where x > 0, else exp(x)", at=-0.5, gives="-0.39346933 0.60653067", dtypes="float_complex")
selu = unary("selu", _selu, lambda g, ans, x: np.where(ans > 0, g * _SELU_SCALE, g * (ans + _SELU_SCALE * _SELU_ALPHA)),
             save="ans",
             doc="The scaled exponential linear unit: scale * x where x > 0, else scale * alpha * (exp(x) - 1), "
                 "with alpha = 1.6732632 and scale = 1.0507010 (self-normalising networks).",
             numpy="scale * numpy.where(x > 0, x, alpha * numpy.expm1(x))",
             grad="scale where x > 0, else scale * alpha * exp(x)", at=-0.5, gives="-0.6917582 1.0663412",
             dtypes="numeric")


def _leaky_relu_rule(g, ans, x, alpha):
    return call(leaky_relu_grad, g, x, params=(alpha,))


leaky_relu_op = general("leaky_relu", lambda x, alpha: np.where(x > 0, x, alpha * x).astype(np.result_type(x),
                                                                                            copy=False),
                        (_leaky_relu_rule,), save="x", jvps=(_leaky_relu_rule,))


@op_doc(
    summary="The leaky rectifier: features where features > 0, else alpha * features.",
    tf="``tf.nn.leaky_relu``",
    numpy="``numpy.where(x > 0, x, alpha * x)``",
    returns="A Tensor of features' shape.",
    args={"alpha": ("float", "the slope for negative inputs.")},
    dtypes="floating and integer dtypes; only floating inputs get gradients.",
    derivative="1 where features > 0, else alpha.",
    example="""
        >>> tg.nn.leaky_relu([-1.0, 2.0])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([-0.2,  2. ], dtype=float32)>
    """)
def leaky_relu(features, alpha=0.2, name=None):
    t = as_tensor(features)
    return apply(leaky_relu_op, (t,), (float(alpha),))


@op_doc(
    tf="``tf.nn.gelu``",
    numpy="has none",
    returns="A Tensor of features' shape.",
    args={"approximate": ("bool", "use the tanh approximation.")},
    dtypes="float16, float32, float64.",
    derivative="for the exact form Phi(x) + x phi(x) (Phi, phi: the standard normal CDF and density); the "
               "approximation differentiates its own formula.",
    example="""
        >>> tg.nn.gelu([-1.0, 0.0, 1.0]).numpy()
        array([-0.15865526,  0.        ,  0.8413447 ], dtype=float32)
    """)
def gelu(features, approximate=False, name=None):
    """0.5 x (1 + erf(x / sqrt 2)), or TensorFlow's tanh approximation;
    composite, like TensorFlow's."""
    x = as_tensor(features)
    if approximate:
        c = np.sqrt(2 / np.pi)
        return 0.5 * x * (1.0 + math_ops.tanh(c * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1.0 + math_ops.erf(x * (1 / np.sqrt(2))))


@op_doc(
    summary="The sigmoid linear unit (swish): features * sigmoid(beta * features).",
    tf="``tf.nn.silu`` (alias ``tf.nn.swish``)",
    numpy="``x / (1 + numpy.exp(-beta * x))``",
    returns="A Tensor of features' shape.",
    args={"beta": ("float", "the sigmoid's slope; a constant (no gradient).")},
    dtypes="float16, float32, float64.",
    derivative="s + beta x s (1 - s) with s = sigmoid(beta x).",
    example="""
        >>> tg.nn.silu([0.0, 1.0])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([0.       , 0.7310586], dtype=float32)>
    """)
def silu(features, beta=1.0, name=None):
    x = as_tensor(features)
    return x * sigmoid(beta * x)


swish = silu


@op_doc(
    summary="log(sigmoid(x)) = -softplus(-x), elementwise and stable.",
    tf="``tf.math.log_sigmoid``",
    numpy="``-numpy.logaddexp(0, -x)``",
    returns="A Tensor of x's shape.",
    dtypes="float16, float32, float64.",
    derivative="d/dx = sigmoid(-x) = 1 - sigmoid(x)",
    example="""
        >>> tg.math.log_sigmoid([0.0])
        <tapegrad.Tensor: shape=(1,), dtype=float32, numpy=array([-0.6931472], dtype=float32)>
    """)
def log_sigmoid(x, name=None):
    return -softplus(-as_tensor(x))


# ---- statistics and regularisation ------------------------------------------------------------

@op_doc(
    tf="``tf.nn.moments``",
    numpy="``(numpy.mean(x, axes), numpy.var(x, axes))``",
    returns="A tuple (mean, variance) of Tensors reduced over `axes`.",
    args={"axes": ("int or list of ints", "the axes to reduce."),
          "shift": ("ignored", "accepted for TensorFlow compatibility."),
          "keepdims": ("bool", "keep the reduced axes with length 1.")},
    dtypes="float16, float32, float64.",
    derivative="d mean / d x_i = 1 / n; d variance / d x_i = 2 (x_i - mean) / n.",
    example="""
        >>> mean, variance = tg.nn.moments(tg.constant([1.0, 2.0, 3.0, 4.0]), axes=[0])
        >>> float(mean), float(variance)
        (2.5, 1.25)
    """)
def moments(x, axes, shift=None, keepdims=False, name=None):
    """(mean, variance) over `axes`.  TensorFlow stops the gradient through
    the mean inside the variance: the same first derivative (the deviations
    sum to zero) but a wrong second one; tapegrad keeps the mean connected."""
    x = as_tensor(x)
    mean = reduce_mean(x, axis=axes, keepdims=True)
    variance = reduce_mean(math_ops.square(x - mean), axis=axes, keepdims=True)
    if not keepdims:
        axes = [axes] if isinstance(axes, int) else list(axes)
        mean, variance = squeeze(mean, axes), squeeze(variance, axes)
    return mean, variance


@op_doc(
    tf="``tf.nn.dropout``",
    numpy="has none",
    returns="A Tensor of x's shape.",
    args={"rate": ("float in [0, 1)", "the probability of dropping each entry."),
          "noise_shape": ("list of ints or None", "the mask's shape, broadcast against x (share a mask along axes of "
                                                  "length 1).")},
    dtypes="float16, float32, float64.",
    derivative="d/dx = mask / (1 - rate): 0 for dropped entries, 1 / (1 - rate) for kept ones.",
    raises="ValueError: a rate outside [0, 1), or a non-floating x.",
    example="""
        >>> y = tg.nn.dropout(tg.ones(1000), rate=0.5, seed=1)
        >>> sorted(set(y.numpy().tolist()))
        [0.0, 2.0]
    """)
def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Zero each entry with probability `rate` and scale the rest by
    1 / (1 - rate); the mask is a constant (seeded like tapegrad.random)."""
    x = as_tensor(x)
    if np.result_type(x._value).kind != "f":
        raise ValueError(f"dropout: x must be a floating point tensor, got {np.result_type(x._value)}")
    rate = float(rate)
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be a scalar in [0, 1), got {rate}")
    if rate == 0:
        return x
    shape = shape_of(x) if noise_shape is None else tuple(int(d) for d in noise_shape)
    keep = np.asarray(uniform(shape, seed=seed, dtype=np.result_type(x._value))) >= rate
    return x * (keep.astype(np.result_type(x._value)) * (1 / (1 - rate)))
