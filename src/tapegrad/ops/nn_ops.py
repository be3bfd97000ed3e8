"""Neural-network ops: softmax family and losses, with TensorFlow's rules."""
import numpy as np

from tapegrad import _core
from tapegrad._core import apply, Tensor
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops._registry import general
from tapegrad.ops.array_ops import _shape_of, _ensure_tensor
from tapegrad.ops import math_ops
from tapegrad.ops.math_ops import relu, sigmoid, softplus  # noqa: F401 - tf.nn names


def _log_softmax_forward(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _softmax_forward(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


# TensorFlow's rules: log_softmax: g - sum(g) * softmax; softmax: (g - sum(g*y)) * y.
log_softmax_op = general("log_softmax", _log_softmax_forward,
                         (lambda g, ans, x, axis: g - np.sum(g, axis=axis, keepdims=True) * np.exp(ans),),
                         save="ans")
softmax_op = general("softmax", _softmax_forward,
                     (lambda g, ans, x, axis: (g - np.sum(g * ans, axis=axis, keepdims=True)) * ans,),
                     save="ans")


def log_softmax(logits, axis=None, name=None):
    return apply(log_softmax_op, (logits,), (-1 if axis is None else int(axis),))


def softmax(logits, axis=None, name=None):
    return apply(softmax_op, (logits,), (-1 if axis is None else int(axis),))


def _sparse_xent_forward(logits, labels):
    logp = _log_softmax_forward(logits, -1)
    return -np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]


def _sparse_xent_grad(g, ans, logits, labels):
    # d loss / d logits = softmax(logits) - onehot(labels), scaled per example.
    sm = softmax(logits) if isinstance(logits, Tensor) else _softmax_forward(logits, -1)
    onehot = np.eye(_shape_of(logits)[-1], dtype=np.result_type(logits._value if isinstance(logits, Tensor)
                                                                 else logits))[labels]
    return np.expand_dims(g, -1) * (sm - onehot)


sparse_xent_op = general("sparse_softmax_cross_entropy_with_logits", _sparse_xent_forward,
                         (_sparse_xent_grad,), save="x")


def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Per-example -log softmax(logits)[label]; labels are int class ids."""
    if labels is None or logits is None:
        raise ValueError("sparse_softmax_cross_entropy_with_logits needs both labels= and logits=")
    logits = _ensure_tensor(logits)
    lab = np.asarray(labels)
    if lab.dtype.kind not in "iu":
        raise InvalidArgumentError(f"labels must be integers, got dtype {lab.dtype}")
    ls = _shape_of(logits)
    if lab.shape != ls[:-1]:
        raise InvalidArgumentError(f"labels shape {list(lab.shape)} must equal logits shape {list(ls)} "
                                   f"without its last dimension")
    if lab.size and (lab.min() < 0 or lab.max() >= ls[-1]):
        raise InvalidArgumentError(f"Received a label value outside the valid range [0, {ls[-1]})")
    return apply(sparse_xent_op, (logits,), (lab,))


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """-sum(labels * log_softmax(logits)); composite, differentiable in both."""
    from tapegrad.ops.reduction_ops import reduce_sum
    return -reduce_sum(labels * log_softmax(logits, axis=axis), axis=axis)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """max(x, 0) - x * z + log(1 + exp(-|x|)), TensorFlow's stable form."""
    x = _ensure_tensor(logits)
    z = labels
    return math_ops.maximum(x, 0.0) - x * z + softplus(-math_ops.abs(x))


def l2_loss(t, name=None):
    from tapegrad.ops.reduction_ops import reduce_sum
    t = _ensure_tensor(t)
    return reduce_sum(t * t) / 2
