"""torch.nn.functional: activations, softmax, losses, linear."""
import numpy as np

from tapegrad import _graph
from tapegrad.ops.nn_ops import sparse_softmax_cross_entropy_with_logits as _tg_sparse_xent
from tapegrad.torch._tensor import captured, mean, sum
from tapegrad.torch._tensor import log_softmax as _log_softmax
from tapegrad.torch._tensor import softmax as _softmax
from tapegrad.torch._tensor import tensor as _tensor


def relu(input, inplace=False):  # noqa: A002 (PyTorch's argument name)
    return input.relu()


def sigmoid(input):  # noqa: A002
    return input.sigmoid()


def tanh(input):  # noqa: A002
    return input.tanh()


def _dim(input, dim):  # noqa: A002
    if dim is None:
        return 0 if input.dim() in (0, 1, 3) else 1
    return dim


def softmax(input, dim=None):  # noqa: A002
    return _softmax(input, _dim(input, dim))


def log_softmax(input, dim=None):  # noqa: A002
    return _log_softmax(input, _dim(input, dim))


def linear(input, weight, bias=None):  # noqa: A002
    out = input @ weight.t()
    return out if bias is None else out + bias


def mse_loss(input, target, reduction="mean"):  # noqa: A002
    out = _reduce((input - target) ** 2, reduction)
    if reduction != "none":
        _graph.set_node_name(out, "MseLossBackward0")
    return out


def _reduce(x, reduction):
    if reduction == "mean":
        return mean(x)
    if reduction == "sum":
        return sum(x)
    if reduction == "none":
        return x
    raise ValueError(f"{reduction} is not a valid value for reduction")


def cross_entropy(input, target, reduction="mean"):  # noqa: A002
    """Class indices as targets (int64), logits of shape (N, C) or (C,)."""
    if not isinstance(target, _graph.TensorBase):
        target = _tensor(target)
    if np.result_type(target._value).kind not in "iu":
        raise NotImplementedError("cross_entropy with class probabilities as targets is not supported by "
                                  "tapegrad.torch; pass class indices (int64)")
    labels = np.asarray(target._value).astype(np.int64)
    losses = captured(_tg_sparse_xent, (), {"labels": labels, "logits": input}, name="NllLossBackward0")
    out = _reduce(losses, reduction)
    if reduction != "none":
        _graph.set_node_name(out, "NllLossBackward0")
    return out


def nll_loss(input, target, reduction="mean"):  # noqa: A002
    labels = np.asarray(target._value).astype(np.int64)
    picked = input[np.arange(len(labels)), labels]
    return _reduce(-picked, reduction)

