"""TensorFlow's exception *types* for bad input (issue 12): one row per bad input,
with the type TensorFlow 2.21 raises for it (from its kernels' and Python
wrappers' documented behaviour: unconvertible Python objects -> ValueError,
an op on a dtype it has no kernel for and run-time shape mismatches ->
InvalidArgumentError, lossy or out-of-range conversions and non-tensor misuse
-> TypeError, tape misuse -> its ValueError / RuntimeError).

Every row runs twice: on its own, and while a persistent tape records, after
which the tape's gradients must still be the hand-derived ones.  docs/errors.md
lists the table (a test below keeps the two in step)."""
import pathlib
import re

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.errors import InvalidArgumentError

ROWS = []


def row(label, fn, exc):
    ROWS.append((label, fn, exc))


def _x():
    return tg.constant([1.0, 2.0, 3.0])


def _m():
    return tg.constant([[1.0, 2.0], [3.0, 4.0]])


def _i():
    return tg.constant([1, 2, 3])


# ---- Python objects that are no tensor value: ValueError ("Attempt to convert a value ...")
_UNCONVERTIBLE = {
    "None": lambda: None, "object()": object, "dict": dict, "set": set, "frozenset": frozenset,
    "generator": lambda: (k for k in range(3)), "function": lambda: len, "str": lambda: "abc",
    "bytes": lambda: b"abc", "lambda": lambda: (lambda: 1.0),
}
_CONTEXTS = {
    "constant": lambda v: tg.constant(v),
    "constant(dtype=float32)": lambda v: tg.constant(v, dtype=tg.float32),
    "convert_to_tensor": lambda v: tg.convert_to_tensor(v),
    "tensor + value": lambda v: _x() + v,
    "value * tensor": lambda v: v * _x(),
    "multiply(tensor, value)": lambda v: tg.multiply(_x(), v),
    "sin(value)": lambda v: tg.sin(v),
    "reduce_sum(value)": lambda v: tg.reduce_sum(v),
}
for _name, _make in _UNCONVERTIBLE.items():
    for _ctx, _call in _CONTEXTS.items():
        row(f"{_ctx} of {_name}", lambda c=_call, m=_make: c(m()), ValueError)
row("Variable(None)", lambda: tg.Variable(None), ValueError)
row("Variable(object())", lambda: tg.Variable(object()), ValueError)
row("Variable of a dict", lambda: tg.Variable({"a": 1.0}), ValueError)
row("constant of a list holding None", lambda: tg.constant([1.0, None]), ValueError)
row("constant(dtype=float32) of a list holding None", lambda: tg.constant([1.0, None], dtype=tg.float32), ValueError)
row("constant of a ragged list", lambda: tg.constant([[1.0], [1.0, 2.0]]), ValueError)

# ---- a float-only op on an integer or bool tensor: InvalidArgumentError (no kernel for the dtype)
_FLOAT_ONLY = {"sin": tg.sin, "cos": tg.cos, "exp": tg.exp, "log": tg.math.log, "sqrt": tg.sqrt, "tanh": tg.tanh,
               "sigmoid": tg.sigmoid, "log1p": tg.math.log1p, "expm1": tg.math.expm1, "rsqrt": tg.math.rsqrt,
               "atan": tg.math.atan, "asin": tg.math.asin}
for _name, _op in _FLOAT_ONLY.items():
    row(f"{_name} of an int32 tensor", lambda op=_op: op(_i()), InvalidArgumentError)
    row(f"{_name} of a bool tensor", lambda op=_op: op(tg.constant([True, False])), InvalidArgumentError)
row("softmax of an int32 tensor", lambda: tg.nn.softmax(_i()), InvalidArgumentError)

# ---- two tensors of different dtypes: InvalidArgumentError (no implicit promotion)
_BINARY = {"add": tg.add, "subtract": tg.subtract, "multiply": tg.multiply, "divide": tg.math.truediv,
           "maximum": tg.maximum, "minimum": tg.minimum, "pow": tg.pow,
           "squared_difference": tg.math.squared_difference, "atan2": tg.math.atan2}
for _name, _op in _BINARY.items():
    row(f"{_name} of float32 and float64 tensors",
        lambda op=_op: op(_x(), tg.constant([1.0, 2.0, 3.0], dtype=tg.float64)), InvalidArgumentError)
    row(f"{_name} of float32 and int32 tensors", lambda op=_op: op(_x(), _i()), InvalidArgumentError)
    row(f"{_name} of shapes [3] and [2]", lambda op=_op: op(_x(), tg.constant([1.0, 2.0])), InvalidArgumentError)
row("x + y, float32 and float64", lambda: _x() + tg.constant([1.0, 2.0, 3.0], dtype=tg.float64), InvalidArgumentError)
row("x * y, shapes [3] and [2, 2]", lambda: _x() * _m(), InvalidArgumentError)
row("matmul of float32 and float64", lambda: tg.matmul(_m(), tg.ones([2, 2], dtype=tg.float64)), InvalidArgumentError)
row("concat of float32 and int32", lambda: tg.concat([_x(), _i()], axis=0), InvalidArgumentError)

# ---- shapes, axes and indices at run time: InvalidArgumentError
for _name, _op in {"reduce_sum": tg.reduce_sum, "reduce_mean": tg.reduce_mean, "reduce_max": tg.reduce_max,
                   "reduce_min": tg.reduce_min, "reduce_prod": tg.reduce_prod}.items():
    row(f"{_name} with axis 5 of a vector", lambda op=_op: op(_x(), axis=5), InvalidArgumentError)
    row(f"{_name} with axis -3 of a vector", lambda op=_op: op(_x(), axis=-3), InvalidArgumentError)
row("argmax with axis 3", lambda: tg.argmax(_x(), axis=3), InvalidArgumentError)
row("cumsum with axis 2", lambda: tg.cumsum(_x(), axis=2), InvalidArgumentError)
row("concat with axis 3", lambda: tg.concat([_x(), _x()], axis=3), InvalidArgumentError)
row("concat of shapes [3] and [2, 2]", lambda: tg.concat([_x(), _m()], axis=0), InvalidArgumentError)
row("stack of shapes [3] and [2]", lambda: tg.stack([_x(), tg.ones([2])]), InvalidArgumentError)
row("expand_dims with axis 5", lambda: tg.expand_dims(_x(), 5), InvalidArgumentError)
row("transpose with perm [0, 0]", lambda: tg.transpose(_m(), [0, 0]), InvalidArgumentError)
row("transpose with perm [0]", lambda: tg.transpose(_m(), [0]), InvalidArgumentError)
row("squeeze of an axis of size 2", lambda: tg.squeeze(_m(), axis=0), InvalidArgumentError)
row("split of 3 into 2", lambda: tg.split(_x(), 2), InvalidArgumentError)
row("slice past the end", lambda: tg.slice(_x(), [2], [5]), InvalidArgumentError)
row("broadcast_to [3] -> [2, 2]", lambda: tg.broadcast_to(_x(), [2, 2]), InvalidArgumentError)
row("reshape 3 values to [2]", lambda: tg.reshape(_x(), [2]), InvalidArgumentError)
row("reshape to [-1, -1]", lambda: tg.reshape(_m(), [-1, -1]), InvalidArgumentError)
row("reshape to a negative dimension", lambda: tg.reshape(_x(), [-2]), InvalidArgumentError)
row("reshape to a float dimension", lambda: tg.reshape(_x(), [3.0]), InvalidArgumentError)
row("tile with float multiples", lambda: tg.tile(_x(), [2.0]), InvalidArgumentError)
row("tile with 2 multiples for a vector", lambda: tg.tile(_x(), [2, 2]), InvalidArgumentError)
row("tile with negative multiples", lambda: tg.tile(_x(), [-1]), InvalidArgumentError)
row("matmul of vectors", lambda: tg.matmul(_x(), _x()), InvalidArgumentError)
row("matmul of a vector and a matrix", lambda: tg.matmul(tg.ones([2]), _m()), InvalidArgumentError)
row("matmul of [2, 2] and [3, 2]", lambda: tg.matmul(_m(), tg.ones([3, 2])), InvalidArgumentError)
row("matmul with unbroadcastable batches", lambda: tg.matmul(tg.ones([2, 2, 2]), tg.ones([3, 2, 2])),
    InvalidArgumentError)
row("tensordot with different contracted sizes", lambda: tg.tensordot(_x(), tg.ones([2]), axes=1),
    InvalidArgumentError)
row("inv of a non-square matrix", lambda: tg.linalg.inv(tg.ones([2, 3])), InvalidArgumentError)
row("cholesky of a non-square matrix", lambda: tg.linalg.cholesky(tg.ones([2, 3])), InvalidArgumentError)
row("gather index 5 of 3", lambda: tg.gather(_x(), [5]), InvalidArgumentError)
row("where with a float condition", lambda: tg.where(tg.constant([1.0, 0.0, 1.0]), _x(), _x()),
    InvalidArgumentError)
row("where with an int condition", lambda: tg.where(_i(), _x(), _x()), InvalidArgumentError)
row("int tensor ** -1", lambda: _i() ** -1, InvalidArgumentError)
row("pow of ints with a negative exponent", lambda: tg.pow(_i(), tg.constant([-1, 1, 1])), InvalidArgumentError)
row("assign_add of another shape", lambda: tg.Variable([1.0, 2.0]).assign_add([1.0, 2.0, 3.0]),
    InvalidArgumentError)
row("assign_sub of another shape", lambda: tg.Variable([1.0, 2.0]).assign_sub([1.0, 2.0, 3.0]),
    InvalidArgumentError)
row("tensor[5] of a vector of 3", lambda: _x()[5], InvalidArgumentError)
row("tensor[-4] of a vector of 3", lambda: _x()[-4], InvalidArgumentError)
row("tensor[0, 0] of a vector", lambda: _x()[0, 0], InvalidArgumentError)
row("matrix[:, 2] of a 2x2 matrix", lambda: _m()[:, 2], InvalidArgumentError)
row("tensor[1.5]", lambda: _x()[1.5], TypeError)
row("tensor['a']", lambda: _x()["a"], TypeError)
row("pad with paddings of the wrong rank", lambda: tg.pad(_x(), [[1, 1], [1, 1]]), InvalidArgumentError)
row("pad with negative paddings", lambda: tg.pad(_x(), [[-1, 1]]), InvalidArgumentError)

# ---- conversions that lose information, and Python protocols: TypeError
row("constant(1.5, dtype=int32)", lambda: tg.constant(1.5, dtype=tg.int32), TypeError)
row("constant([1.5], dtype=int32)", lambda: tg.constant([1.5], dtype=tg.int32), TypeError)
row("constant(2**40, dtype=int32)", lambda: tg.constant(2**40, dtype=tg.int32), TypeError)
row("constant([1, 2**40], dtype=int32)", lambda: tg.constant([1, 2**40], dtype=tg.int32), TypeError)
row("constant(300, dtype=int8)", lambda: tg.constant(300, dtype=tg.int8), TypeError)
row("constant(-1, dtype=uint8)", lambda: tg.constant(-1, dtype=tg.uint8), TypeError)
row("int tensor + 1.5", lambda: _i() + 1.5, TypeError)
row("float tensor + complex array", lambda: _x() + np.array([1j, 0, 0]), TypeError)
row("clip_by_value of ints to 0.5", lambda: tg.clip_by_value(_i(), 0.5, 1.5), TypeError)
row("hash(tensor)", lambda: hash(_x()), TypeError)
row("hash(variable)", lambda: hash(tg.Variable(1.0)), TypeError)
row("tensor[0] = 1", lambda: _x().__setitem__(0, 1.0), TypeError)
row("variable[0] = 1", lambda: tg.Variable([1.0]).__setitem__(0, 1.0), TypeError)
row("len(scalar)", lambda: len(tg.constant(1.0)), TypeError)
row("iter(scalar)", lambda: iter(tg.constant(1.0)), TypeError)
row("float(vector)", lambda: float(_x()), TypeError)
row("list index with a float tensor", lambda: [1, 2][tg.constant(1.0)], TypeError)
row("cast to an unknown dtype", lambda: tg.cast(_x(), "nonsense"), TypeError)
row("Variable with an unknown dtype", lambda: tg.Variable(1.0, dtype="foo"), TypeError)
row("gradient(None, x)", lambda: _taped(lambda t, x: t.gradient(None, x)), TypeError)
row("gradient with a None source", lambda: _taped(lambda t, x: t.gradient(x * x, [x, None])), TypeError)

# ---- values and tape misuse: ValueError, RuntimeError, AttributeError
row("assign of another shape", lambda: tg.Variable([1.0, 2.0]).assign([1.0, 2.0, 3.0]), ValueError)
row("bool(vector)", lambda: bool(_x()), ValueError)
row("tensordot with axes=-1", lambda: tg.tensordot(_x(), _x(), axes=-1), ValueError)
row("tensordot with axes=3 for vectors", lambda: tg.tensordot(_x(), _x(), axes=3), ValueError)
row("tensordot with axis lists of different lengths", lambda: tg.tensordot(_m(), _m(), axes=[[0], [0, 1]]),
    ValueError)
row("re-entering a recording tape", lambda: _reenter(), ValueError)
row("reset() of a tape not recording", lambda: _exited().reset(), ValueError)
row("stop_recording() of a tape never entered", lambda: tg.GradientTape().stop_recording().__enter__(), RuntimeError)
row("a second gradient() of a one-shot tape", lambda: _second_gradient(), RuntimeError)
row("gradient() of a tape never entered", lambda: tg.GradientTape().gradient(_x(), _x()), RuntimeError)
row("watch() of a float", lambda: _taped(lambda t, x: t.watch(1.0)), ValueError)
row("watch() before entering", lambda: tg.GradientTape().watch(_x()), AttributeError)
row("unconnected_gradients='ZERO'", lambda: _taped(lambda t, x: t.gradient(x * x, x, unconnected_gradients="ZERO")),
    ValueError)
row("output_gradients=[None]", lambda: _taped(lambda t, x: t.gradient(x * x, x, output_gradients=[None])),
    ValueError)
row("output_gradients of the wrong shape",
    lambda: _taped(lambda t, x: t.gradient(x * x, x, output_gradients=tg.ones([2]))), InvalidArgumentError)
row("jacobian(experimental_use_pfor=False) of a one-shot tape",
    lambda: _taped(lambda t, x: t.jacobian(x * x, x, experimental_use_pfor=False), persistent=False), RuntimeError)
row("batch_jacobian of a vector", lambda: _taped(lambda t, x: t.batch_jacobian(x * x, x)), ValueError)
row("variable += 1", lambda: tg.Variable(1.0).__iadd__(1.0), RuntimeError)
row("gradient() target that is an ndarray", lambda: _taped(lambda t, x: t.gradient(np.ones(3), x)), AttributeError)


def _taped(fn, persistent=True):
    x = _x()
    with tg.GradientTape(persistent=persistent) as t:
        t.watch(x)
    return fn(t, x)


def _reenter():
    t = tg.GradientTape()
    with t:
        with t:
            pass


def _exited():
    t = tg.GradientTape()
    with t:
        pass
    return t


def _second_gradient():
    x = _x()
    with tg.GradientTape() as t:
        t.watch(x)
        y = x * x
    t.gradient(y, x)
    t.gradient(y, x)


def test_the_table_has_at_least_150_rows_with_unique_labels():
    labels = [label for label, _, _ in ROWS]
    assert len(labels) >= 150
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize("label, fn, exc", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_raises_tensorflows_type_alone_and_while_a_tape_records(label, fn, exc):
    with pytest.raises(exc) as info:
        fn()
    assert str(info.value)             # a message, not a bare exception
    # again while a persistent tape records: its gradients must stay the hand-derived ones
    v = tg.Variable([1.0, 2.0, 3.0])
    with tg.GradientTape(persistent=True) as tape:
        before = tg.reduce_sum(v * v)
        with pytest.raises(exc):
            fn()
        after = tg.reduce_sum(v * v * v)
    np.testing.assert_allclose(tape.gradient(before, v).numpy(), [2.0, 4.0, 6.0])      # d sum(v^2) = 2v
    np.testing.assert_allclose(tape.gradient(after, v).numpy(), [3.0, 12.0, 27.0])     # d sum(v^3) = 3v^2
    assert tape._wengert not in tg._core.active_recorders() and not tape._recording


def test_docs_errors_page_lists_every_row():
    page = (pathlib.Path(__file__).parent.parent / "docs" / "errors.md").read_text()
    table = page[page.index("<!-- error-table -->"):page.index("<!-- /error-table -->")]
    listed = dict(re.findall(r"^\| (.+?) \| `(\w+)` \|$", table, flags=re.M))
    assert {label: exc.__name__ for label, _, exc in ROWS} == listed


def error_table_markdown():
    """The table as docs/errors.md shows it (`python tests/test_error_types.py`)."""
    lines = ["| bad input | exception type |", "|---|---|"]
    lines += [f"| {label} | `{exc.__name__}` |" for label, _, exc in ROWS]
    return "\n".join(lines)


if __name__ == "__main__":
    print(error_table_markdown())
