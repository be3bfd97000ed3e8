"""The engine's one-place conventions: one operator table for Tensor and
Variable, one operand conversion for every op family, one way to call a rule
(Op.vjp / Op.jvp), and linear ops whose JVP is the op itself."""
import operator

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops import _registry

# ---- one operator table ------------------------------------------------------------------

BINARY_OPERATORS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
                    operator.mod, operator.pow, operator.lt, operator.le, operator.gt, operator.ge,
                    operator.eq, operator.ne]
LOGICAL_OPERATORS = [operator.and_, operator.or_, operator.xor]
UNARY_OPERATORS = [operator.neg, operator.pos, operator.abs]


def _pair():
    return tg.constant([1.5, -2.0, 3.0]), tg.Variable([1.5, -2.0, 3.0])


@pytest.mark.parametrize("op", BINARY_OPERATORS, ids=lambda f: f.__name__)
def test_every_binary_operator_of_tensor_works_on_variable_both_ways(op):
    t, v = _pair()
    for other in (2.0, np.array([1.0, 2.0, 4.0], dtype=np.float32), tg.constant([0.5, 1.0, 2.0])):
        np.testing.assert_array_equal(np.asarray(op(v, other)), np.asarray(op(t, other)))
        np.testing.assert_array_equal(np.asarray(op(other, v)), np.asarray(op(other, t)))


@pytest.mark.parametrize("op", LOGICAL_OPERATORS, ids=lambda f: f.__name__)
def test_logical_operators_work_on_bool_variables(op):
    t, v = tg.constant([True, False]), tg.Variable([True, False])
    other = tg.constant([True, True])
    np.testing.assert_array_equal(op(v, other).numpy(), op(t, other).numpy())
    np.testing.assert_array_equal(op(other, v).numpy(), op(other, t).numpy())
    np.testing.assert_array_equal((~v).numpy(), (~t).numpy())


@pytest.mark.parametrize("op", UNARY_OPERATORS, ids=lambda f: f.__name__)
def test_unary_operators_work_on_variable(op):
    t, v = _pair()
    r = op(v)
    assert isinstance(r, tg.Tensor)
    np.testing.assert_array_equal(r.numpy(), op(t).numpy())


def test_matmul_and_python_protocols_work_on_variable():
    m = np.arange(4.0, dtype=np.float32).reshape(2, 2)
    t, v = tg.constant(m), tg.Variable(m)
    np.testing.assert_array_equal((v @ t).numpy(), (t @ t).numpy())
    np.testing.assert_array_equal((m @ v).numpy(), (m @ t).numpy())
    assert len(v) == len(t) == 2
    assert [r.numpy().tolist() for r in v] == [r.numpy().tolist() for r in t]
    s_t, s_v = tg.constant(2.5), tg.Variable(2.5)
    for conv in (float, int, bool, complex):
        assert conv(s_v) == conv(s_t)
    i_t, i_v = tg.constant(3), tg.Variable(3)
    assert [10, 11, 12, 13][i_v] == [10, 11, 12, 13][i_t] == 13
    assert v.shape == t.shape and v.dtype == t.dtype and v.ndim == t.ndim


def test_numpy_protocols_work_on_variable_and_are_recorded():
    v = tg.Variable([0.5, 1.0])
    with tg.GradientTape() as tape:
        y = np.sum(np.sin(v))                # __array_function__ and __array_ufunc__
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), np.cos([0.5, 1.0]), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(v), np.array([0.5, 1.0], dtype=np.float32))


def test_tensor_and_variable_share_one_operator_table():
    # The table is one class: a new operator added there reaches both.
    names = ["__add__", "__radd__", "__invert__", "__and__", "__xor__", "__matmul__", "__array_ufunc__",
             "__array_function__", "__len__", "__complex__", "__index__"]
    for name in names:
        assert getattr(tg.Tensor, name) is getattr(tg.Variable, name), name


def test_operators_read_the_variable_so_tapes_watch_it():
    v = tg.Variable(3.0)
    with tg.GradientTape() as tape:
        y = -v * v
    assert tape.gradient(y, v).numpy() == -6.0
    assert [w.ref() for w in tape.watched_variables()] == [v.ref()]


# ---- one operand conversion ----------------------------------------------------------------

def test_a_non_tensor_operand_takes_the_tensor_dtype():
    f32 = tg.constant([1.0, 2.0])
    f64 = tg.constant([1.0, 2.0], dtype=tg.float64)
    assert (f32 * np.array([2.0, 3.0])).dtype == tg.float32            # float64 ndarray
    assert (np.array([2.0, 3.0]) * f32).dtype == tg.float32
    assert (f64 * np.array([True, False])).dtype == tg.float64          # bool ndarray
    assert (f64 + np.array([1, 2], dtype=np.int64)).dtype == tg.float64
    np.testing.assert_array_equal((f64 * np.array([True, False])).numpy(), [1.0, 0.0])


@pytest.mark.parametrize("combine", [
    lambda t, v: t + v,
    lambda t, v: tg.where(tg.constant([True, False]), t, v),
    lambda t, v: tg.concat([t, v], 0),
    lambda t, v: tg.stack([t, v]),
    lambda t, v: tg.maximum(t, v),
    lambda t, v: tg.math.divide_no_nan(t, v),
], ids=["add", "where", "concat", "stack", "maximum", "divide_no_nan"])
def test_every_family_converts_operands_the_same_way(combine):
    t = tg.constant([1.0, 2.0])
    for v in ([3.0, 4.0], np.array([3.0, 4.0]), np.array([3, 4]), (np.float64(3.0), 4)):
        assert combine(t, v).dtype == tg.float32
    with pytest.raises(InvalidArgumentError, match="expected to be a float32 tensor but is a float64"):
        combine(t, tg.constant([3.0, 4.0], dtype=tg.float64))


def test_conversions_that_lose_information_raise_type_error():
    i32 = tg.constant([1, 2])
    assert (i32 + np.array([1.0, 2.0])).dtype == tg.int32                # integral floats convert
    with pytest.raises(TypeError, match="Cannot convert"):
        i32 + np.array([1.5, 2.0])
    with pytest.raises(TypeError, match="Cannot convert"):
        i32 + 1.5
    with pytest.raises(TypeError, match="complex"):
        tg.constant([1.0]) + np.array([1 + 2j])
    with pytest.raises(ValueError, match="unsupported type"):    # TensorFlow's type for an unconvertible object
        tg.constant([1.0]) + object()


def test_a_converted_operand_is_a_copy():
    a = np.array([1.0, 2.0], dtype=np.float32)
    y = tg.where(tg.constant([True, False]), tg.constant([0.0, 0.0]), a)
    a[:] = 7
    np.testing.assert_array_equal(y.numpy(), [0.0, 2.0])


def test_operands_names_the_op_and_input():
    with pytest.raises(InvalidArgumentError, match=r"cannot compute MatMul as input #1\(zero-based\)"):
        tg.matmul(tg.ones([2, 2]), tg.ones([2, 2], dtype=tg.float64))


# ---- one rule-call convention ----------------------------------------------------------------

def test_every_op_has_one_calling_convention():
    callings = {_core.CALL_UNARY, _core.CALL_BINARY, _core.CALL_POSITIONAL, _core.CALL_VARIADIC}
    for name, op in _registry.OPS.items():
        assert op.calling in callings, name
    assert tg.sin.calling == _core.CALL_UNARY and tg.multiply.calling == _core.CALL_BINARY
    assert _registry.OPS["concat"].calling == _core.CALL_VARIADIC
    assert _registry.OPS["reshape"].calling == _core.CALL_POSITIONAL


def test_op_vjp_is_the_rule_as_the_sweep_calls_it():
    x = np.array([0.3, 0.7])
    g = np.array([1.0, 2.0])
    np.testing.assert_allclose(tg.sin.vjp(0, g, None, (x,)), g * np.cos(x))
    # A BINARY op's gradient is un-broadcast to the shape given in params.
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    gy = np.ones((2, 2))
    np.testing.assert_allclose(tg.multiply.vjp(0, gy, None, (x, y), ((2,), (2, 2))), [4.0, 6.0])
    # ... keeping leading batch axes of a batched cotangent.
    gb = np.ones((3, 2, 2))
    assert tg.multiply.vjp(0, gb, None, (x, y), ((2,), (2, 2)), 1).shape == (3, 2)


def test_op_jvp_is_the_rule_as_forward_mode_calls_it():
    x = np.array([0.3, 0.7])
    t = np.array([1.0, -1.0])
    np.testing.assert_allclose(tg.sin.jvp(0, t, np.sin(x), (x,)), t * np.cos(x))
    concat = _registry.OPS["concat"]
    out = concat.jvp(1, t, None, (x, x), (-1, (2, 2), (4,)))
    np.testing.assert_allclose(out, [0.0, 0.0, 1.0, -1.0])


def test_a_joint_op_is_called_through_the_same_methods():
    def vjp(g, ans, needs, inputs):
        return tuple(g * 2 if need else None for need in needs)

    def jvp(tangents, ans, inputs):
        return sum(2 * t for t in tangents if t is not None)

    op = _core.Op("twice_sum", lambda a, b: 2 * (a + b), (vjp,), jvps=(jvp,), joint=True)
    assert op.calling == _core.CALL_JOINT
    assert op.vjp(1, 3.0, None, (1.0, 2.0)) == 6.0
    assert op.jvp(0, 5.0, None, (1.0, 2.0)) == 10.0


LINEAR = [name for name, op in _registry.OPS.items() if op.linear]


def test_the_linear_ops_declare_it():
    assert set(LINEAR) >= {"reshape", "broadcast_to", "transpose", "getitem", "scatter_into_zeros", "reverse",
                           "reduce_sum", "reduce_mean", "cumsum", "diag_part"}


def test_a_linear_op_needs_one_input_and_no_jvp():
    with pytest.raises(ValueError, match="linear op"):
        _registry.general("not_registered_linear", lambda x, y: x + y, (None, None), linear=True)
    assert "not_registered_linear" not in _registry.OPS


def test_a_linear_ops_jvp_is_its_forward_on_the_tangent_on_both_paths():
    x = np.arange(6.0).reshape(2, 3)
    t = np.linspace(-1, 1, 6).reshape(2, 3)
    op = _registry.OPS["transpose"]
    np.testing.assert_array_equal(op.jvp(0, t, None, (x,), ((1, 0),)), t.T)
    tt = tg.constant(t)
    with tg.GradientTape() as tape:
        tape.watch(tt)
        out = op.jvp(0, tt, None, (x,), ((1, 0),))
    assert isinstance(out, tg.Tensor)
    np.testing.assert_array_equal(tape.gradient(out, tt, output_gradients=tg.constant(x.T)).numpy(), x)


def test_the_shared_base_class_is_not_a_tensor():
    # Its methods read a Tensor's or a Variable's value: on a bare instance they
    # must raise, not read memory that is not there.
    bare = _core._Operand()
    for f in (float, len, bool, lambda o: o.shape, lambda o: o.numpy(), lambda o: o + 1.0):
        with pytest.raises(TypeError):
            f(bare)


def test_a_rule_call_from_python_is_checked_before_the_core_indexes_anything():
    x = np.array([0.3])
    with pytest.raises(IndexError):
        tg.sin.vjp(1, x, None, (x,))
    with pytest.raises(ValueError, match="takes 1 inputs"):
        tg.sin.jvp(0, x, None, ())
    with pytest.raises(ValueError, match="two input shapes"):
        tg.multiply.vjp(0, x, None, (x, x), ((1,),))
    with pytest.raises(TypeError, match="params must be a tuple"):
        _registry.OPS["reshape"].vjp(0, x, None, (x,), [(1,), (1,)])


def test_sum_to_shape_refuses_a_shape_it_cannot_sum_to():
    np.testing.assert_array_equal(_core.sum_to_shape(np.ones((2, 3)), (1, 3)), [[2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(_core.sum_to_shape(np.ones((4, 2, 3)), (3,), 1), np.full((4, 3), 2.0))
    for shape, batch in (((1, 1), 0), ((3,), -1), ((3,), 5)):
        with pytest.raises(ValueError, match="cannot sum a gradient"):
            _core.sum_to_shape(np.ones(3), shape, batch)
