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
from tapegrad.ops import _docs, math_ops
from tapegrad.ops._docs import op_doc
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


# ---- documentation shared by the ops below -------------------------------------------------------

_CONV_DTYPES = ("float16, float32, float64 (TensorFlow's set; gradients for these). tapegrad also computes on "
                "complex, integer and bool inputs, which TensorFlow refuses.")
_PADDING = ("str or list", "'VALID' (no padding: only whole windows), 'SAME' (zero padding so that the output "
                           "has ceil(size / stride) positions, total // 2 before and the rest after) or explicit "
                           "[[0, 0], [top, bottom], [left, right], [0, 0]] (in the "
                           "data_format's axis order).")
_PADDING_1D = ("str", "'VALID' (only whole windows) or 'SAME' (padding so that the output has "
                      "ceil(width / stride) positions).")
_STRIDES_2D = ("int or list of 1, 2 or 4 ints", "the step between windows along height and width (the 4-entry "
                                                "form in data_format's order, its batch and channel entries 1).")
_DILATIONS_2D = ("int, list of 1, 2 or 4 ints, or None", "spacing between the filter's taps (atrous convolution); "
                                                        "None means 1.")
_FORMAT_2D = ("str", "'NHWC' (channels last) or 'NCHW' (channels first).")
_FORMAT_1D = ("str", "'NWC' (channels last) or 'NCW' (channels first).")
_POOL_INPUT_2D = (_docs.TENSOR, "a 4-d batch of images, [batch, height, width, channels] in NHWC.")
_POOL_INPUT_1D = (_docs.TENSOR, "a 3-d batch of sequences, [batch, width, channels] in NWC.")
_KSIZE_2D = ("int or list of 1, 2 or 4 ints", "the window's height and width.")
_KSIZE_1D = ("int or list of 1 or 3 ints", "the window's width.")
_POOL_DTYPES = "float16, float32, float64 and integer dtypes (integers give no gradient)."
_MAX_POOL_DERIVATIVE = ("g of each window goes to that window's maximum (the first one in row-major order when "
                        "several entries tie), zero elsewhere; an entry in several windows adds what each sends; "
                        "padding receives nothing.")
_AVG_POOL_DERIVATIVE = ("g of each window is spread equally over the window's real entries (g / their count; "
                        "padding is not counted); an entry in several windows adds the shares.")


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


@op_doc(
    tf="``tf.nn.conv2d``",
    numpy="has none (``scipy.signal.correlate`` per channel pair, summed over input channels)",
    returns="A Tensor [batch, out_height, out_width, out_channels] (NHWC) or [batch, out_channels, out_height, "
            "out_width] (NCHW).",
    args={"input": (_docs.TENSOR, "a 4-d batch of images, [batch, height, width, in_channels] in NHWC."),
          "filters": (_docs.TENSOR, "[filter_height, filter_width, in_channels, out_channels], input's dtype."),
          "strides": _STRIDES_2D, "padding": _PADDING, "data_format": _FORMAT_2D, "dilations": _DILATIONS_2D},
    dtypes=_CONV_DTYPES,
    derivative="d/d input = the transposed convolution of g with the same filters (conv2d_transpose: each "
               "output's g sent back through the window it read); d/d filters = the correlation of the input's "
               "windows with g (patches(input)^T @ g).",
    raises="InvalidArgumentError: a rank other than 4, input channels that the filters do not match, a bad "
           "padding or data_format.\nUnimplementedError: grouped convolutions, strides on the batch or channel "
           "axis.",
    example="""
        >>> x = tg.reshape(tg.range(9.0), (1, 3, 3, 1))
        >>> w = tg.ones((2, 2, 1, 1))
        >>> with tg.GradientTape() as tape:
        ...     tape.watch([x, w])
        ...     y = tg.nn.conv2d(x, w, strides=1, padding="VALID")     # each output: the sum of a 2x2 window
        >>> dx, dw = tape.gradient(y, [x, w])
        >>> print(tg.reshape(y, (2, 2)).numpy())
        [[ 8. 12.]
         [20. 24.]]
        >>> print(tg.reshape(dx, (3, 3)).numpy())        # how many windows each pixel is in
        [[1. 2. 1.]
         [2. 4. 2.]
         [1. 2. 1.]]
    """)
def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):
    """A 2-D convolution as TensorFlow computes it: a cross-correlation (the filter is not flipped) of each
    image with every filter, summed over the input channels."""
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


@op_doc(
    tf="``tf.nn.conv1d``",
    numpy="has none (``numpy.correlate`` per channel pair, summed over input channels)",
    returns="A Tensor [batch, out_width, out_channels] (NWC) or [batch, out_channels, out_width] (NCW).",
    args={"input": (_docs.TENSOR, "a 3-d batch of sequences, [batch, width, in_channels] in NWC."),
          "filters": (_docs.TENSOR, "[filter_width, in_channels, out_channels], input's dtype."),
          "stride": ("int or list of 1 or 3 ints", "the step between windows."),
          "padding": _PADDING_1D, "data_format": _FORMAT_1D,
          "dilations": ("int, list of 1 or 3 ints, or None", "spacing between the filter's taps; None means 1.")},
    dtypes=_CONV_DTYPES,
    derivative="d/d input = the transposed 1-d convolution of g with the same filters; d/d filters = the "
               "correlation of the input's windows with g.",
    raises="InvalidArgumentError: a rank other than 3, input channels that the filters do not match.\n"
           "TypeError: explicit (list) padding.",
    example="""
        >>> x = tg.constant([[[1.0], [2.0], [3.0], [4.0]]])       # one sequence of width 4, one channel
        >>> w = tg.constant([[[1.0]], [[-1.0]]])                  # x[i] - x[i + 1]
        >>> with tg.GradientTape() as tape:
        ...     tape.watch([x, w])
        ...     y = tg.nn.conv1d(x, w, stride=1, padding="VALID")
        >>> dx, dw = tape.gradient(y, [x, w])
        >>> print(tg.reshape(y, [-1]).numpy(), tg.reshape(dx, [-1]).numpy(), tg.reshape(dw, [-1]).numpy())
        [-1. -1. -1.] [ 1.  0.  0. -1.] [6. 9.]
    """)
def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None, name=None):
    """A 1-D convolution (cross-correlation, filter not flipped) of each sequence with every filter, summed
    over the input channels; computed, as in TensorFlow, as a 2-D convolution over a height of 1."""
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


@op_doc(
    tf="``tf.nn.conv2d_transpose``",
    numpy="has none",
    returns="A Tensor of shape output_shape.",
    args={"input": (_docs.TENSOR, "a 4-d batch, [batch, height, width, in_channels] in NHWC: what conv2d with "
                                  "these filters would output."),
          "filters": (_docs.TENSOR, "[filter_height, filter_width, out_channels, in_channels] (output channels "
                                    "first), input's dtype."),
          "output_shape": ("list of 4 ints or a 1-d integer Tensor", "the full shape of the result; conv2d with "
                                                                    "the same arguments must map it back to "
                                                                    "input's shape."),
          "strides": _STRIDES_2D, "padding": _PADDING, "data_format": _FORMAT_2D, "dilations": _DILATIONS_2D},
    dtypes=_CONV_DTYPES,
    derivative="d/d input = conv2d(g, filters) with the same strides, padding and dilations; d/d filters = the "
               "correlation of g's windows with input (conv2d's filter gradient with the two roles swapped).",
    raises="InvalidArgumentError: output_shape that conv2d would not map to input's shape, or channel counts "
           "that the filters do not match.",
    example="""
        >>> y = tg.ones((1, 2, 2, 1))
        >>> w = tg.ones((2, 2, 1, 1))
        >>> out = tg.nn.conv2d_transpose(y, w, output_shape=[1, 3, 3, 1], strides=1, padding="VALID")
        >>> print(tg.reshape(out, (3, 3)).numpy())       # each input spread over the 2x2 window it came from
        [[1. 2. 1.]
         [2. 4. 2.]
         [1. 2. 1.]]
    """)
def conv2d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NHWC", dilations=None,
                     name=None):
    """The transposed 2-D convolution (sometimes called deconvolution): the gradient of conv2d with respect to
    its input, used as an op to upsample. Each input entry is multiplied by the filter and added into the
    window of the output it corresponds to."""
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


@op_doc(
    tf="``tf.nn.depthwise_conv2d``",
    numpy="has none",
    returns="A Tensor [batch, out_height, out_width, in_channels * channel_multiplier] (NHWC).",
    args={"input": (_docs.TENSOR, "a 4-d batch of images, [batch, height, width, in_channels] in NHWC."),
          "filter": (_docs.TENSOR, "[filter_height, filter_width, in_channels, channel_multiplier], input's "
                                   "dtype."),
          "strides": ("list of 2 or 4 ints", "the step between windows (a list, as TensorFlow requires)."),
          "padding": _PADDING, "data_format": ("str or None", "'NHWC' (None means it) or 'NCHW'."),
          "dilations": _DILATIONS_2D},
    dtypes=_CONV_DTYPES,
    derivative="per channel, as conv2d's: d/d input = the transposed convolution of g's channels with their "
               "filters, summed over the multiplier; d/d filter[..., c, m] = the correlation of input channel c's "
               "windows with output channel c * channel_multiplier + m.",
    raises="InvalidArgumentError: a rank other than 4, or input channels that the filter does not match.\n"
           "TypeError: strides not a list.",
    example="""
        >>> x = tg.reshape(tg.range(8.0), (1, 2, 2, 2))    # channel 0: 0, 2, 4, 6; channel 1: 1, 3, 5, 7
        >>> f = tg.ones((2, 2, 2, 1))
        >>> tg.reshape(tg.nn.depthwise_conv2d(x, f, strides=[1, 1, 1, 1], padding="VALID"), [-1])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([12., 16.], dtype=float32)>
    """)
def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None, name=None):
    """A 2-D convolution of each input channel on its own: output channel ``c * channel_multiplier + m`` is
    input channel c correlated with filter[:, :, c, m]; channels are not summed."""
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


@op_doc(
    tf="``tf.nn.max_pool2d``",
    numpy="has none (``numpy.lib.stride_tricks.sliding_window_view(...).max(...)`` for 'VALID')",
    returns="A Tensor [batch, out_height, out_width, channels] (NHWC).",
    args={"input": _POOL_INPUT_2D, "ksize": _KSIZE_2D, "strides": _STRIDES_2D, "padding": _PADDING,
          "data_format": _FORMAT_2D},
    dtypes=_POOL_DTYPES + " Complex and bool inputs raise an error.",
    derivative=_MAX_POOL_DERIVATIVE,
    raises="InvalidArgumentError: a rank other than 4, a bad padding or data_format.",
    example="""
        >>> x = tg.reshape(tg.constant([1.0, 5.0, 2.0, 4.0, 3.0, 0.0, 6.0, 6.0]), (1, 2, 4, 1))
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = tg.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID")
        >>> print(tg.reshape(y, [-1]).numpy())
        [5. 6.]
        >>> print(tg.reshape(tape.gradient(y, x), (2, 4)).numpy())     # the first of the two 6s gets it
        [[0. 1. 0. 0.]
         [0. 0. 1. 0.]]
    """)
def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """The maximum of each ksize window of each channel of each image, windows `strides` apart (padding never
    wins a maximum)."""
    return _pool2d(input, ksize, strides, padding, data_format, "max", "MaxPool")


@op_doc(
    tf="``tf.nn.avg_pool2d``",
    numpy="has none (``numpy.lib.stride_tricks.sliding_window_view(...).mean(...)`` for 'VALID')",
    returns="A Tensor [batch, out_height, out_width, channels] (NHWC).",
    args={"input": _POOL_INPUT_2D, "ksize": _KSIZE_2D, "strides": _STRIDES_2D,
          "padding": ("str", "'VALID' (only whole windows) or 'SAME' (windows may overhang the edges; only "
                             "their real entries are averaged)."),
          "data_format": _FORMAT_2D},
    dtypes="float16, float32, float64 (TensorFlow's set; gradients for these). tapegrad also computes on "
           "complex, integer and bool inputs, which TensorFlow refuses.",
    derivative=_AVG_POOL_DERIVATIVE,
    raises="InvalidArgumentError: a rank other than 4, a bad padding or data_format.\nTypeError: explicit "
           "(list) padding.",
    example="""
        >>> x = tg.reshape(tg.constant([1.0, 5.0, 2.0, 4.0, 3.0, 0.0, 6.0, 6.0]), (1, 2, 4, 1))
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = tg.nn.avg_pool2d(x, ksize=2, strides=2, padding="VALID")
        >>> print(tg.reshape(y, [-1]).numpy())
        [2.25 4.5 ]
        >>> print(tg.reshape(tape.gradient(y, x), (2, 4)).numpy())
        [[0.25 0.25 0.25 0.25]
         [0.25 0.25 0.25 0.25]]
    """)
def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """The mean of each ksize window of each channel of each image, windows `strides` apart; a window that
    overhangs the edge ('SAME') averages only its real entries."""
    return _pool2d(input, ksize, strides, padding, data_format, "avg", "AvgPool")


@op_doc(
    tf="``tf.nn.max_pool1d``",
    numpy="has none (``numpy.lib.stride_tricks.sliding_window_view(...).max(...)`` for 'VALID')",
    returns="A Tensor [batch, out_width, channels] (NWC).",
    args={"input": _POOL_INPUT_1D, "ksize": _KSIZE_1D,
          "strides": ("int or list of 1 or 3 ints", "the step between windows."), "padding": _PADDING_1D,
          "data_format": _FORMAT_1D},
    dtypes=_POOL_DTYPES + " Complex and bool inputs raise an error.",
    derivative=_MAX_POOL_DERIVATIVE,
    raises="InvalidArgumentError: a rank other than 3.\nTypeError: explicit (list) padding.",
    example="""
        >>> x = tg.constant([[[1.0], [3.0], [2.0], [2.0]]])
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = tg.nn.max_pool1d(x, ksize=2, strides=2, padding="VALID")
        >>> print(tg.reshape(y, [-1]).numpy(), tg.reshape(tape.gradient(y, x), [-1]).numpy())
        [3. 2.] [0. 1. 1. 0.]
    """)
def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    """The maximum of each ksize window of each channel of each sequence, windows `strides` apart."""
    return _pool1d(input, ksize, strides, padding, data_format, "max", "MaxPool")


@op_doc(
    tf="``tf.nn.avg_pool1d``",
    numpy="has none (``numpy.lib.stride_tricks.sliding_window_view(...).mean(...)`` for 'VALID')",
    returns="A Tensor [batch, out_width, channels] (NWC).",
    args={"input": _POOL_INPUT_1D, "ksize": _KSIZE_1D,
          "strides": ("int or list of 1 or 3 ints", "the step between windows."),
          "padding": ("str", "'VALID' (only whole windows) or 'SAME' (windows may overhang the ends; only their "
                             "real entries are averaged)."),
          "data_format": _FORMAT_1D},
    dtypes="float16, float32, float64 (TensorFlow's set; gradients for these). tapegrad also computes on "
           "complex, integer and bool inputs, which TensorFlow refuses.",
    derivative=_AVG_POOL_DERIVATIVE,
    raises="InvalidArgumentError: a rank other than 3.\nTypeError: explicit (list) padding.",
    example="""
        >>> x = tg.constant([[[1.0], [3.0], [2.0], [2.0]]])
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = tg.nn.avg_pool1d(x, ksize=3, strides=1, padding="SAME")    # end windows: 2 real entries
        >>> print(tg.reshape(y, [-1]).numpy(), tg.reshape(tape.gradient(y, x), [-1]).numpy())
        [2.        2.        2.3333333 2.       ] [0.8333334 1.1666667 1.1666667 0.8333334]
    """)
def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    """The mean of each ksize window of each channel of each sequence, windows `strides` apart; a window that
    overhangs an end ('SAME') averages only its real entries."""
    return _pool1d(input, ksize, strides, padding, data_format, "avg", "AvgPool")


@op_doc(
    tf="``tf.nn.max_pool``",
    numpy="has none",
    returns="A Tensor: max_pool1d's result for a 3-d input, max_pool2d's for a 4-d one.",
    args={"input": (_docs.TENSOR, "a 3-d [batch, width, channels] or 4-d [batch, height, width, channels] "
                                  "tensor."),
          "ksize": ("int or list of ints", "the window's size per spatial axis."),
          "strides": ("int or list of ints", "the step between windows per spatial axis."),
          "padding": ("str or list", "'VALID', 'SAME' or (4-d only) explicit padding, as max_pool2d takes."),
          "data_format": ("str or None", "None: 'NWC' or 'NHWC' by the rank; else as max_pool1d / max_pool2d "
                                         "take it.")},
    dtypes=_POOL_DTYPES + " Complex and bool inputs raise an error.",
    derivative=_MAX_POOL_DERIVATIVE,
    raises="ValueError: an input of rank other than 3 or 4 (5-d pooling is not implemented).",
    example="""
        >>> x = tg.constant([[[1.0], [3.0], [2.0], [2.0]]])
        >>> tg.reshape(tg.nn.max_pool(x, ksize=2, strides=2, padding="VALID"), [-1])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([3., 2.], dtype=float32)>
    """)
def max_pool(input, ksize, strides, padding, data_format=None, name=None):
    """Max pooling of a 1-d or 2-d input, chosen by its rank: max_pool1d for rank 3, max_pool2d for rank 4."""
    return _by_rank(input, ksize, strides, padding, data_format, max_pool1d, max_pool2d)


@op_doc(
    tf="``tf.nn.avg_pool``",
    numpy="has none",
    returns="A Tensor: avg_pool1d's result for a 3-d input, avg_pool2d's for a 4-d one.",
    args={"input": (_docs.TENSOR, "a 3-d [batch, width, channels] or 4-d [batch, height, width, channels] "
                                  "tensor."),
          "ksize": ("int or list of ints", "the window's size per spatial axis."),
          "strides": ("int or list of ints", "the step between windows per spatial axis."),
          "padding": ("str", "'VALID' or 'SAME'."),
          "data_format": ("str or None", "None: 'NWC' or 'NHWC' by the rank; else as avg_pool1d / avg_pool2d "
                                         "take it.")},
    dtypes="float16, float32, float64 (TensorFlow's set; gradients for these). tapegrad also computes on "
           "complex, integer and bool inputs, which TensorFlow refuses.",
    derivative=_AVG_POOL_DERIVATIVE,
    raises="ValueError: an input of rank other than 3 or 4 (5-d pooling is not implemented).",
    example="""
        >>> x = tg.constant([[[1.0], [3.0], [2.0], [2.0]]])
        >>> tg.reshape(tg.nn.avg_pool(x, ksize=2, strides=2, padding="VALID"), [-1])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([2., 2.], dtype=float32)>
    """)
def avg_pool(input, ksize, strides, padding, data_format=None, name=None):
    """Average pooling of a 1-d or 2-d input, chosen by its rank: avg_pool1d for rank 3, avg_pool2d for rank
    4."""
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

@op_doc(
    tf="``tf.nn.batch_normalization``",
    numpy="``(x - mean) / numpy.sqrt(variance + variance_epsilon) * scale + offset``",
    returns="A Tensor of the broadcast shape of x and the statistics (x's shape when they broadcast to it).",
    args={"x": (_docs.TENSOR, "the input."),
          "mean": (_docs.TENSOR, "the mean to subtract; broadcasts against x (Python numbers take x's dtype)."),
          "variance": (_docs.TENSOR, "the variance to divide by (its square root); broadcasts against x."),
          "offset": (_docs.TENSOR + " or None", "beta, added after scaling; None adds nothing."),
          "scale": (_docs.TENSOR + " or None", "gamma, multiplies the normalized value; None means 1."),
          "variance_epsilon": ("float", "added to the variance to avoid dividing by zero.")},
    dtypes="float16, float32, float64, complex64, complex128 (TensorFlow: the floating ones); integer and bool "
           "inputs raise an error.",
    derivative="with inv = scale / sqrt(variance + eps) and xhat = (x - mean) / sqrt(variance + eps): d/dx = g "
               "* inv, d/d mean = -g * inv, d/d offset = g, d/d scale = g * xhat, d/d variance = -g * (x - mean) "
               "* inv / (2 (variance + eps)), each summed over the axes a statistic was broadcast along.",
    example="""
        >>> x = tg.constant([1.0, 2.0, 3.0])
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = tg.nn.batch_normalization(x, mean=2.0, variance=1.0, offset=0.0, scale=2.0,
        ...                                   variance_epsilon=0.0)
        >>> print(y.numpy(), tape.gradient(y, x).numpy())
        [-2.  0.  2.] [2. 2. 2.]
    """)
def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """Normalize x with given statistics: ``(x - mean) * scale / sqrt(variance + variance_epsilon) + offset``.
    The statistics are arguments (compute them with tapegrad.nn.moments); computed as TensorFlow does, ``x *
    inv + (offset - mean * inv)`` with ``inv = scale * rsqrt(variance + variance_epsilon)``, so float32
    results round alike."""
    x = as_tensor(x)
    inv = math_ops.rsqrt(_like(variance, x) + variance_epsilon)
    if scale is not None:
        inv = inv * _like(scale, x)
    shift = -(_like(mean, x) * inv) if offset is None else _like(offset, x) - _like(mean, x) * inv
    return x * inv + shift


def _like(v, x):
    """A statistic as a tensor of x's dtype (Python numbers take it)."""
    return _core.operands((x, v), "BatchNorm")[1]


@op_doc(
    tf="``tf.nn.bias_add``",
    numpy="``value + bias`` (channels last) or ``value + bias.reshape(-1, 1, ...)`` (channels first)",
    returns="A Tensor of value's shape.",
    args={"value": (_docs.TENSOR, "a tensor of rank at least 2."),
          "bias": (_docs.TENSOR, "a 1-d tensor, one entry per channel, value's dtype."),
          "data_format": ("str or None", "None or 'N...C': channels on the last axis; 'NC...': on axis 1.")},
    dtypes="every dtype value + bias accepts (TensorFlow: numeric dtypes); only floating inputs get gradients.",
    derivative="d/d value = g; d/d bias = g summed over every axis but the channel axis.",
    raises="InvalidArgumentError: bias not 1-d, value of rank below 2, or a bias length other than the channel "
           "count.",
    example="""
        >>> v, b = tg.zeros((2, 3)), tg.constant([1.0, 2.0, 3.0])
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(b)
        ...     y = tg.nn.bias_add(v, b)
        >>> print(y.numpy(), tape.gradient(y, b).numpy())
        [[1. 2. 3.]
         [1. 2. 3.]] [2. 2. 2.]
    """)
def bias_add(value, bias, data_format=None, name=None):
    """Add a 1-d bias to every position of value along its channel axis (the last axis, or axis 1 for a
    channels-first data_format)."""
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
