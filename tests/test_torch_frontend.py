"""tapegrad.torch: PyTorch's autograd API.  Every expected value, repr and error text
below is PyTorch 2.13's, observed by running PyTorch and written in as a literal
(PyTorch is not a test dependency).  The module only uses PyTorch's public API, so it
doubles as a cross-check: with its two imports switched to `torch`, it passes under
PyTorch 2.13.0+cpu too (checked on 2026-11-28)."""
import gc
import os
import re
import subprocess
import sys
import threading
import tracemalloc
import weakref

import numpy as np
import pytest

import tapegrad.torch as torch
import tapegrad.torch.nn.functional as F

FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after they have "
         "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
         "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or "
         "if you need to access saved tensors after calling backward.")


def raises(exc, text):
    return pytest.raises(exc, match=re.escape(text))


# ---------------------------------------------------------------- the seed's PyTorch cells (d2l autograd)

def test_seed_first_gradient_and_accumulation():
    x = torch.arange(4, dtype=torch.float32)
    assert repr(x) == "tensor([0., 1., 2., 3.])"
    with raises(RuntimeError, "element 0 of tensors does not require grad and does not have a grad_fn"):
        (2 * torch.dot(x, x)).backward()
    assert x.requires_grad is False
    assert repr(x.requires_grad_(True)) == "tensor([0., 1., 2., 3.], requires_grad=True)"
    assert x.grad is None
    y = 2 * torch.dot(x, x)
    y.backward()
    assert repr(x.grad) == "tensor([ 0.,  4.,  8., 12.])"
    assert repr(x.grad == 4 * x) == "tensor([True, True, True, True])"
    assert repr(x.grad.zero_()) == "tensor([0., 0., 0., 0.])"
    x.sum().backward()
    assert repr(x.grad) == "tensor([1., 1., 1., 1.])"


def test_seed_non_scalar_backward():
    x = torch.arange(4, dtype=torch.float32, requires_grad=True)
    y = x * x
    assert repr(y) == "tensor([0., 1., 4., 9.], grad_fn=<MulBackward0>)"
    with raises(RuntimeError, "grad can be implicitly created only for scalar outputs"):
        y.backward()
    y.sum().backward()
    assert repr(x.grad) == "tensor([0., 2., 4., 6.])"
    y = x * x
    y.backward(torch.ones(len(x)))
    assert repr(x.grad) == "tensor([ 0.,  4.,  8., 12.])"      # accumulated, top to bottom


def test_seed_detach():
    x = torch.arange(4, dtype=torch.float32, requires_grad=True)
    y = x * x
    u = y.detach()
    z = u * x
    assert repr(z) == "tensor([ 0.,  1.,  8., 27.], grad_fn=<MulBackward0>)"
    z.sum().backward()
    assert repr(x.grad) == "tensor([0., 1., 4., 9.])"
    assert repr(x.grad == u) == "tensor([True, True, True, True])"
    x.grad.zero_()
    y.sum().backward()                    # y's graph is disjoint from z's: not freed
    assert repr(x.grad == 2 * x) == "tensor([True, True, True, True])"


def _seed_f(a):
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


@pytest.mark.parametrize("a0", [-1.5694, 0.3, 1.541])
def test_seed_control_flow(a0):
    a = torch.tensor(a0, requires_grad=True)
    d = _seed_f(a)
    d.backward()
    assert repr(d).endswith("grad_fn=<MulBackward0>)")
    k = 1024 if abs(a0) > 1 else 4096            # b = a * k, the first power of two with |b| >= 1000
    assert a.grad.item() == k * (1 if a0 > 0 else 100)
    assert (torch.tensor(a0) * 2 < 1000).item()


def test_seed_values_format():
    assert repr((torch.tensor(-1.5694, requires_grad=True), torch.tensor(-160708.2188, requires_grad=True) * 1,
                 torch.tensor(102400.), torch.tensor(True))) == (
        "(tensor(-1.5694, requires_grad=True), tensor(-160708.2188, grad_fn=<MulBackward0>), tensor(102400.), "
        "tensor(True))")
    d = torch.tensor([[-248.2693, 1364.9205], [-1133.4603, 396.8123]], requires_grad=True) * 1
    assert repr(d) == ("tensor([[ -248.2693,  1364.9205],\n"
                       "        [-1133.4603,   396.8123]], grad_fn=<MulBackward0>)")


def test_seed_second_backward_error_and_retain_graph():
    x = torch.arange(4, dtype=torch.float32, requires_grad=True)
    y = x * x
    y.sum().backward(retain_graph=True)
    assert repr(x.grad) == "tensor([0., 2., 4., 6.])"
    y.sum().backward(retain_graph=True)
    assert repr(x.grad) == "tensor([ 0.,  4.,  8., 12.])"
    x.grad = None
    y = x * x
    y.sum().backward()
    with raises(RuntimeError, FREED):
        y.sum().backward()
    assert repr(x.grad) == "tensor([0., 2., 4., 6.])"


def test_seed_exercise_matrix():
    a = torch.tensor([[0.40, -0.2], [0.1, 0.7]], requires_grad=True)
    d = _seed_f(a)
    d.sum().backward()                    # |a| = 0.84: b = a * 2 * 1024 reaches norm 1000, sum > 0
    assert repr(a.grad) == "tensor([[2048., 2048.],\n        [2048., 2048.]])"
    assert repr(d / a) == "tensor([[2048., 2048.],\n        [2048., 2048.]], grad_fn=<DivBackward0>)"


# ---------------------------------------------------------------- creation, dtypes, reprs

def test_creation_dtypes():
    assert (torch.tensor(1.5).dtype, torch.tensor(3).dtype, torch.tensor(True).dtype) == (
        torch.float32, torch.int64, torch.bool)
    assert repr(torch.tensor([1, 2.5])) == "tensor([1.0000, 2.5000])"
    assert torch.tensor(np.array([1.0, 2.0])).dtype is torch.float64
    assert torch.tensor([np.float64(1.0), 2.0]).dtype is torch.float64
    assert repr(torch.tensor([1, 2], dtype=torch.float64)) == "tensor([1., 2.], dtype=torch.float64)"
    assert repr(torch.arange(4)) == "tensor([0, 1, 2, 3])"
    assert repr(torch.arange(0, 1, 0.25)) == "tensor([0.0000, 0.2500, 0.5000, 0.7500])"
    assert repr(torch.full((2,), 7)) == "tensor([7, 7])"
    assert repr(torch.zeros(0, 3)) == "tensor([], size=(0, 3))"
    assert repr(torch.arange(0)) == "tensor([], dtype=torch.int64)"
    assert repr(torch.zeros(2, 3).shape) == "torch.Size([2, 3])"
    assert repr(torch.ones(2, 3, requires_grad=True)) == (
        "tensor([[1., 1., 1.],\n        [1., 1., 1.]], requires_grad=True)")
    with raises(RuntimeError, "Only Tensors of floating point and complex dtype can require gradients"):
        torch.tensor([1, 2], requires_grad=True)
    with raises(RuntimeError, "only Tensors of floating point dtype can require gradients"):
        torch.tensor([1, 2]).requires_grad_()
    with raises(ValueError, "expected sequence of length 2 at dim 1 (got 1)"):
        torch.tensor([[1, 2], [3]])
    with raises(RuntimeError, "upper bound and lower bound inconsistent with step sign"):
        torch.arange(1, 0)
    x = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    assert repr(torch.ones_like(x, dtype=torch.int64)) == "tensor([[1, 1],\n        [1, 1]])"
    assert torch.zeros_like(x).requires_grad is False


def test_random_seeded_and_dtypes():
    torch.manual_seed(0)
    a = torch.randn(3)
    torch.manual_seed(0)
    assert torch.equal(a, torch.randn(3))
    assert (torch.rand(2, 3).dtype, torch.randn(size=()).shape) == (torch.float32, ())
    assert torch.randint(0, 10, (3,)).dtype is torch.int64
    with raises(NotImplementedError, "\"normal_kernel_cpu\" not implemented for 'Long'"):
        torch.randn(3, dtype=torch.int64)


@pytest.mark.parametrize("value, text", [
    (1., "tensor(1.)"), (0.1, "tensor(0.1000)"), (12345.6789, "tensor(12345.6787)"),
    (123456789., "tensor(1.2346e+08)"), (1e-5, "tensor(1.0000e-05)"), (-0., "tensor(-0.)"),
    ([0., 4., 8., 12.], "tensor([ 0.,  4.,  8., 12.])"), ([-1., 10., 100.], "tensor([ -1.,  10., 100.])"),
    ([0.1, 100.], "tensor([  0.1000, 100.0000])"), ([1., 1001.], "tensor([1.0000e+00, 1.0010e+03])"),
    ([1e8], "tensor([100000000.])"), ([0., 1e-5], "tensor([0.0000e+00, 1.0000e-05])"),
    ([1., float("nan"), float("inf")], "tensor([1., nan, inf])"), ([0.5, float("nan")], "tensor([0.5000,    nan])"),
    ([True, False], "tensor([ True, False])"), ([-1, 10, 100], "tensor([ -1,  10, 100])"),
])
def test_repr(value, text):
    assert repr(torch.tensor(value)) == text
    assert str(torch.tensor(value)) == text


def test_repr_wrapping_and_summary():
    assert str(torch.arange(30.)) == (
        "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n"
        "        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n"
        "        28., 29.])")
    assert str(torch.arange(1001.)) == "tensor([   0.,    1.,    2.,  ...,  998.,  999., 1000.])"
    assert str(torch.arange(8.).reshape(2, 2, 2)) == (
        "tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])")


def test_numpy_interop():
    a = np.array([1., 2., 3.])
    t = torch.from_numpy(a)
    assert repr(t) == "tensor([1., 2., 3.], dtype=torch.float64)"
    a[0] = 100.
    assert repr(t) == "tensor([100.,   2.,   3.], dtype=torch.float64)"
    t[1] = -1.
    assert a.tolist() == [100., -1., 3.]
    with raises(TypeError, "expected np.ndarray (got list)"):
        torch.from_numpy([1, 2])
    x = torch.tensor([1.5, 2.5], requires_grad=True)
    with raises(RuntimeError, "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                              "instead."):
        x.numpy()
    with raises(RuntimeError, "Can't call numpy() on Tensor that requires grad."):
        (x * 2).numpy()
    assert x.detach().numpy().dtype == np.float32
    assert (x[0].item(), type(x[0].item())) == (1.5, float)
    with raises(RuntimeError, "a Tensor with 2 elements cannot be converted to Scalar"):
        x.item()
    with raises(RuntimeError, "Boolean value of Tensor with more than one value is ambiguous"):
        bool(torch.tensor([1., 2.]))


# ---------------------------------------------------------------- autograd semantics

def test_leaves_and_flags():
    x = torch.arange(4, dtype=torch.float32).requires_grad_()
    y = x * 2
    assert (y.is_leaf, y.requires_grad, x.is_leaf) == (False, True, True)
    with raises(RuntimeError, "you can only change requires_grad flags of leaf variables."):
        y.requires_grad_(False)
    c = torch.ones(2) * 3
    assert (c.is_leaf, c.requires_grad, c.grad_fn) == (True, False, None)
    b = torch.tensor([3., 4.])
    a = torch.tensor([1., 2.], requires_grad=True)
    assert ((a * b).requires_grad, (b * b).requires_grad) == (True, False)


def test_grad_accumulates_in_place_and_checks_assignment():
    x = torch.arange(4.0, requires_grad=True)
    (2 * torch.dot(x, x)).backward()
    (2 * torch.dot(x, x)).backward()
    assert repr(x.grad) == "tensor([ 0.,  8., 16., 24.])"
    g = x.grad
    x.sum().backward()
    assert g is x.grad
    assert (x.grad.requires_grad, x.grad.is_leaf) == (False, True)
    with raises(RuntimeError, "attempting to assign a gradient of size '[3]' to a tensor of size '[4]'."):
        x.grad = torch.ones(3)
    with raises(TypeError, "assigned grad expected to be a Tensor or None but got grad of type list"):
        x.grad = [1., 2., 3., 4.]
    x.grad = None
    assert x.grad is None


def test_retain_grad_and_non_leaf_warning():
    x = torch.arange(4.0, requires_grad=True)
    y = x * x
    with pytest.warns(UserWarning, match="is not a leaf Tensor is being accessed"):
        assert y.grad is None
    y.retain_grad()
    assert y.retains_grad
    (y * 3).sum().backward()
    assert repr(y.grad) == "tensor([3., 3., 3., 3.])"
    assert repr(x.grad) == "tensor([ 0.,  6., 12., 18.])"


def test_detach_shares_storage_and_detach_():
    x = torch.arange(4.0, requires_grad=True)
    y = x * x
    u = y.detach()
    assert (u.is_leaf, u.requires_grad, u.grad_fn) == (True, False, None)
    u[0] = 100.
    assert repr(y) == "tensor([100.,   1.,   4.,   9.], grad_fn=<MulBackward0>)"
    assert repr(y.detach_()) == "tensor([100.,   1.,   4.,   9.])"
    assert (y.is_leaf, y.grad_fn) == (True, None)
    assert repr(x.clone()) == "tensor([0., 1., 2., 3.], grad_fn=<CloneBackward0>)"


def test_backward_through_nodes_without_saved_values_twice():
    x = torch.ones(3, requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    y.backward()                          # add and sum save nothing
    assert repr(x.grad) == "tensor([2., 2., 2.])"
    z = (x * 2).sum()                     # mul saves its operands
    z.backward()
    with raises(RuntimeError, FREED):
        z.backward()


def test_backward_gradient_and_inputs():
    x = torch.tensor([1., 2.], requires_grad=True)
    w = torch.tensor([3., 4.], requires_grad=True)
    y = x * w
    y.backward(torch.tensor([1., 10.]), inputs=[x])
    assert repr(x.grad) == "tensor([ 3., 40.])"
    assert w.grad is None
    with raises(RuntimeError, "Mismatch in shape: grad_output[0] has a shape of torch.Size([3]) and output[0] "
                              "has a shape of torch.Size([2])."):
        (x * w).backward(torch.ones(3))


def test_autograd_grad_higher_order_and_allow_unused():
    x = torch.tensor(2.0, requires_grad=True)
    y = x ** 3
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    assert repr(g) == "tensor(12., grad_fn=<MulBackward0>)" or g.item() == 12.0
    (g2,) = torch.autograd.grad(g, x)
    assert g2.item() == 12.0              # d2/dx2 x^3 = 6x
    assert x.grad is None                 # autograd.grad does not accumulate
    a = torch.tensor([1., 2.], requires_grad=True)
    b = torch.tensor([3., 4.], requires_grad=True)
    out = (a * a).sum()
    with raises(RuntimeError, "The differentiated Tensor at index 1 appears to not have been used in the graph. "
                              "Set allow_unused=True if this is the desired behavior."):
        torch.autograd.grad(out, [a, b], retain_graph=True)
    ga, gb = torch.autograd.grad(out, [a, b], allow_unused=True)
    assert repr(ga) == "tensor([2., 4.])" and gb is None


def test_third_derivative_of_sin():
    x = torch.tensor(0.5, requires_grad=True)
    (g1,) = torch.autograd.grad(torch.sin(x), x, create_graph=True)
    (g2,) = torch.autograd.grad(g1, x, create_graph=True)
    (g3,) = torch.autograd.grad(g2, x)
    np.testing.assert_allclose([g1.item(), g2.item(), g3.item()],
                               [np.cos(0.5), -np.sin(0.5), -np.cos(0.5)], rtol=1e-6)


def test_grad_modes():
    x = torch.ones(2, requires_grad=True)
    with torch.no_grad():
        y = x * 2
    assert (y.requires_grad, y.grad_fn) == (False, None)
    with torch.no_grad():
        with torch.enable_grad():
            assert (x * 2).requires_grad
    with torch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert torch.is_grad_enabled()
    with torch.inference_mode():
        assert not (x * 2).requires_grad

    @torch.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert (x * 2).requires_grad


# ---------------------------------------------------------------- in-place operations

def test_inplace_on_leaf_requiring_grad_raises():
    x = torch.ones(3, requires_grad=True)
    with raises(RuntimeError, "a leaf Variable that requires grad is being used in an in-place operation."):
        x.add_(1)
    with raises(RuntimeError, "a view of a leaf Variable that requires grad is being used in an in-place "
                              "operation."):
        x[0] = 2.
    with raises(RuntimeError, "a leaf Variable that requires grad is being used in an in-place operation."):
        x -= 1
    with torch.no_grad():
        x -= 1                            # the SGD step
    assert repr(x) == "tensor([0., 0., 0.], requires_grad=True)"


def test_version_counter_errors():
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    h = x * 1
    p = h * h
    h.mul_(2)
    with raises(RuntimeError, "one of the variables needed for gradient computation has been modified by an "
                              "inplace operation: [torch.FloatTensor [3]], which is output 0 of Mul, is at "
                              "version 1; expected version 0 instead. Hint: enable anomaly detection to find the "
                              "operation that failed to compute its gradient, with "
                              "torch.autograd.set_detect_anomaly(True, check_nan=False)."):
        p.sum().backward()
    w = torch.tensor([1., 2.], requires_grad=True)
    q = w.sin()
    with torch.no_grad():
        w.add_(1)
    with raises(RuntimeError, "modified by an inplace operation: [torch.FloatTensor [2]] is at version 1; "
                              "expected version 0 instead."):
        q.sum().backward()


def test_inplace_on_non_leaf_is_differentiable():
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    y = x * 1
    y.add_(1)
    assert repr(y) == "tensor([2., 3., 4.], grad_fn=<AddBackward0>)"
    y.mul_(x)                             # y = (x + 1) * x
    y.sum().backward()
    assert repr(x.grad) == "tensor([3., 5., 7.])"     # 2x + 1
    z = torch.tensor([1., 2., 3.], requires_grad=True)
    v = z * 1
    v[1] = z[0] * 10
    v.sum().backward()
    assert repr(z.grad) == "tensor([11.,  0.,  1.])"


# ---------------------------------------------------------------- names, graph, promotion, functions

def test_grad_fn_names_and_next_functions():
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    y = torch.tensor([4., 5., 6.], requires_grad=True)
    M = torch.ones(2, 3, requires_grad=True)
    N = torch.ones(3, 2, requires_grad=True)
    cases = {
        "AddBackward0": x + y, "SubBackward0": x - 1, "RsubBackward1": 1 - x, "MulBackward0": x * 2,
        "DivBackward0": x / y, "PowBackward0": x ** 2, "PowBackward1": x ** y, "PowBackward2": 2 ** x,
        "NegBackward0": -x, "DotBackward0": x @ y, "MmBackward0": M @ N, "MvBackward0": M @ x,
        "SumBackward0": x.sum(), "SumBackward1": M.sum(0), "MeanBackward0": x.mean(), "ExpBackward0": x.exp(),
        "SinBackward0": torch.sin(x), "TanhBackward0": x.tanh(), "SigmoidBackward0": x.sigmoid(),
        "ReluBackward0": F.relu(x), "ViewBackward0": M.reshape(3, 2), "TBackward0": M.t(),
        "PermuteBackward0": M.T, "SelectBackward0": x[0], "SliceBackward0": x[1:],
        "IndexBackward0": x[[0, 2]], "CatBackward0": torch.cat([x, y]), "StackBackward0": torch.stack([x, y]),
        "SoftmaxBackward0": x.softmax(0), "LogSoftmaxBackward0": x.log_softmax(0),
        "NllLossBackward0": F.cross_entropy(M, torch.tensor([0, 2])), "ToCopyBackward0": x.double(),
        "LinalgVectorNormBackward0": x.norm(), "CloneBackward0": x.clone(),
    }
    for name, t in cases.items():
        assert t.grad_fn.name() == name, (name, t.grad_fn)
        assert repr(t.grad_fn).startswith(f"<{name} object at 0x")
    c = torch.tensor([5., 6.])
    a = torch.tensor([1., 2.], requires_grad=True)
    z = (a * a + c).sum()
    add = z.grad_fn.next_functions[0][0]
    assert repr(add).startswith("<AddBackward0 object") and add.next_functions[1] == (None, 0)
    acc = add.next_functions[0][0].next_functions[0][0]
    assert repr(acc).startswith("<AccumulateGrad object") and acc.variable is a
    assert (a * 2).grad_fn.next_functions[1] == (None, 0)


def test_type_promotion():
    f32 = torch.ones(2)
    assert (f32 + np.float64(1.0)).dtype is torch.float32
    assert (torch.arange(3) * 2.5).dtype is torch.float32
    assert (torch.arange(3) / 2).dtype is torch.float32
    assert (torch.arange(3) + torch.tensor(1.0, dtype=torch.float64)).dtype is torch.float64
    assert (f32 + torch.ones(2, dtype=torch.float64)).dtype is torch.float64
    assert (torch.ones(2, dtype=torch.float64) + torch.tensor(1.0)).dtype is torch.float64
    assert (torch.arange(3, dtype=torch.int32) + 2).dtype is torch.int32
    x = torch.ones(2, requires_grad=True)
    y = (x * torch.ones(2, dtype=torch.float64)).sum()
    y.backward()
    assert x.grad.dtype is torch.float32 and repr(x.grad) == "tensor([1., 1.])"


def test_gradient_values_of_the_tutorial_functions():
    x = torch.arange(4., requires_grad=True)
    x[[0, 0, 2]].sum().backward()
    assert repr(x.grad) == "tensor([2., 0., 1., 0.])"
    x.grad = None
    x[x > 1].sum().backward()
    assert repr(x.grad) == "tensor([0., 0., 1., 1.])"
    x.grad = None
    torch.stack([x, 2 * x]).sum().backward()
    assert repr(x.grad) == "tensor([3., 3., 3., 3.])"
    x.grad = None
    x.reshape(2, 2).t()[0].sum().backward()
    assert repr(x.grad) == "tensor([1., 0., 1., 0.])"
    x.grad = None
    (x * x).mean().backward()
    assert repr(x.grad) == "tensor([0.0000, 0.5000, 1.0000, 1.5000])"
    logits = torch.tensor([[1., 2., 3.], [1., 1., 1.]], requires_grad=True)
    loss = F.cross_entropy(logits, torch.tensor([2, 0]))
    assert repr(loss) == "tensor(0.7531, grad_fn=<NllLossBackward0>)"
    loss.backward()
    assert repr(logits.grad) == ("tensor([[ 0.0450,  0.1224, -0.1674],\n"
                                 "        [-0.3333,  0.1667,  0.1667]])")
    v = torch.tensor([-1., 0., 2.], requires_grad=True)
    torch.relu(v).sum().backward()
    assert repr(v.grad) == "tensor([0., 0., 1.])"
    v.grad = None
    v.sigmoid().sum().backward()
    assert repr(v.grad) == "tensor([0.1966, 0.2500, 0.1050])"
    v.grad = None
    v.clamp(0., 2.).sum().backward()
    assert repr(v.grad) == "tensor([0., 1., 1.])"


def test_mlp_step_matches_finite_differences():
    rng = np.random.default_rng(0)
    xs = torch.from_numpy(rng.standard_normal((5, 4)))
    labels = torch.tensor([0, 2, 1, 2, 0])
    W = torch.from_numpy(rng.standard_normal((4, 3))).requires_grad_()
    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)

    def loss_of(Wv):
        return F.cross_entropy(torch.tanh(xs @ Wv + b), labels)

    loss_of(W).backward()
    eps = 1e-6
    for idx in [(0, 0), (2, 1), (3, 2)]:
        Wp = W.detach().numpy().copy()
        Wm = Wp.copy()
        Wp[idx] += eps
        Wm[idx] -= eps
        fd = (loss_of(torch.from_numpy(Wp)).item() - loss_of(torch.from_numpy(Wm)).item()) / (2 * eps)
        assert abs(W.grad.numpy()[idx] - fd) < 1e-6


# ---------------------------------------------------------------- memory: the graph belongs to the tensors

def test_dropped_result_frees_its_graph():
    x = torch.ones(3, requires_grad=True)
    a = torch.full((3,), 2.0)
    y = (x * a).sum()
    wa = weakref.ref(a)
    del a
    assert wa() is not None               # saved by the graph
    del y
    assert wa() is None                   # freed by reference counting, no gc.collect()


def test_backward_frees_saved_values_unless_retained():
    x = torch.ones(3, requires_grad=True)
    a = torch.full((3,), 2.0)
    wa = weakref.ref(a)
    y = (x * a).sum()
    del a
    y.backward(retain_graph=True)
    assert wa() is not None
    y.backward()
    assert wa() is None
    assert y.grad_fn.name() == "SumBackward0"
    assert repr(x.grad) == "tensor([4., 4., 4.])"


def test_no_ambient_graph_and_flat_memory_in_a_training_loop():
    w = torch.zeros(3, requires_grad=True)
    xs = torch.ones(3)
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(2000):
        loss = ((w * xs).sum() - 1.0) ** 2
        loss.backward()
        with torch.no_grad():
            w -= 0.01 * w.grad
        w.grad.zero_()
    gc.collect()
    assert len(gc.get_objects()) - before < 50
    np.testing.assert_allclose(w.detach().numpy(), [1 / 3] * 3, rtol=1e-3)


def test_deep_graph_without_recursion():
    x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(200_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0
    z = x
    for _ in range(200_000):
        z = z + 0.0
    del z                                 # a long chain is freed without C recursion


@pytest.mark.skipif(not os.environ.get("TAPEGRAD_LONG_TESTS"), reason="long budget: set TAPEGRAD_LONG_TESTS=1")
def test_hundred_thousand_training_steps_hold_flat_memory():
    # The budget: 1e5 steps of forward, backward and an SGD update under no_grad.
    rng = np.random.default_rng(0)
    xs = torch.from_numpy(rng.standard_normal((16, 8)).astype(np.float32))
    ys = torch.from_numpy(rng.standard_normal(16).astype(np.float32))
    w = torch.zeros(8, requires_grad=True)
    tracemalloc.start()
    sizes = []
    for step in range(100_000):
        loss = ((xs @ w - ys) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= 0.01 * w.grad
        w.grad.zero_()
        if step % 20_000 == 19_999:
            sizes.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    assert max(sizes) - min(sizes) < 100_000, sizes


# ---------------------------------------------------------------- gaps closed after the first version

def test_backward_inputs_non_leaf_accumulates_into_its_grad():
    a = torch.tensor(2., requires_grad=True)
    b = torch.tensor(3., requires_grad=True)
    (a * b).backward(inputs=[a])
    assert (repr(a.grad), b.grad) == ("tensor(3.)", None)
    h = a * b
    (h * h).backward(inputs=[h], retain_graph=True)
    assert (repr(h.grad), repr(a.grad)) == ("tensor(12.)", "tensor(3.)")   # only h gets a gradient
    (h * 3).backward(inputs=[h])                                           # accumulates
    assert repr(h.grad) == "tensor(15.)"
    (a * b).backward(inputs=a)
    assert repr(a.grad) == "tensor(6.)"


def test_float_of_requires_grad_warns_once_per_process():
    # a fresh process: the warning is PyTorch's "once per process" one
    code = (f"import warnings\nimport {torch.__name__} as torch\nwarnings.simplefilter('always')\n"
            "x = torch.tensor([1.5, 2.5], requires_grad=True)\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    r = (x[0].item(), int(x[1]), bool(x[0]), float(torch.tensor(4.)), float(x[1]), float(x[0]))\n"
            "print(r, [str(m.message) for m in w if m.category is UserWarning])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ("(1.5, 2, True, 4.0, 2.5, 1.5) ['Converting a tensor with requires_grad=True to a scalar "
                           "may lead to unexpected behavior.\\nConsider using tensor.detach() first.']")
    x = torch.tensor([1.5, 2.5], requires_grad=True)
    with raises(ValueError, "only one element tensors can be converted to Python scalars"):
        float(x)


def test_norm_at_zero_has_gradient_zero():
    z = torch.zeros(3, requires_grad=True)
    for f in (lambda t: t.norm(), lambda t: torch.linalg.norm(t), lambda t: t.norm(p=1),
              lambda t: torch.norm(t, p=3)):
        z.grad = None
        f(z).sum().backward()
        assert repr(z.grad) == "tensor([0., 0., 0.])"
    z.grad = None
    (z * z).sum().sqrt().backward()                        # composed by hand: nan, as in PyTorch
    assert repr(z.grad) == "tensor([nan, nan, nan])"
    m = torch.tensor([[0., 0.], [3., 4.]], requires_grad=True)
    for keepdim in (False, True):
        m.grad = None
        n = m.norm(dim=1, keepdim=keepdim)
        n.sum().backward()
        assert repr(m.grad) == "tensor([[0.0000, 0.0000],\n        [0.6000, 0.8000]])"
    assert repr(n.detach()) == "tensor([[0.],\n        [5.]])"
    assert n.grad_fn.name() == "LinalgVectorNormBackward0"


def test_grad_mode_is_per_thread():
    x = torch.tensor([1., 2.], requires_grad=True)
    seen = {}
    started, release = threading.Event(), threading.Event()

    def other():
        seen["fresh"] = torch.is_grad_enabled()            # a new thread starts with grad mode on
        with torch.no_grad():
            started.set()
            release.wait(10)
            seen["inside"] = ((x * 2).requires_grad, torch.is_grad_enabled())
        seen["after"] = (x * 2).requires_grad

    with torch.no_grad():
        t = threading.Thread(target=other)
        t.start()
        started.wait(10)
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled() and (x * 2).requires_grad   # the other thread's no_grad is still on
    release.set()
    t.join()
    assert seen == {"fresh": True, "inside": (False, False), "after": True}
    torch.set_grad_enabled(False)
    try:
        t = threading.Thread(target=lambda: seen.update(fn=torch.is_grad_enabled()))
        t.start()
        t.join()
        assert seen["fn"] is True and not torch.is_grad_enabled()
    finally:
        torch.set_grad_enabled(True)


def test_python_numbers_go_to_the_requested_dtype_directly():
    # PyTorch 2.13: torch.tensor(1.7, dtype=torch.float64).item() == 1.7 (no float32 rounding on the way),
    # and the gradients through such leaves are float64's: 0.07000000000000006 and 3.74 here.
    assert torch.tensor(1.7, dtype=torch.float64).item() == 1.7
    assert torch.tensor([1.7, -0.3], dtype=torch.float64).tolist() == [1.7, -0.3]
    assert torch.tensor(1.7).item() == 1.7000000476837158          # the default float32
    x = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
    w = torch.tensor(-0.3, dtype=torch.float64, requires_grad=True)
    y = x * w + x
    z = w * y * 3.0 + (y + 2.5)
    z.backward()
    assert x.grad.item() == 0.07000000000000006 and w.grad.item() == 3.74
