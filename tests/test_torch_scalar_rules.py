"""tapegrad.torch's float64 scalar paths (issue 14 item 4): add's and multiply's rules in C in the
graph's sweep (the core's Op.scalar_vjp, switched with the core's shortcuts), unary results made
in C, and a node's first two inputs held in C fields.  Each shortcut gives the Python rules' bits
(both paths run on the same program) and the derivative derived by hand or by finite
differences, never taken from tapegrad itself."""
import math
import warnings

import numpy as np
import pytest

import tapegrad.torch as torch
from tapegrad.test import numerical_jacobian

from conftest import both_paths, raises_fp_error_on_both_paths, warned


def _bits(v):
    return np.asarray(v, dtype=np.float64).view(np.int64).tolist()


def _chain_grad(steps):
    x = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(steps):
        y = torch.sin(y) * 1.0001 + 0.1
    (g,) = torch.autograd.grad(y, x)
    return g.item()


def test_the_scalar_chain_gives_the_python_rules_bits_and_the_derivative():
    on, off = both_paths(lambda: _chain_grad(300))
    assert _bits(on) == _bits(off)
    y, d = 0.5, 1.0                      # forward-mode recurrence
    for _ in range(300):
        d = 1.0001 * math.cos(y) * d
        y = 1.0001 * math.sin(y) + 0.1
    assert on == pytest.approx(d, rel=1e-12)


def test_both_inputs_require_grad():
    def grads():
        x = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
        w = torch.tensor(-0.3, dtype=torch.float64, requires_grad=True)
        y = x * w + x
        z = w * y * 3.0 + (y + 2.5)
        z.backward()
        return [x.grad.item(), w.grad.item()]
    on, off = both_paths(grads)
    assert _bits(on) == _bits(off)

    def f(x, w):
        y = x * w + x
        return w * y * 3.0 + (2.5 + y)
    num = [numerical_jacobian(f, [1.7, -0.3], i)[0, 0] for i in range(2)]
    np.testing.assert_allclose(on, num, rtol=1e-8)
    # by hand: dz/dx = (3w + 1)(w + 1), dz/dw = 3y + 3w x + x with y = x w + x
    x, w = 1.7, -0.3
    assert on[0] == pytest.approx((3 * w + 1) * (w + 1), rel=1e-14)
    assert on[1] == pytest.approx(3 * (x * w + x) + 3 * w * x + x, rel=1e-14)


@pytest.mark.parametrize("a, g_scale, flags", [(1e300, 1e10, True), (1e-300, 1e-20, True), (0.0, 1.0, False),
                                               (math.inf, 1.0, False)])
def test_products_numpy_would_flag_go_to_the_python_rules(a, g_scale, flags):
    def grad():
        x = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
        y = x * a
        (g,) = torch.autograd.grad(y, x, torch.tensor(g_scale, dtype=torch.float64))
        return g.item()

    (on, seen_on), (off, seen_off) = both_paths(lambda: warned(grad))
    assert _bits(on) == _bits(off)
    assert seen_on == seen_off and bool(seen_on) == (flags and a > 1.0)   # the overflow is reported
    if flags:
        raises_fp_error_on_both_paths(grad)


def test_float32_and_array_cotangents_use_the_python_rules():
    def grads():
        x = torch.tensor(0.25, requires_grad=True)                  # float32
        (gx,) = torch.autograd.grad(x * 3.0 + 1.0, x)
        v = torch.tensor([0.25, 2.0], dtype=torch.float64, requires_grad=True)
        (gv,) = torch.autograd.grad(v * 3.0 + 1.0, v, torch.ones(2, dtype=torch.float64))
        return gx.item(), gx.dtype, gv.numpy().tolist()
    on, off = both_paths(grads)
    assert on == off == (3.0, torch.float32, [3.0, 3.0])


def test_unary_float64_results_are_numpys_bits():
    # made in C from the op's scalar function: the value and type NumPy gives
    for name, ref in (("sin", np.sin), ("exp", np.exp), ("tanh", np.tanh), ("sqrt", np.sqrt)):
        v = np.float64(0.37)
        y = getattr(torch, name)(torch.tensor(v, dtype=torch.float64, requires_grad=True))
        assert type(y._value) is np.float64 and _bits(y._value) == _bits(ref(v))
        assert y.grad_fn.name() == name.title() + "Backward0"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = torch.log(torch.tensor(-1.0, dtype=torch.float64))       # a domain edge: NumPy's nan
    assert math.isnan(y.item()) and type(y._value) is np.float64


def test_nodes_of_one_two_and_three_inputs_keep_their_edges_and_saved_values():
    a = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    c = torch.tensor(5.0, dtype=torch.float64)
    s = torch.sin(a)
    p = s * b
    assert [type(f).__name__ if f is not None else None for f, _ in p.grad_fn.next_functions] == [
        "SinBackward0", "AccumulateGrad"]
    assert p.grad_fn._saved_tensors[0] is s and p.grad_fn._saved_tensors[1] is b
    assert s.grad_fn._saved_tensors[0] is a
    w = torch.stack([p, b, c])                                       # three inputs: the tuple layout
    nf = w.grad_fn.next_functions
    assert len(nf) == 3 and nf[0][0] is not None and nf[1][0] is not None and nf[2] == (None, 0)
    w.sum().backward()
    # d/da sum = b cos a;  d/db sum = sin a + 1
    assert a.grad.item() == pytest.approx(3.0 * math.cos(2.0), rel=1e-15)
    assert b.grad.item() == pytest.approx(math.sin(2.0) + 1.0, rel=1e-15)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        _ = p.grad_fn._saved_tensors
