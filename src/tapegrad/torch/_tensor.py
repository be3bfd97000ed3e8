"""PyTorch's Tensor over tapegrad's engine: the graph belongs to the tensors.

Fields and the hot operators live in the compiled `tapegrad._graph.TensorBase`;
this module adds PyTorch's names, dtype rules, errors and reprs.  Every
differentiable operation is a registered tapegrad op: elementwise math calls the
op directly (`_graph.unary` / `_graph.binary`), everything else runs the op
library's public function under `_graph.call_captured`, which turns the ops
it applies into nodes.
"""
import copy
import warnings

import numpy as np

from tapegrad import _graph
from tapegrad._core import apply
from tapegrad.ops import OPS
from tapegrad.ops.array_ops import broadcast_to as _tg_broadcast_to
from tapegrad.ops.array_ops import concat as _tg_concat
from tapegrad.ops.array_ops import expand_dims as _tg_expand_dims
from tapegrad.ops.array_ops import getitem as _tg_getitem
from tapegrad.ops.array_ops import index_params
from tapegrad.ops.array_ops import reshape as _tg_reshape
from tapegrad.ops.array_ops import squeeze as _tg_squeeze
from tapegrad.ops.array_ops import stack as _tg_stack
from tapegrad.ops.array_ops import transpose as _tg_transpose
from tapegrad.ops.linalg_ops import matmul_numpy as _tg_matmul
from tapegrad.ops.linalg_ops import norm as _tg_norm
from tapegrad.ops.math_ops import cast as _tg_cast
from tapegrad.ops.math_ops import clip_by_value as _tg_clip
from tapegrad.ops.math_ops import where as _tg_where
from tapegrad.ops.nn_ops import log_softmax as _tg_log_softmax
from tapegrad.ops.nn_ops import softmax as _tg_softmax
from tapegrad.ops.reduction_ops import reduce_max as _tg_reduce_max
from tapegrad.ops.reduction_ops import reduce_mean as _tg_reduce_mean
from tapegrad.ops.reduction_ops import reduce_min as _tg_reduce_min
from tapegrad.ops.reduction_ops import reduce_prod as _tg_reduce_prod
from tapegrad.ops.reduction_ops import reduce_sum as _tg_reduce_sum
from tapegrad.torch import _views
from tapegrad.torch._format import tensor_repr

# ---------------------------------------------------------------- dtypes


class dtype:
    """A PyTorch dtype object (``torch.float32``); aliases are the same object."""
    __slots__ = ("name", "np", "is_floating_point", "is_complex", "itemsize", "_legacy")

    def __init__(self, name, np_dtype, legacy):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.is_complex = self.np.kind == "c"
        self.itemsize = self.np.itemsize
        self._legacy = legacy

    def __repr__(self):
        return f"torch.{self.name}"

    def __reduce__(self):
        return self.name


float16 = dtype("float16", np.float16, "Half")
float32 = dtype("float32", np.float32, "Float")
float64 = dtype("float64", np.float64, "Double")
int8 = dtype("int8", np.int8, "Char")
uint8 = dtype("uint8", np.uint8, "Byte")
int16 = dtype("int16", np.int16, "Short")
int32 = dtype("int32", np.int32, "Int")
int64 = dtype("int64", np.int64, "Long")
bool_ = dtype("bool", np.bool_, "Bool")
complex64 = dtype("complex64", np.complex64, "ComplexFloat")
complex128 = dtype("complex128", np.complex128, "ComplexDouble")
_BY_NUMPY = {d.np: d for d in (float16, float32, float64, int8, uint8, int16, int32, int64, bool_, complex64,
                               complex128)}
_default_float = [float32]


def get_default_dtype():
    return _default_float[0]


def set_default_dtype(d):
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _default_float[0] = d


def torch_dtype(np_dtype):
    return _BY_NUMPY[np.dtype(np_dtype)]


def numpy_dtype(d):
    if d is None:
        return None
    if isinstance(d, dtype):
        return d.np
    if d is float:
        return _default_float[0].np
    if d is int:
        return np.dtype(np.int64)
    if d is bool:
        return np.dtype(np.bool_)
    return np.dtype(d)


class Size(tuple):
    """torch.Size: a tuple that prints as ``torch.Size([2, 3])``."""

    def __repr__(self):
        return f"torch.Size({list(self)})"

    __str__ = __repr__

    def numel(self):
        return int(np.prod(self, dtype=np.int64))


# ---------------------------------------------------------------- type promotion

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _category(dt):
    return _CATEGORY[dt.kind]


def _scalar_dtype(x):
    """The dtype a Python or NumPy scalar stands for (its category's default)."""
    if isinstance(x, (bool, np.bool_)):
        return np.dtype(np.bool_)
    if isinstance(x, (int, np.integer)):
        return np.dtype(np.int64)
    if isinstance(x, (float, np.floating)):
        return _default_float[0].np
    if isinstance(x, (complex, np.complexfloating)):
        return np.dtype(np.complex64) if _default_float[0] is float32 else np.dtype(np.complex128)
    raise TypeError(f"unsupported operand type: {type(x).__name__}")


def result_type(*operands):
    """PyTorch's promotion: tensors with dimensions decide within a category;
    0-d tensors and then Python numbers only lift the category (a Python
    float next to an int tensor gives the default float dtype)."""
    dims, zeros, scalars = [], [], []
    for x in operands:
        if isinstance(x, _graph.TensorBase):
            dt = np.result_type(x._value)
            (dims if np.ndim(x._value) else zeros).append(dt)
        else:
            scalars.append(_scalar_dtype(x))
    out = None
    for group in (dims, zeros, scalars):
        if not group:
            continue
        g = group[0]
        for d in group[1:]:
            g = np.promote_types(g, d) if _category(d) == _category(g) else (d if _category(d) > _category(g) else g)
        if out is None:
            out = g
        elif _category(g) > _category(out):
            out = g if group is not scalars else _scalar_dtype({0: False, 1: 0, 2: 0.0, 3: 0j}[_category(g)])
            if group is scalars and _category(out) == 3 and out == np.complex64 and np.dtype(g) == np.complex128:
                out = g
    return out


def _promote(op, a, b):
    """(a, b) converted so that the compiled fast path applies: tensors of one
    dtype, or a float tensor next to a Python float."""
    if not isinstance(a, _graph.TensorBase) and not _is_number(a):
        a = tensor(a) if not isinstance(a, np.ndarray) else from_numpy(np.array(a))
    if not isinstance(b, _graph.TensorBase) and not _is_number(b):
        b = tensor(b) if not isinstance(b, np.ndarray) else from_numpy(np.array(b))
    dt = result_type(a, b)
    if op.name == "truediv" and dt.kind in "biu":
        dt = _default_float[0].np
    return _convert(a, dt), _convert(b, dt)


def _is_number(x):
    return isinstance(x, (int, float, complex, np.number, np.bool_))


def _convert(x, dt):
    if isinstance(x, _graph.TensorBase):
        return x if np.result_type(x._value) == dt else x.to(torch_dtype(dt))
    if dt.kind == "f" and isinstance(x, (int, float, np.number, np.bool_)) and not isinstance(x, complex):
        return float(x)
    return _graph.new_tensor(np.asarray(x, dtype=dt))


_graph.install_promotion(_promote)


# ---------------------------------------------------------------- grad_fn names

GRAD_FN_NAMES = {
    "add": "AddBackward0", "subtract": "SubBackward0", "multiply": "MulBackward0", "truediv": "DivBackward0",
    "pow": "PowBackward0", "negative": "NegBackward0", "exp": "ExpBackward0", "log": "LogBackward0",
    "sin": "SinBackward0", "cos": "CosBackward0", "tan": "TanBackward0", "tanh": "TanhBackward0",
    "sigmoid": "SigmoidBackward0", "relu": "ReluBackward0", "sqrt": "SqrtBackward0", "abs": "AbsBackward0",
    "square": "PowBackward0", "reshape": "ViewBackward0", "transpose": "PermuteBackward0",
    "reduce_sum": "SumBackward1", "reduce_mean": "MeanBackward1", "reduce_prod": "ProdBackward0",
    "reduce_max": "MaxBackward1", "reduce_min": "MinBackward1", "matmul": "MmBackward0",
    "getitem": "IndexBackward0", "concat": "CatBackward0", "softmax": "SoftmaxBackward0",
    "log_softmax": "LogSoftmaxBackward0", "sparse_softmax_cross_entropy_with_logits": "NllLossBackward0",
    "cast": "ToCopyBackward0", "identity": "CloneBackward0", "maximum": "MaximumBackward0",
    "minimum": "MinimumBackward0", "where": "WhereBackward0", "clip_by_value": "ClampBackward1",
    "broadcast_to": "ExpandBackward0", "log1p": "Log1PBackward0", "expm1": "Expm1Backward0",
    "reciprocal": "ReciprocalBackward0", "sign": "SignBackward0", "softplus": "SoftplusBackward0",
    "mod": "RemainderBackward0",
}

_FLOAT_ONLY = {"exp", "log", "sin", "cos", "tan", "tanh", "sigmoid", "sqrt", "log1p", "expm1", "reciprocal",
               "softplus", "asin", "acos", "atan", "sinh", "cosh", "rsqrt", "erf"}


def _unary(name, x):
    op = OPS[name]
    if name in _FLOAT_ONLY and np.result_type(x._value).kind in "biu":
        x = x.to(get_default_dtype())
    return _graph.unary(op, x)


def captured(f, args, kwargs=None, name=None):
    return _graph.call_captured(f, args, kwargs or {}, name)


def _dims(dim, nd):
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    for d in dims:
        if not -max(nd, 1) <= d < max(nd, 1):
            raise IndexError(f"Dimension out of range (expected to be in range of [{-max(nd, 1)}, "
                             f"{max(nd, 1) - 1}], but got {d})")
    return dims


def _shape_args(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


# ---------------------------------------------------------------- the Tensor class

_NOT_LEAF_GRAD = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute won't be "
    "populated during autograd.backward(). If you indeed want the .grad field to be populated for a non-leaf "
    "Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure "
    "you access the leaf Tensor instead. See github.com/pytorch/pytorch/pull/30531 for more information.")
_LEAF_FLAG = ("you can only change requires_grad flags of leaf variables. If you want to use a computed variable "
              "in a subgraph that doesn't require differentiation use var_no_grad = var.detach().")
_FLOAT_REQUIRES_GRAD = ("Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior.\n"
                        "Consider using tensor.detach() first.")
_float_warned = False


def _warn_float_once():
    """float() of a tensor that requires grad warns once per process, as in
    PyTorch (item(), int() and bool() do not warn)."""
    global _float_warned
    _float_warned = True
    warnings.warn(_FLOAT_REQUIRES_GRAD, UserWarning, stacklevel=3)


class Tensor(_graph.TensorBase):
    """A PyTorch-style tensor: a NumPy value, and for a result of recorded ops
    the node (`grad_fn`) that produced it."""

    __slots__ = ()                 # no __dict__: tensors stay out of the cyclic GC
    __hash__ = object.__hash__

    # ---- identity, dtype, shape
    @property
    def dtype(self):
        return torch_dtype(np.result_type(self._value))

    @property
    def shape(self):
        return Size(np.shape(self._value))

    def size(self, dim=None):
        s = np.shape(self._value)
        if dim is None:
            return Size(s)
        return s[_dims(dim, len(s))[0]]

    def dim(self):
        return np.ndim(self._value)

    @property
    def ndim(self):
        return np.ndim(self._value)

    def numel(self):
        return int(np.size(self._value))

    nelement = numel

    def __len__(self):
        if np.ndim(self._value) == 0:
            raise TypeError("len() of a 0-d tensor")
        return np.shape(self._value)[0]

    def __iter__(self):
        if np.ndim(self._value) == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self)))

    @property
    def device(self):
        return "cpu"

    def is_floating_point(self):
        return np.result_type(self._value).kind == "f"

    # ---- repr
    def __repr__(self):
        return tensor_repr(self._value, self.dtype.name, get_default_dtype().name, self._requires_grad,
                           None if self._node is None else self._node.name())

    __str__ = __repr__

    def __format__(self, spec):
        if np.ndim(self._value) == 0 and spec:
            return format(self.item(), spec)
        return repr(self)

    # ---- autograd flags
    @property
    def requires_grad(self):
        return self._requires_grad or self._node is not None

    @requires_grad.setter
    def requires_grad(self, flag):
        self._set_requires_grad(flag, "only Tensors of floating point and complex dtype can require gradients")

    def _set_requires_grad(self, flag, message):
        if self._node is not None:
            if not flag:
                raise RuntimeError(_LEAF_FLAG)
            return
        if flag and np.result_type(self._value).kind not in "fc":
            raise RuntimeError(message)
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad=True):
        self._set_requires_grad(requires_grad, "only Tensors of floating point dtype can require gradients")
        return self

    @property
    def grad(self):
        if self._node is not None and not self._retains_grad and self._grad is None:
            warnings.warn(_NOT_LEAF_GRAD, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is None:
            self._grad = None
            return
        if not isinstance(value, _graph.TensorBase):
            raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                            f"{type(value).__name__}")
        if np.shape(value._value) != np.shape(self._value):
            raise RuntimeError(f"attempting to assign a gradient of size '{list(np.shape(value._value))}' to a "
                               f"tensor of size '{list(np.shape(self._value))}'. Please ensure that the gradient "
                               f"and the tensor are the same size")
        if value.dtype is not self.dtype:
            raise RuntimeError(
                f"attempting to assign a gradient with dtype '{_c_name(value.dtype)}' to a tensor with grad_dtype "
                f"'{self.dtype._legacy}'. The gradient must match the tensor's grad_dtype (defaults to the "
                "tensor's dtype). You can set the tensor's grad_dtype attribute with a specific dtype, or None to "
                "allow any dtype. Set grad_dtype with caution. Diverging the dtypes of a tensor and its gradient "
                "may break downstream systems that assume they match.")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def retains_grad(self):
        return self._retains_grad

    def retain_grad(self):
        if self._node is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if not self._retains_grad:
            _graph.retain_grad(self)

    def register_hook(self, hook):
        """hook(grad) runs when the gradient of this tensor is computed; a
        tensor it returns replaces the gradient.  Returns a handle whose
        ``remove()`` unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        return _graph.register_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """hook(tensor) runs after backward() has accumulated into this leaf's .grad."""
        if self._node is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        return _graph.register_hook(self, hook, True)

    def detach(self):
        t = self._sharing_memory()
        t._is_view = True
        return t

    def _sharing_memory(self):
        """A new leaf on this tensor's memory and version counter, requiring no grad."""
        self._guard_saved_output()              # the memory is shared from now on
        v = _views.writable_memory(self) if type(self._value) is not np.ndarray else self._value
        t = _graph.new_tensor(v)
        t._value = v                            # a 0-d array stays one: it is shared memory
        t._share_version(self)
        return t

    # ---- copies, as PyTorch's: copy.copy is a leaf on the same memory with requires_grad kept
    # (the version counter shared too, so an in-place change through it is caught by a backward
    # that saved the original); copy.deepcopy copies a leaf's value and .grad and refuses a
    # non-leaf; pickling keeps value, dtype and requires_grad, a non-leaf coming back as a leaf.
    def __copy__(self):
        t = self._sharing_memory()
        t._requires_grad = self.requires_grad        # a non-leaf's comes from its grad_fn
        return t

    def __deepcopy__(self, memo):
        if self._node is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol at the "
                "moment.  If you were attempting to deepcopy a module, this may be because of a "
                "torch.nn.utils.weight_norm usage, see https://github.com/pytorch/pytorch/pull/103001")
        t = _leaf_from_pickle(np.array(self._value), self._requires_grad)
        t._grad = copy.deepcopy(self._grad, memo)
        return t

    def __reduce_ex__(self, protocol):
        return (_leaf_from_pickle, (np.array(self._value), self.requires_grad))

    @property
    def _base(self):
        return _views.base_of(self)

    def detach_(self):
        if self._is_view and self._node is not None:
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. If you are using DistributedDataParallel (DDP) "
                "for training, and gradient_as_bucket_view is set as True, gradients are views of DDP buckets, and "
                "hence detach_() cannot be called on these gradients. To fix this error, please refer to the "
                "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution.")
        self._node = None
        self._requires_grad = False
        return self

    def clone(self):
        out = captured(_clone_raw, (self,), name="CloneBackward0")
        return out

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        backward([self], None if gradient is None else [gradient], retain_graph, create_graph, inputs=inputs)

    # ---- conversions
    def item(self):
        if np.size(self._value) != 1:
            raise RuntimeError(f"a Tensor with {np.size(self._value)} elements cannot be converted to Scalar")
        return np.asarray(self._value).reshape(()).item()

    def tolist(self):
        return np.asarray(self._value).tolist()

    def numpy(self, force=False):
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        v = self._value
        if type(v) is not np.ndarray:
            v = np.asarray(v).copy()
            self._value = v
        return v

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        if dtype is not None and np.dtype(dtype) != a.dtype:
            return a.astype(dtype)
        return np.array(a, copy=True) if copy else a

    def _scalar(self, kind):
        if np.size(self._value) != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return kind(np.asarray(self._value).reshape(()).item())

    def __float__(self):
        v = self._scalar(float)
        if self.requires_grad and not _float_warned:
            _warn_float_once()
        return v

    def __int__(self):
        return self._scalar(int)

    def __index__(self):
        if np.result_type(self._value).kind not in "iu" or np.ndim(self._value) != 0:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._value)

    def __bool__(self):
        if np.size(self._value) != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(np.asarray(self._value).reshape(()))

    def to(self, *args, **kwargs):
        d = kwargs.get("dtype")
        for a in args:
            if isinstance(a, dtype):
                d = a
        if d is None or d is self.dtype:
            return self
        if not d.is_floating_point and not d.is_complex:
            return _graph.new_tensor(np.asarray(self._value).astype(d.np))
        return captured(_tg_cast, (self, d.np), name="ToCopyBackward0")

    def type(self, d=None):
        if d is None:
            return f"torch.{self.dtype._legacy}Tensor"
        return self.to(d)

    def float(self):
        return self.to(float32)

    def double(self):
        return self.to(float64)

    def long(self):
        return self.to(int64)

    def int(self):
        return self.to(int32)

    def bool(self):
        return self.to(bool_)

    def cpu(self):
        return self

    def contiguous(self):
        return self

    # ---- operators not in the compiled base
    def __truediv__(self, other):
        if np.result_type(self._value).kind in "biu":
            return self.to(get_default_dtype()) / other
        return _graph.binary(OPS["truediv"], self, other, None)

    def __rtruediv__(self, other):
        if np.result_type(self._value).kind in "biu":
            return other / self.to(get_default_dtype())
        return _graph.binary(OPS["truediv"], other, self, "MulBackward0")

    def __pow__(self, other):
        return _graph.binary(OPS["pow"], self, other,
                             "PowBackward1" if isinstance(other, _graph.TensorBase) else "PowBackward0")

    def __rpow__(self, other):
        return _graph.binary(OPS["pow"], other, self, "PowBackward2")

    def __mod__(self, other):
        return _graph.binary(OPS["mod"], self, other, None)

    def __rmod__(self, other):
        return _graph.binary(OPS["mod"], other, self, None)

    remainder = __mod__

    def __floordiv__(self, other):
        return _floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _floor_divide(other, self)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def __abs__(self):
        return self.abs()

    def __pos__(self):
        return self

    def __eq__(self, other):
        return _graph.binary(OPS["equal"], self, other, None)

    def __ne__(self, other):
        return _graph.binary(OPS["not_equal"], self, other, None)

    def __lt__(self, other):
        return _graph.binary(OPS["less"], self, other, None)

    def __le__(self, other):
        return _graph.binary(OPS["less_equal"], self, other, None)

    def __gt__(self, other):
        return _graph.binary(OPS["greater"], self, other, None)

    def __ge__(self, other):
        return _graph.binary(OPS["greater_equal"], self, other, None)

    def __invert__(self):
        return _graph.unary(OPS["logical_not"], self)

    def __and__(self, other):
        return _graph.binary(OPS["logical_and"], self, other, None)

    def __or__(self, other):
        return _graph.binary(OPS["logical_or"], self, other, None)

    # ---- indexing
    def __getitem__(self, key):
        key = _index_key(key)
        name = _index_name(key)
        if not _is_basic_key(key):
            return captured(_tg_getitem, (self, key), name=name)
        keys = key if isinstance(key, tuple) else (key,)
        return _views.make_view(self, lambda t: captured(_tg_getitem, (t, key), name=name),
                                lambda a: a[keys + (Ellipsis,)] if Ellipsis not in keys else a[keys])

    def __setitem__(self, key, value):
        _inplace_check(self, view=True)
        key = _index_key(key)
        if isinstance(value, _graph.TensorBase):
            v = value._value
            needs = value.requires_grad
        else:
            v = value
            needs = False
        if needs or self._node is not None:
            # Differentiable: self becomes where(mask, value scattered to self's shape, self).
            shape = np.shape(self._value)
            mask = np.zeros(shape, dtype=bool)
            mask[key] = True
            src = value if isinstance(value, _graph.TensorBase) else tensor(v, dtype=self.dtype)
            src = src.to(self.dtype).expand(*np.shape(mask[key]))
            spread = captured(_apply, (OPS["scatter_into_zeros"], src, index_params(key, shape)))
            _views.commit(self, where(_graph.new_tensor(mask), spread, _views.snapshot(self)), "CopySlices")
            return
        arr = _views.writable_memory(self)
        arr[key] = np.asarray(v, dtype=arr.dtype) if not isinstance(v, np.ndarray) else v
        self._bump_version()

    # ---- in-place arithmetic
    def _inplace(self, op_name, other, name):
        _inplace_check(self)
        op = OPS[op_name]
        if not (_graph.is_grad_enabled() and (self.requires_grad or getattr(other, "requires_grad", False))):
            out = _graph.binary(op, self, other, None)
            _check_inplace_dtype(self, out)
            _views.writable_memory(self)[...] = out._value   # in the storage: views and NumPy arrays see it
            self._bump_version()
            return self
        out = _graph.binary(op, _views.snapshot(self), other, name)
        _check_inplace_dtype(self, out)
        _views.commit(self, out, None)
        return self

    def add_(self, other, alpha=1):
        return self._inplace("add", other if alpha == 1 else other * alpha, "AddBackward0")

    def sub_(self, other, alpha=1):
        return self._inplace("subtract", other if alpha == 1 else other * alpha, "SubBackward0")

    def mul_(self, other):
        return self._inplace("multiply", other, "MulBackward0")

    def div_(self, other):
        return self._inplace("truediv", other, "DivBackward0")

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def zero_(self):
        _inplace_check(self)
        if self._node is not None and _graph.is_grad_enabled():
            _views.commit(self, _views.snapshot(self) * 0.0, "ZeroBackward0")
            return self
        _views.writable_memory(self)[...] = 0
        self._bump_version()
        return self

    def fill_(self, value):
        _inplace_check(self)
        if self._node is not None and _graph.is_grad_enabled():
            _views.commit(self, _views.snapshot(self) * 0.0 + float(value), "FillBackward0")
            return self
        _views.writable_memory(self)[...] = value
        self._bump_version()
        return self

    def copy_(self, src):
        _inplace_check(self)
        v = src._value if isinstance(src, _graph.TensorBase) else src
        _views.writable_memory(self)[...] = v
        self._bump_version()
        return self

    # ---- math methods
    def neg(self):
        return -self

    def square(self):
        return self ** 2

    def pow(self, exponent):
        return self ** exponent

    def log1p(self):
        return _unary("log1p", self)

    def expm1(self):
        return _unary("expm1", self)

    def reciprocal(self):
        return _unary("reciprocal", self)

    def sign(self):
        return _graph.unary(OPS["sign"], self)

    def add(self, other, alpha=1):
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other, alpha=1):
        return self - (other if alpha == 1 else other * alpha)

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def clamp(self, min=None, max=None):  # noqa: A002 (PyTorch's argument names)
        return clamp(self, min, max)

    clip = clamp

    def maximum(self, other):
        return maximum(self, other)

    def minimum(self, other):
        return minimum(self, other)

    # ---- reductions
    def sum(self, dim=None, keepdim=False, dtype=None):
        return sum(self, dim, keepdim, dtype=dtype)

    def mean(self, dim=None, keepdim=False):
        return mean(self, dim, keepdim)

    def prod(self, dim=None, keepdim=False):
        return captured(_tg_reduce_prod, (self,), {"axis": dim, "keepdims": keepdim}, name="ProdBackward0")

    def norm(self, p="fro", dim=None, keepdim=False):
        return norm(self, p, dim, keepdim)

    def max(self, dim=None, keepdim=False):
        return _extremum(self, dim, keepdim, "max")

    def min(self, dim=None, keepdim=False):
        return _extremum(self, dim, keepdim, "min")

    def amax(self, dim=None, keepdim=False):
        return captured(_tg_reduce_max, (self,), {"axis": dim, "keepdims": keepdim}, name="AmaxBackward0")

    def argmax(self, dim=None, keepdim=False):
        return _graph.new_tensor(np.asarray(np.argmax(self._value, axis=dim, keepdims=keepdim), dtype=np.int64))

    def argmin(self, dim=None, keepdim=False):
        return _graph.new_tensor(np.asarray(np.argmin(self._value, axis=dim, keepdims=keepdim), dtype=np.int64))

    def softmax(self, dim):
        return softmax(self, dim)

    def log_softmax(self, dim):
        return log_softmax(self, dim)

    # ---- linear algebra
    def dot(self, other):
        return dot(self, other)

    def matmul(self, other):
        return matmul(self, other)

    def mm(self, other):
        return mm(self, other)

    def mv(self, other):
        return mv(self, other)

    # ---- shapes
    def reshape(self, *shape):
        return self._reshaped(_shape_args(shape), False)

    def view(self, *shape):
        return self._reshaped(_shape_args(shape), True)

    def _reshaped(self, shape, strict):
        return _views.make_view(self, lambda t: captured(_tg_reshape, (t, shape), name="ViewBackward0"),
                                lambda a: a.reshape(shape), strict)

    def view_as(self, other):
        return self.reshape(*other.shape)

    def flatten(self):
        return self.reshape(-1)

    def t(self):
        if self.dim() > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.dim()}D")
        if self.dim() < 2:
            return self
        return _views.make_view(self, lambda t: captured(_tg_transpose, (t,), name="TBackward0"), np.transpose)

    @property
    def T(self):
        return self.permute(*reversed(range(self.dim())))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def permute(self, *dims):
        dims = _shape_args(dims)
        return _views.make_view(self, lambda t: captured(_tg_transpose, (t, dims), name="PermuteBackward0"),
                                lambda a: np.transpose(a, dims))

    def transpose(self, dim0, dim1):
        perm = list(range(self.dim()))
        d0, d1 = _dims((dim0, dim1), self.dim())
        perm[d0], perm[d1] = perm[d1], perm[d0]
        return _views.make_view(self, lambda t: captured(_tg_transpose, (t, perm), name="TransposeBackward0"),
                                lambda a: np.transpose(a, perm))

    def unsqueeze(self, dim):
        nd = self.dim() + 1
        axis = _dims(dim, nd)[0] % nd
        return _views.make_view(self, lambda t: captured(_tg_expand_dims, (t, dim), name="UnsqueezeBackward0"),
                                lambda a: np.expand_dims(a, axis))

    def squeeze(self, dim=None):
        if dim is not None and np.shape(self._value)[dim] != 1:
            return self
        return _views.make_view(
            self, lambda t: captured(_tg_squeeze, (t, dim), name="SqueezeBackward0" if dim is None else
                                     "SqueezeBackward1"),
            lambda a: np.squeeze(a, axis=dim))

    def expand(self, *sizes):
        sizes = _shape_args(sizes)
        shape = np.shape(self._value)
        lead = len(sizes) - len(shape)
        target = tuple(shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
        return _views.make_view(self, lambda t: captured(_tg_broadcast_to, (t, target), name="ExpandBackward0"),
                                lambda a: _expanded(a, target))

    def expand_as(self, other):
        return self.expand(*other.shape)

    def zero_grad_(self):
        self._grad = None


def _floor_divide(a, b):
    """a // b.  PyTorch has no derivative for it: with an operand that requires
    grad, it raises here (PyTorch raises at backward) rather than give one."""
    if _graph.is_grad_enabled() and any(isinstance(x, _graph.TensorBase) and x.requires_grad for x in (a, b)):
        raise RuntimeError("derivative for aten::floor_divide is not implemented")
    return _graph.binary(OPS["floordiv"], a, b, None)


def _c_name(d):
    return {"float64": "double", "float32": "float", "float16": "c10::Half", "int64": "long int"}.get(d.name, d.name)


def _clone_raw(x):
    return OPS["identity"](x)


def _apply(op, x, params):
    return apply(op, (x,), params)


def _index_key(key):
    if isinstance(key, _graph.TensorBase):
        return np.asarray(key._value)
    if isinstance(key, tuple):
        return tuple(np.asarray(k._value) if isinstance(k, _graph.TensorBase) else k for k in key)
    if isinstance(key, list):
        return np.asarray(key)
    return key


def _is_basic_key(key):
    """Whether x[key] is a view in PyTorch: integers, slices, None and ...."""
    keys = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, slice) or
               (isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))) for k in keys)


def _expanded(a, shape):
    """np.broadcast_to's view of a, writable where a is (in-place ops on it
    raise PyTorch's error when elements share memory)."""
    b = np.broadcast_to(a, shape)
    return np.lib.stride_tricks.as_strided(a, b.shape, b.strides, writeable=a.flags.writeable)


def _index_name(key):
    keys = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, np.ndarray) for k in keys):
        return "IndexBackward0"
    if any(k is None for k in keys):
        return "UnsqueezeBackward0"
    if any(isinstance(k, slice) for k in keys) and not any(isinstance(k, int) for k in keys):
        return "SliceBackward0"
    return "SelectBackward0"


def _inplace_check(t, view=False):
    """view: the op writes through a view of t (x[i] = v), as PyTorch's message says."""
    if view and t._node is None and t._requires_grad and _graph.is_grad_enabled():
        raise RuntimeError(_views.VIEW_OF_LEAF)
    _views.check_inplace(t, _graph.is_grad_enabled())


def _check_inplace_dtype(t, out):
    if np.result_type(out._value) != np.result_type(t._value):
        raise RuntimeError(f"result type {torch_dtype(np.result_type(out._value)).name.capitalize()} can't be "
                           f"cast to the desired output type {t.dtype.name.capitalize()}")


def _extremum(x, dim, keepdim, which):
    f = _tg_reduce_max if which == "max" else _tg_reduce_min
    if dim is None:
        return captured(f, (x,), name="MaxBackward1" if which == "max" else "MinBackward1")
    values = captured(f, (x,), {"axis": dim, "keepdims": keepdim},
                      name="MaxBackward0" if which == "max" else "MinBackward0")
    arg = np.argmax if which == "max" else np.argmin
    indices = _graph.new_tensor(np.asarray(arg(x._value, axis=dim, keepdims=keepdim), dtype=np.int64))
    return _MinMax(values, indices, which)


class _MinMax(tuple):
    """torch.return_types.max(values=..., indices=...)."""

    def __new__(cls, values, indices, which):
        t = super().__new__(cls, (values, indices))
        t.which = which
        return t

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])

    def __repr__(self):
        return f"torch.return_types.{self.which}(\nvalues={self[0]!r},\nindices={self[1]!r})"


# ---------------------------------------------------------------- functions the methods share


def _leaf_from_pickle(value, requires_grad):
    """A leaf holding `value` (an array nobody else holds), as unpickling and deepcopy make it."""
    t = _graph.new_tensor(value)
    t._requires_grad = requires_grad
    return t


def tensor(data, dtype=None, requires_grad=False):
    if isinstance(data, _graph.TensorBase):
        warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() "
                      "or sourceTensor.detach().clone().requires_grad_(True), rather than "
                      "torch.tensor(sourceTensor).", UserWarning, stacklevel=2)
        data = np.array(data._value)
    value = _from_python(data, numpy_dtype(dtype))
    t = _graph.new_tensor(value)
    if requires_grad:
        t._set_requires_grad(True, "Only Tensors of floating point and complex dtype can require gradients")
    return t


def _from_python(data, dt):
    if data is None:
        raise RuntimeError("Could not infer dtype of NoneType")
    if isinstance(data, str):
        raise TypeError("new(): invalid data type 'str'")
    if isinstance(data, (list, tuple)):
        data = [d.item() if isinstance(d, _graph.TensorBase) else d for d in data] if any(
            isinstance(d, _graph.TensorBase) for d in data) else data
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.array(data)
    else:
        _check_rectangular(data)
        arr = np.array(data)
        # PyTorch's inferred dtypes, only when none is asked for: Python
        # numbers go to the dtype asked for directly (1.7 -> float64 is 1.7,
        # not float32's 1.7000000476837158).
        if dt is None:
            if arr.dtype.kind == "f" and not _has_numpy_float64(data):
                arr = arr.astype(_default_float[0].np)
            elif arr.dtype.kind == "c":
                arr = arr.astype(np.complex64)
            elif arr.dtype.kind == "i":
                arr = arr.astype(np.int64)
            if arr.dtype.kind == "f" and arr.size == 0:
                arr = arr.astype(_default_float[0].np)
    if dt is not None:
        arr = arr.astype(dt)
    return arr


def _has_numpy_float64(data):
    if isinstance(data, np.float64):
        return True
    if isinstance(data, (list, tuple)):
        return any(_has_numpy_float64(d) for d in data)
    return False


def _check_rectangular(data):
    if not isinstance(data, (list, tuple)) or not data:
        return
    first = data[0]
    if isinstance(first, (list, tuple)):
        n = len(first)
        for e in data:
            if not isinstance(e, (list, tuple)) or len(e) != n:
                raise ValueError(f"expected sequence of length {n} at dim 1 (got {len(e)})")


def from_numpy(a):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(a).__name__})")
    return _graph.new_tensor(a if a.ndim else a.copy())


def matmul(a, b):
    a, b = _as_pair(a, b)
    if np.result_type(a._value) != np.result_type(b._value):
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_c_name(a.dtype)} != "
                           f"{_c_name(b.dtype)}")
    na, nb = a.dim(), b.dim()
    name = {(1, 1): "DotBackward0", (2, 2): "MmBackward0", (2, 1): "MvBackward0", (1, 2): "SqueezeBackward4"}.get(
        (na, nb), "UnsafeViewBackward0")
    return captured(_tg_matmul, (a, b), name=name)


def _as_pair(a, b):
    if not isinstance(a, _graph.TensorBase):
        a = tensor(a)
    if not isinstance(b, _graph.TensorBase):
        b = tensor(b)
    return a, b


def dot(a, b):
    if a.dim() != 1 or b.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.dim()}D and {b.dim()}D tensors")
    if np.result_type(a._value) != np.result_type(b._value):
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {a.dtype._legacy} and "
                           f"{b.dtype._legacy}")
    if a.shape != b.shape:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.numel()}] and src [{b.numel()}] to "
                           "have the same number of elements, but got "
                           f"{a.numel()} and {b.numel()} elements respectively")
    return captured(_tg_matmul, (a, b), name="DotBackward0")


def mm(a, b):
    if a.dim() != 2:
        raise RuntimeError("self must be a matrix")
    if b.dim() != 2:
        raise RuntimeError("mat2 must be a matrix")
    return captured(_tg_matmul, (a, b), name="MmBackward0")


def mv(a, b):
    return captured(_tg_matmul, (a, b), name="MvBackward0")


def sum(x, dim=None, keepdim=False, dtype=None):  # noqa: A001 (PyTorch's name)
    if dtype is not None:
        x = x.to(dtype)
    elif np.result_type(x._value).kind in "bi" and np.result_type(x._value) != np.int64:
        x = x.to(int64)
    dims = _dims(dim, x.dim())
    return captured(_tg_reduce_sum, (x,), {"axis": dims, "keepdims": keepdim},
                    name="SumBackward0" if dim is None else "SumBackward1")


def mean(x, dim=None, keepdim=False):
    if np.result_type(x._value).kind not in "fc":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. "
            f"Got: {x.dtype._legacy}")
    dims = _dims(dim, x.dim())
    return captured(_tg_reduce_mean, (x,), {"axis": dims, "keepdims": keepdim},
                    name="MeanBackward0" if dim is None else "MeanBackward1")


def norm(x, p="fro", dim=None, keepdim=False):
    ord_ = "euclidean" if p in ("fro", 2, 2.0, None) else p
    return captured(_norm_zero_subgradient, (x,), {"ord": ord_, "axis": dim, "keepdims": keepdim},
                    name="LinalgVectorNormBackward0")


def _norm_zero_subgradient(x, ord, axis, keepdims):  # noqa: A002 (tg.norm's argument name)
    """tg.norm with PyTorch's gradient 0 (not nan) where a norm of positive
    order is 0: those slices of x are replaced by ones (a constant, so no
    gradient reaches them) and their norms by 0.  Only when a norm is 0."""
    n = _tg_norm(x, ord=ord, axis=axis, keepdims=keepdims)
    if not (isinstance(ord, str) or ord > 0):
        return n
    zero = np.asarray(n.numpy()) == 0
    if not zero.any():
        return n
    nd = np.ndim(x.numpy())
    zk = zero
    if not keepdims:
        axes = range(nd) if axis is None else (axis,) if isinstance(axis, (int, np.integer)) else axis
        zk = np.expand_dims(zero, tuple(sorted(int(a) % max(nd, 1) for a in axes))) if nd else zero
    one = np.ones((), np.result_type(x.numpy()))
    safe = _tg_where(np.broadcast_to(zk, np.shape(x.numpy())), one, x)
    zero_norm = np.zeros((), np.result_type(n.numpy()))
    return _tg_where(zero, zero_norm, _tg_norm(safe, ord=ord, axis=axis, keepdims=keepdims))


def softmax(x, dim):
    return captured(_tg_softmax, (x,), {"axis": dim}, name="SoftmaxBackward0")


def log_softmax(x, dim):
    return captured(_tg_log_softmax, (x,), {"axis": dim}, name="LogSoftmaxBackward0")


def clamp(x, min=None, max=None):  # noqa: A002
    if isinstance(min, _graph.TensorBase) or isinstance(max, _graph.TensorBase):
        out = x
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        _graph.set_node_name(out, "ClampBackward0")
        return out
    lo = -np.inf if min is None else min
    hi = np.inf if max is None else max
    return captured(_tg_clip, (x, lo, hi), name="ClampBackward1")


def maximum(a, b):
    return _graph.binary(OPS["maximum"], a, b, "MaximumBackward0")


def minimum(a, b):
    return _graph.binary(OPS["minimum"], a, b, "MinimumBackward0")


def where(condition, x, y):
    x, y = _promote(OPS["add"], x, y)
    x, y = _as_pair(x, y)
    c = condition._value if isinstance(condition, _graph.TensorBase) else np.asarray(condition)
    return captured(_tg_where, (_graph.new_tensor(np.asarray(c, dtype=bool)), x, y), name="WhereBackward0")


def cat(tensors, dim=0):
    return captured(_tg_concat, (list(tensors), dim), name="CatBackward0")


def stack(tensors, dim=0):
    return captured(_tg_stack, (list(tensors), dim), name="StackBackward0")


# ---------------------------------------------------------------- backward


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    if isinstance(tensors, _graph.TensorBase):
        tensors = [tensors]
    tensors = list(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, _graph.TensorBase):
        grad_tensors = [grad_tensors]
    if retain_graph is None:
        retain_graph = create_graph
    seeds = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        seeds.append(_seed(t, g, create_graph))
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, _graph.TensorBase) else list(inputs)
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    _graph.run_backward(tensors, seeds, bool(retain_graph), bool(create_graph), inputs, True)


def _seed(t, g, create_graph):
    if g is None:
        if np.size(t._value) != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        return np.ones_like(t._value)[()] if np.ndim(t._value) == 0 else np.ones_like(t._value)
    if not isinstance(g, _graph.TensorBase):
        raise TypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
    if np.shape(g._value) != np.shape(t._value):
        raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {Size(np.shape(g._value))} and "
                           f"output[0] has a shape of {Size(np.shape(t._value))}.")
    if create_graph:
        return g
    return np.asarray(g._value, dtype=np.result_type(t._value)) if np.result_type(g._value) != np.result_type(
        t._value) else g._value


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    single = isinstance(inputs, _graph.TensorBase)
    outputs = [outputs] if isinstance(outputs, _graph.TensorBase) else list(outputs)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, _graph.TensorBase):
        grad_outputs = [grad_outputs]
    if retain_graph is None:
        retain_graph = create_graph
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    seeds = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        seeds.append(_seed(t, g, create_graph))
    res = _graph.run_backward(outputs, seeds, bool(retain_graph), bool(create_graph), inputs, False,
                              bool(allow_unused) or materialize_grads)
    if materialize_grads:
        res = [_graph.new_tensor(np.zeros_like(np.asarray(t._value))) if g is None else g
               for g, t in zip(res, inputs)]
    return tuple(res)


_graph.install(Tensor, OPS, GRAD_FN_NAMES, lambda x: x.to(get_default_dtype()))
