"""tf.linalg.band_part: keep a band of diagonals of the last two axes, zero
the rest.  Linear, so its gradient (and JVP) is the same band of the
cotangent; the band is addressed from the end, so leading batch axes of a
cotangent pass through."""
import numpy as np

from tapegrad._core import apply
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops import _docs
from tapegrad.ops._docs import op_doc
from tapegrad.ops._registry import call, general, raw
from tapegrad.ops._shapes import as_tensor, shape_of


def _band_mask(rows, cols, lower, upper):
    i = np.arange(rows)[:, None]
    j = np.arange(cols)[None, :]
    keep = np.ones((rows, cols), dtype=bool)
    if lower >= 0:
        keep &= (i - j) <= lower
    if upper >= 0:
        keep &= (j - i) <= upper
    return keep


def _band_forward(x, lower, upper):
    shape = np.shape(x)
    mask = _band_mask(shape[-2], shape[-1], lower, upper)
    return np.where(mask, x, np.zeros((), dtype=np.result_type(raw(x))))


band_part_op = general("band_part", _band_forward,
                       (lambda g, ans, x, lower, upper: call(band_part_op, g, params=(lower, upper)),), linear=True)


@op_doc(
    tf="``tf.linalg.band_part``",
    numpy="``numpy.triu(numpy.tril(x, num_upper), -num_lower)`` (for non-negative counts)",
    returns="A Tensor of input's shape and dtype.",
    args={"input": (_docs.TENSOR, "a tensor of rank at least 2: a batch of matrices on its last two axes."),
          "num_lower": ("int or integer scalar Tensor", "how many subdiagonals to keep; negative keeps the whole "
                                                        "lower triangle."),
          "num_upper": ("int or integer scalar Tensor", "how many superdiagonals to keep; negative keeps the whole "
                                                        "upper triangle.")},
    dtypes="any dtype (the values are kept or zeroed, not computed on); only floating inputs get gradients.",
    derivative="d/d input = band_part(g, num_lower, num_upper): the same band of g, zero outside it.",
    raises="InvalidArgumentError: input of rank below 2, num_lower above the row count or num_upper above the "
           "column count.",
    example="""
        >>> print(tg.linalg.band_part(tg.ones((3, 3)), 0, 1).numpy())    # the diagonal and one above it
        [[1. 1. 0.]
         [0. 1. 1.]
         [0. 0. 1.]]
    """)
def band_part(input, num_lower, num_upper, name=None):
    """Keep a band of diagonals of each matrix, zero the rest: entry (m, n) is kept where ``(num_lower < 0 or
    m - n <= num_lower) and (num_upper < 0 or n - m <= num_upper)``. ``band_part(x, 0, -1)`` is the upper
    triangle, ``band_part(x, -1, 0)`` the lower one, ``band_part(x, 0, 0)`` the diagonal."""
    t = as_tensor(input)
    if len(shape_of(t)) < 2:
        raise InvalidArgumentError(f"input must be at least 2-dim, received shape: {list(shape_of(t))} "
                                   f"[Op:MatrixBandPart]")
    lower, upper = int(np.asarray(num_lower)), int(np.asarray(num_upper))
    rows, cols = shape_of(t)[-2:]
    if lower > rows:
        raise InvalidArgumentError(f"num_lower must be negative or less or equal to number of rows ({rows}) got: "
                                   f"{lower} [Op:MatrixBandPart]")
    if upper > cols:
        raise InvalidArgumentError(f"num_upper must be negative or less or equal to number of columns ({cols}) "
                                   f"got: {upper} [Op:MatrixBandPart]")
    return apply(band_part_op, (t,), (lower, upper))
