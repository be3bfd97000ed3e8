"""Convolutions, pooling and batch normalization (tf.nn): conv1d, conv2d,
conv2d_transpose, depthwise_conv2d, max_pool1d/2d, avg_pool1d/2d,
batch_normalization, bias_add.

Everything is built from two linear ops that move values between an image
and its windows -- ``extract_patches`` (im2col: for every output position,
the kh x kw x C window it sees, with zero padding) and its transpose
``patches_transpose`` (col2im: each window entry added back where it came
from) -- plus matmul, einsum and reshape, and one op for max pooling's
window maximum.  So every derivative (VJP, JVP, any order, batched
cotangents) comes from ops whose own rules are checked, and a convolution's
gradient is the textbook im2col one: ``dW = patches^T @ dY``,
``dX = col2im(dY @ W^T)``.

Layout: NHWC inside (1-D ops add a height of 1; NCHW / NCW transpose in and
out).  Windows follow TensorFlow: cross-correlation (no kernel flip),
``'SAME'`` pads ``total // 2`` before and the rest after, a ``'VALID'``
window larger than the input gives an empty output, max pooling ignores
padding and sends the gradient to the first maximum of a window (row-major
order), average pooling divides by the number of real (unpadded) entries.
"""
import builtins

import numpy as np

from tapegrad import _core
from tapegrad._core import apply
from tapegrad.errors import InvalidArgumentError, UnimplementedError
from tapegrad.ops import math_ops
from tapegrad.ops._registry import call, general, raw
from tapegrad.ops._shapes import as_tensor, ndim_of, shape_of
from tapegrad.ops.array_ops import reshape, transpose
from tapegrad.ops.linalg_ops import einsum, matmul
from tapegrad.ops.reduction_ops import reduce_sum

__all__ = ["conv1d", "conv2d", "conv2d_transpose", "depthwise_conv2d", "max_pool1d", "max_pool2d", "max_pool",
           "avg_pool1d", "avg_pool2d", "avg_pool", "batch_normalization", "bias_add"]


# ---- window geometry --------------------------------------------------------------------------

def _out_size(n, k, s, d, before, after):
    span = (k - 1) * d + 1
    return builtins.max((n + before + after - span) // s + 1, 0) if n + before + after >= span else 0


def _same_pads(n, k, s, d):
    out = -(-n // s)
    total = builtins.max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def _geometry(shape, ks, ss, ds, pads):
    """(Ho, Wo) of a window sweep over an (N, H, W, C) input."""
    return tuple(_out_size(n, k, s, d, b, a) for n, k, s, d, (b, a) in zip(shape[1:3], ks, ss, ds, pads))


# ---- im2col / col2im: two linear ops, each the other's transpose -------------------------------
# params: (ks, ss, ds, pads, in_shape, fill): ks/ss/ds (kh, kw) pairs, pads ((top, bottom), (left, right)),
# in_shape the unbatched (N, H, W, C), fill the padding value (0; -inf for max pooling).  Values may carry
# leading batch axes (cotangents of a Jacobian): every index is taken from the end.

def _window_slices(i, j, ks, ss, ds, out_hw):
    (ho, wo), (sh, sw), (dh, dw) = out_hw, ss, ds
    return (builtins.slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
            builtins.slice(j * dw, j * dw + sw * (wo - 1) + 1, sw))


def _patches_forward(x, ks, ss, ds, pads, in_shape, fill):
    x = np.asarray(x)
    lead = x.shape[:x.ndim - 4]
    n, h, w, c = in_shape
    (kh, kw), ((pt, pb), (pl, pr)) = ks, pads
    ho, wo = _geometry(in_shape, ks, ss, ds, pads)
    out = np.empty(lead + (n, ho, wo, kh, kw, c), dtype=x.dtype)
    if out.size == 0:
        return out
    if pt or pb or pl or pr:
        xp = np.full(lead + (n, h + pt + pb, w + pl + pr, c), fill, dtype=x.dtype)
        xp[..., pt:pt + h, pl:pl + w, :] = x
    else:
        xp = x
    for i in range(kh):
        for j in range(kw):
            rows, cols = _window_slices(i, j, ks, ss, ds, (ho, wo))
            out[..., i, j, :] = xp[..., rows, cols, :]
    return out


def _col2im_forward(g, ks, ss, ds, pads, in_shape, fill):
    g = np.asarray(g)
    lead = g.shape[:g.ndim - 6]
    n, h, w, c = in_shape
    (kh, kw), ((pt, pb), (pl, pr)) = ks, pads
    ho, wo = g.shape[-5:-3]
    acc = np.zeros(lead + (n, h + pt + pb, w + pl + pr, c), dtype=g.dtype)
    if g.size:
        for i in range(kh):
            for j in range(kw):
                rows, cols = _window_slices(i, j, ks, ss, ds, (ho, wo))
                acc[..., rows, cols, :] += g[..., i, j, :]
    if pt or pb or pl or pr:
        acc = acc[..., pt:pt + h, pl:pl + w, :]
    return acc


def _patches_vjp(g, ans, x, ks, ss, ds, pads, in_shape, fill):
    return call(col2im_op, g, params=(ks, ss, ds, pads, in_shape, 0))


def _col2im_vjp(g, ans, x, ks, ss, ds, pads, in_shape, fill):
    return call(patches_op, g, params=(ks, ss, ds, pads, in_shape, 0))


patches_op = general("extract_patches", _patches_forward, (_patches_vjp,), linear=True)
col2im_op = general("patches_transpose", _col2im_forward, (_col2im_vjp,), linear=True)


def _patches(x, ks, ss, ds, pads, fill=0):
    return apply(patches_op, (x,), (ks, ss, ds, pads, shape_of(x), fill))


# ---- the maximum of each window (max pooling), first maximum in row-major order ------------------
# P: the patches (N, Ho, Wo, kh, kw, C).  window_max_grad(g, P) puts each g where its window's first
# maximum is; window_max_gather(h, P) reads h there.  They are each other's transposes in their first
# input; in P they are piecewise constant, so their derivative there is a connected zero (TensorFlow's
# MaxPoolGrad gradient gives zeros for the input, as ReluGrad does).

def _first_max(p):
    p = np.asarray(raw(p))
    flat = p.reshape(p.shape[:-3] + (p.shape[-3] * p.shape[-2], p.shape[-1]))
    return flat.argmax(axis=-2), p.shape


def _window_max_forward(p):
    am, shape = _first_max(p)
    flat = np.asarray(p).reshape(shape[:-3] + (shape[-3] * shape[-2], shape[-1]))
    return np.take_along_axis(flat, am[..., None, :], axis=-2)[..., 0, :]


def _window_max_grad_forward(g, p):
    g = np.asarray(g)
    am, shape = _first_max(p)
    k = shape[-3] * shape[-2]
    onehot = np.arange(k)[:, None] == am[..., None, :]
    out = onehot * g[..., None, :]
    return out.reshape(g.shape[:-1] + shape[-3:])


def _window_max_gather_forward(h, p):
    h = np.asarray(h)
    am, shape = _first_max(p)
    k = shape[-3] * shape[-2]
    flat = h.reshape(h.shape[:-3] + (k, shape[-1]))
    at = np.broadcast_to(am[..., None, :], flat.shape[:-2] + (1, shape[-1]))
    return np.take_along_axis(flat, at, axis=-2)[..., 0, :]


def _zero_gradient_for_p(out_rank):
    def zero(gg, ans, a, p):
        nb = ndim_of(gg) - out_rank
        return np.zeros(shape_of(gg)[:nb] + shape_of(p), dtype=np.result_type(raw(gg)))
    return zero


def _zero_tangent(t, ans, a, p):
    return np.zeros(shape_of(ans), dtype=np.result_type(raw(ans)))


window_max_grad_op = general(
    "window_max_grad", _window_max_grad_forward,
    (lambda gg, ans, g, p: call(window_max_gather_op, gg, p), _zero_gradient_for_p(6)), save="x",
    jvps=(lambda t, ans, g, p: call(window_max_grad_op, t, p), _zero_tangent))
window_max_gather_op = general(
    "window_max_gather", _window_max_gather_forward,
    (lambda gg, ans, h, p: call(window_max_grad_op, gg, p), _zero_gradient_for_p(4)), save="x",
    jvps=(lambda t, ans, h, p: call(window_max_gather_op, t, p), _zero_tangent))
window_max_op = general(
    "window_max", _window_max_forward, (lambda g, ans, p: call(window_max_grad_op, g, p),), save="x",
    jvps=(lambda t, ans, p: call(window_max_gather_op, t, p),))


# ---- arguments as TensorFlow checks them ----------------------------------------------------------

def _spatial(value, n, name, channels_last, op):
    """strides / dilations / ksize: an int, or a list of 1, n or n + 2 entries
    (the batch and channel entries of the long form must be 1)."""
    if value is None:
        return (1,) * n
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    v = [int(x) for x in (np.asarray(value).reshape(-1) if not isinstance(value, (list, tuple)) else value)]
    if len(v) == 1:
        return (v[0],) * n
    if len(v) == n:
        return tuple(v)
    if len(v) == n + 2:
        inner, outer = (v[1:-1], (v[0], v[-1])) if channels_last else (v[2:], (v[0], v[1]))
        if outer != (1, 1):
            raise UnimplementedError(f"Current implementation does not yet support {name} in the batch and depth "
                                     f"dimensions. [Op:{op}]")
        return tuple(inner)
    raise ValueError(f"{name} should be of length 1, {n} or {n + 2}. Received: {name}={value} of length {len(v)}")


def _padding(padding, sizes, ks, ss, ds, channels_last, op, explicit=True):
    n = len(sizes)
    if isinstance(padding, str):
        if padding == "VALID":
            return ((0, 0),) * n
        if padding == "SAME":
            return tuple(_same_pads(size, k, s, d) for size, k, s, d in zip(sizes, ks, ss, ds))
        raise InvalidArgumentError(f"Value for attr 'padding' of \"{padding}\" is not in the list of allowed values: "
                                   f"\"SAME\", \"VALID\", \"EXPLICIT\" [Op:{op}]")
    if not explicit:
        raise TypeError(f"Expected string for argument 'padding' not {padding!r}.")
    pairs = [list(p) for p in padding]
    if len(pairs) != n + 2:
        raise ValueError(f"When padding is a list, it must be of size {n + 2}. Received: padding={padding} of size "
                         f"{len(pairs)}")
    spatial = pairs[1:-1] if channels_last else pairs[2:]
    out = tuple((int(b), int(a)) for b, a in spatial)
    if builtins.any(b < 0 or a < 0 for b, a in out):
        raise InvalidArgumentError(f"All elements of explicit_paddings must be nonnegative [Op:{op}]")
    return out


def _format(data_format, allowed, op):
    if data_format not in allowed:
        quoted = ", ".join(f'"{a}"' for a in allowed)
        raise InvalidArgumentError(f"Value for attr 'data_format' of \"{data_format}\" is not in the list of allowed "
                                   f"values: {quoted} [Op:{op}]")
    return data_format in ("NHWC", "NWC")


def _to_nhwc(x, channels_last):
    return x if channels_last else transpose(x, (0, 2, 3, 1))


def _from_nhwc(y, channels_last):
    return y if channels_last else transpose(y, (0, 3, 1, 2))


def _check_rank(t, rank, what, op):
    if ndim_of(t) != rank:
        raise InvalidArgumentError(f"{what} must be {rank}-dimensional: {list(shape_of(t))} [Op:{op}]")


# ---- convolutions ----------------------------------------------------------------------------------

def _conv_nhwc(x, w, ss, ds, pads):
    """y = patches(x) @ W, the windows as rows of a matrix (one BLAS call)."""
    n = shape_of(x)[0]
    kh, kw, ci, co = shape_of(w)
    ho, wo = _geometry(shape_of(x), (kh, kw), ss, ds, pads)
    if (kh, kw) == (1, 1) and ss == (1, 1) and pads == ((0, 0), (0, 0)):
        cols = reshape(x, (n * ho * wo, ci))                # a 1x1 convolution is a matmul as it stands
    else:
        cols = reshape(_patches(x, (kh, kw), ss, ds, pads), (n * ho * wo, kh * kw * ci))
    y = matmul(cols, reshape(w, (kh * kw * ci, co)))
    return reshape(y, (n, ho, wo, co))


def _conv_operands(input, filters, op):
    x, w = _core.operands((input, filters), op)
    return x, w


def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):
    """tf.nn.conv2d: input [N, H, W, C] (or NCHW), filters [kh, kw, C, out];
    `strides` / `dilations` an int or a list of 1, 2 or 4; `padding`
    ``'SAME'``, ``'VALID'`` or explicit ``[[0, 0], [top, bottom], [left,
    right], [0, 0]]``."""
    last = _format(data_format, ("NHWC", "NCHW"), "Conv2D")
    x, w = _conv_operands(input, filters, "Conv2D")
    _check_rank(x, 4, "convolution input", "Conv2D")
    _check_rank(w, 4, "convolution filter", "Conv2D")
    ss = _spatial(strides, 2, "strides", last, "Conv2D")
    ds = _spatial(dilations, 2, "dilations", last, "Conv2D")
    x = _to_nhwc(x, last)
    c, (kh, kw, fi, _) = shape_of(x)[-1], shape_of(w)
    if c != fi:
        if fi and c % fi == 0:
            raise UnimplementedError(f"tapegrad.nn.conv2d: grouped convolutions (input depth {c}, filter depth {fi}) "
                                     f"are not supported [Op:Conv2D]")
        raise InvalidArgumentError(f"input depth must be evenly divisible by filter depth: {c} vs {fi} [Op:Conv2D]")
    pads = _padding(padding, shape_of(x)[1:3], (kh, kw), ss, ds, last, "Conv2D")
    return _from_nhwc(_conv_nhwc(x, w, ss, ds, pads), last)


def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None, name=None):
    """tf.nn.conv1d: input [N, W, C] (or NCW), filters [k, C, out]; a 2-D
    convolution over a height of 1, as TensorFlow computes it."""
    last = _format(data_format, ("NWC", "NCW"), "Conv2D")
    x, w = _conv_operands(input, filters, "Conv2D")
    if not isinstance(padding, str):
        raise TypeError(f"Expected string for argument 'padding' not {padding!r}.")
    xs = shape_of(x)
    if len(xs) != 3:
        at = len(xs) - 2 if last else len(xs) - 1
        shown = list(xs[:builtins.max(at, 0)]) + [1] + list(xs[builtins.max(at, 0):])
        raise InvalidArgumentError(f"convolution input must be 4-dimensional: {shown} [Op:Conv2D]")
    _check_rank(w, 3, "convolution filter", "Conv2D")
    (s,) = _spatial(stride, 1, "stride", last, "Conv2D")
    (d,) = _spatial(dilations, 1, "dilations", last, "Conv2D")
    x4 = reshape(x, (xs[0], 1) + tuple(xs[1:])) if last else reshape(x, (xs[0], xs[1], 1, xs[2]))
    w4 = reshape(w, (1,) + tuple(shape_of(w)))
    y = conv2d(x4, w4, [1, s] if last else [1, s], padding, "NHWC" if last else "NCHW", [1, d])
    ys = shape_of(y)
    return reshape(y, (ys[0],) + tuple(ys[2:])) if last else reshape(y, (ys[0], ys[1], ys[3]))


def conv2d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NHWC", dilations=None,
                     name=None):
    """tf.nn.conv2d_transpose: the gradient of conv2d with respect to its
    input.  filters [kh, kw, out, in] (output channels first); `output_shape`
    the full shape of the result, which conv2d must map back to `input`'s."""
    last = _format(data_format, ("NHWC", "NCHW"), "Conv2DBackpropInput")
    y, w = _conv_operands(input, filters, "Conv2DBackpropInput")
    _check_rank(y, 4, "out_backprop", "Conv2DBackpropInput")
    _check_rank(w, 4, "filter", "Conv2DBackpropInput")
    out_shape = tuple(int(v) for v in np.asarray(output_shape).reshape(-1))
    if len(out_shape) != 4:
        raise InvalidArgumentError(f"input_sizes must be 4-dimensional, got: {len(out_shape)} "
                                   f"[Op:Conv2DBackpropInput]")
    ss = _spatial(strides, 2, "strides", last, "Conv2DBackpropInput")
    ds = _spatial(dilations, 2, "dilations", last, "Conv2DBackpropInput")
    y = _to_nhwc(y, last)
    target = out_shape if last else (out_shape[0], out_shape[2], out_shape[3], out_shape[1])
    kh, kw, co, ci = shape_of(w)
    if ci != shape_of(y)[-1]:
        raise InvalidArgumentError("Conv2DCustomBackpropInput: filter and out_backprop must have the same out_depth "
                                   "[Op:Conv2DBackpropInput]")
    if co != target[-1]:
        raise InvalidArgumentError("Conv2DCustomBackpropInput: input and filter must have the same depth "
                                   "[Op:Conv2DBackpropInput]")
    pads = _padding(padding, target[1:3], (kh, kw), ss, ds, True, "Conv2DBackpropInput")
    ho, wo = _geometry(target, (kh, kw), ss, ds, pads)
    for dim, (got, want, size, k, s, d) in enumerate(zip(shape_of(y)[1:3], (ho, wo), target[1:3], (kh, kw), ss,
                                                         ds), start=1):
        if got != want:
            raise InvalidArgumentError(
                f"Conv2DCustomBackpropInput: Size of out_backprop doesn't match computed: actual = {got}, computed = "
                f"{want} spatial_dim: {dim} input: {size} filter: {k} output: {got} stride: {s} dilation: {d} "
                f"[Op:Conv2DBackpropInput]")
    if shape_of(y)[0] != target[0]:
        raise InvalidArgumentError("Conv2DCustomBackpropInput: input and out_backprop must have the same batch size "
                                   "[Op:Conv2DBackpropInput]")
    n = target[0]
    cols = matmul(reshape(y, (n * ho * wo, ci)), reshape(w, (kh * kw * co, ci)), transpose_b=True)
    windows = reshape(cols, (n, ho, wo, kh, kw, co))
    out = apply(col2im_op, (windows,), ((kh, kw), ss, ds, pads, target, 0))
    return _from_nhwc(out, last)


def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None, name=None):
    """tf.nn.depthwise_conv2d: filter [kh, kw, C, multiplier]; output channel
    ``c * multiplier + m`` convolves input channel c with filter[..., c, m]."""
    if not isinstance(strides, (list, tuple)):
        raise TypeError(f"Expected list for 'strides' argument to 'depthwise_conv2d_native' Op, not {strides}.")
    data_format = "NHWC" if data_format is None else data_format
    last = _format(data_format, ("NHWC", "NCHW"), "DepthwiseConv2dNative")
    x, f = _conv_operands(input, filter, "DepthwiseConv2dNative")
    _check_rank(x, 4, "input", "DepthwiseConv2dNative")
    _check_rank(f, 4, "filter", "DepthwiseConv2dNative")
    ss = _spatial(strides, 2, "strides", last, "DepthwiseConv2dNative")
    ds = _spatial(dilations, 2, "dilations", last, "DepthwiseConv2dNative")
    x = _to_nhwc(x, last)
    n, h, w, c = shape_of(x)
    kh, kw, fc, m = shape_of(f)
    if fc != c:
        raise InvalidArgumentError(f"input and filter must have the same depth: {c} vs {fc} "
                                   f"[Op:DepthwiseConv2dNative]")
    pads = _padding(padding, (h, w), (kh, kw), ss, ds, last, "DepthwiseConv2dNative")
    ho, wo = _geometry(shape_of(x), (kh, kw), ss, ds, pads)
    windows = _patches(x, (kh, kw), ss, ds, pads)
    y = einsum("nhwijc,ijcm->nhwcm", windows, f)
    return _from_nhwc(reshape(y, (n, ho, wo, c * m)), last)


# ---- pooling ------------------------------------------------------------------------------------

def _pool_input(input, rank, op, data_format, allowed):
    last = _format(data_format, allowed, op)
    x = as_tensor(input)
    if ndim_of(x) != rank:
        raise InvalidArgumentError(f"{op}: input must be {rank}-dimensional, got shape {list(shape_of(x))} [Op:{op}]")
    return x, last


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _pool2d_nhwc(x, ks, ss, pads, kind):
    if kind == "max":
        fill = _lowest(np.result_type(x._value))
        return apply(window_max_op, (_patches(x, ks, ss, (1, 1), pads, fill),), None)
    n, h, w, c = shape_of(x)
    total = reduce_sum(_patches(x, ks, ss, (1, 1), pads), axis=(3, 4))
    # divide by the real (unpadded) entries of each window
    ones = np.ones((1, h, w, 1), dtype=np.result_type(x._value))
    counts = _patches_forward(ones, ks, ss, (1, 1), pads, (1, h, w, 1), 0).sum(axis=(3, 4))[0]
    return total / np.maximum(counts, 1)


def _pool2d(input, ksize, strides, padding, data_format, kind, op):
    x, last = _pool_input(input, 4, op, data_format, ("NHWC", "NCHW"))
    ks = _spatial(ksize, 2, "ksize", last, op)
    ss = _spatial(strides, 2, "strides", last, op)
    x = _to_nhwc(x, last)
    pads = _padding(padding, shape_of(x)[1:3], ks, ss, (1, 1), last, op, explicit=kind == "max")
    return _from_nhwc(_pool2d_nhwc(x, ks, ss, pads, kind), last)


def _pool1d(input, ksize, strides, padding, data_format, kind, op):
    x, last = _pool_input(input, 3, op, data_format, ("NWC", "NCW"))
    if not isinstance(padding, str):
        raise TypeError(f"Expected string for argument 'padding' not {padding!r}.")
    (k,) = _spatial(ksize, 1, "ksize", last, op)
    (s,) = _spatial(strides, 1, "strides", last, op)
    xs = shape_of(x)
    x4 = reshape(x, (xs[0], 1, xs[1], xs[2])) if last else reshape(x, (xs[0], xs[1], 1, xs[2]))
    y = _pool2d(x4, (1, k), (1, s), padding, "NHWC" if last else "NCHW", kind, op)
    ys = shape_of(y)
    return reshape(y, (ys[0], ys[2], ys[3])) if last else reshape(y, (ys[0], ys[1], ys[3]))


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """tf.nn.max_pool2d: the maximum of each window (padding ignored); the
    gradient goes to the first maximum of each window in row-major order."""
    return _pool2d(input, ksize, strides, padding, data_format, "max", "MaxPool")


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """tf.nn.avg_pool2d: the mean of each window's real (unpadded) entries."""
    return _pool2d(input, ksize, strides, padding, data_format, "avg", "AvgPool")


def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    return _pool1d(input, ksize, strides, padding, data_format, "max", "MaxPool")


def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    return _pool1d(input, ksize, strides, padding, data_format, "avg", "AvgPool")


def max_pool(input, ksize, strides, padding, data_format=None, name=None):
    """tf.nn.max_pool: max_pool1d or max_pool2d by the input's rank."""
    return _by_rank(input, ksize, strides, padding, data_format, max_pool1d, max_pool2d)


def avg_pool(input, ksize, strides, padding, data_format=None, name=None):
    """tf.nn.avg_pool: avg_pool1d or avg_pool2d by the input's rank."""
    return _by_rank(input, ksize, strides, padding, data_format, avg_pool1d, avg_pool2d)


def _by_rank(input, ksize, strides, padding, data_format, one, two):
    rank = ndim_of(as_tensor(input))
    if rank == 3:
        return one(input, ksize, strides, padding, data_format or "NWC")
    if rank == 4:
        return two(input, ksize, strides, padding, data_format or "NHWC")
    raise ValueError(f"`input.shape.rank` must be 3 or 4. Received: input.shape={list(shape_of(as_tensor(input)))} "
                     f"of rank {rank}")


# ---- normalization, bias ------------------------------------------------------------------------

def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """tf.nn.batch_normalization: ``(x - mean) * scale / sqrt(variance + eps)
    + offset``, computed as TensorFlow does (``x * inv + (offset - mean *
    inv)`` with ``inv = scale * rsqrt(variance + eps)``, so float32 results
    round alike); `offset` and `scale` may be None."""
    x = as_tensor(x)
    inv = math_ops.rsqrt(_like(variance, x) + variance_epsilon)
    if scale is not None:
        inv = inv * _like(scale, x)
    shift = -(_like(mean, x) * inv) if offset is None else _like(offset, x) - _like(mean, x) * inv
    return x * inv + shift


def _like(v, x):
    """A statistic as a tensor of x's dtype (Python numbers take it)."""
    return _core.operands((x, v), "BatchNorm")[1]


def bias_add(value, bias, data_format=None, name=None):
    """tf.nn.bias_add: add a 1-D bias along the channel axis (the last one,
    or the second with data_format 'NC...')."""
    v, b = _core.operands((value, bias), "BiasAdd")
    vs, bs = shape_of(v), shape_of(b)
    channels_first = data_format is not None and data_format.startswith("NC")
    axis = 1 if channels_first else len(vs) - 1
    if len(bs) != 1 or len(vs) < 2 or vs[axis] != bs[0]:
        raise InvalidArgumentError(f"Must provide as many biases as the {'channel' if channels_first else 'last'} "
                                   f"dimension of the input tensor: {list(bs)} vs. {list(vs)} [Op:BiasAdd]")
    if channels_first:
        b = reshape(b, (bs[0],) + (1,) * (len(vs) - 2))
    return v + b
