"""tapegrad.torch's backward sweep (issue 14 item 4's fast paths): the ready stack in a C array,
the breadth-first count of consumers, tensors made by TensorBase's tp_new from C.  Expected
gradients are derived by hand (or by the forward-mode recurrence of the chain), never taken
from tapegrad itself."""
import gc
import weakref

import numpy as np
import pytest

import tapegrad.torch as torch
from tapegrad import _graph


def test_chain_gradient_matches_the_forward_mode_recurrence_bit_for_bit():
    # W1's chain: the sweep multiplies the same factors in the same order as the recurrence
    # d <- 1.0001 * cos(y) * d run backwards, so a hand-written reverse pass gives the same bits.
    x = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    y, ys = x, []
    for _ in range(1000):
        ys.append(y.item())
        y = torch.sin(y) * 1.0001 + 0.1
    (g,) = torch.autograd.grad(y, x)
    ref = np.float64(1.0)
    for yi in reversed(ys):
        ref = ref * 1.0001
        ref = ref * np.cos(np.float64(yi))
    assert g.item() == ref


def test_diamond_and_fan_out_count_every_consumer():
    # y = sum over 300 consumers of a, each a * c_k, then through a shared node twice:
    # dy/dx = 2 * 2x * sum(c_k) (a = x * x).
    x = torch.tensor(1.25, dtype=torch.float64, requires_grad=True)
    a = x * x
    cs = [0.5 + k / 7 for k in range(300)]
    s = a * cs[0]
    for c in cs[1:]:
        s = s + a * c
    y = s + s
    y.backward()
    assert x.grad.item() == pytest.approx(2 * 2 * 1.25 * sum(cs), rel=1e-14)


def test_the_same_root_twice_is_run_once_with_both_seeds():
    x = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    y = x * x
    torch.autograd.backward([y, y])
    assert x.grad.item() == 12.0             # 2 * (2x)


def test_a_deep_chain_sweeps_without_recursion_and_frees_its_graph():
    x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0
    node = weakref.ref(y.grad_fn)
    y.backward()
    assert x.grad.item() == 1.0
    del y
    gc.collect()
    assert node() is None


def test_a_failed_backward_leaves_no_counts_behind():
    # (b + c).backward() raises before any rule runs (b's graph is freed), so c's graph, still
    # whole, gives its gradient afterwards: 3.  (PyTorch runs c's part of the failed sweep
    # before reaching b's freed node, so there c.backward() raises the freed-graph error too.)
    x = torch.tensor(1.5, requires_grad=True)
    b = (x * 2.0).sin()
    c = x * 3.0
    b.backward()
    x.grad = None
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        (b + c).backward()
    assert x.grad is None
    c.backward()
    assert x.grad.item() == 3.0


def test_tensors_are_the_public_class_and_untracked():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    assert type(y) is torch.Tensor and isinstance(y, _graph.TensorBase)
    assert not gc.is_tracked(y) and not gc.is_tracked(y.grad_fn)
    assert y.requires_grad and not y.is_leaf and y._version_number == 0


def test_pooled_tensors_and_nodes_come_back_fresh():
    # Nodes and tensors are reused from pools (csrc/tg_objpool.h): a reused object must carry
    # nothing of its previous life (weak references, grad, version, hooks, grad_fn class).
    x = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    old = []
    for _ in range(50):
        y = (x * 3.0).sin()          # sin saves its input, so the in-place add_ below is allowed
        y.retain_grad()
        y.register_hook(lambda g: g * 2.0)
        y.add_(1.0)
        assert type(y.grad_fn).__name__ == "AddBackward0"       # class switched when shown
        y.backward()
        old.append((weakref.ref(y), weakref.ref(y.grad_fn)))
        del y
    assert all(t() is None and n() is None for t, n in old)
    for _ in range(200):
        z = torch.tensor(2.0, dtype=torch.float64)
        assert not z.requires_grad and z.grad is None and z.grad_fn is None and z._version_number == 0
        w = z * x
        assert type(w) is torch.Tensor and not gc.is_tracked(w) and not gc.is_tracked(w.grad_fn)
        assert w._version_number == 0 and not w._retains_grad and type(w.grad_fn).__name__ == "MulBackward0"
        (g,) = torch.autograd.grad(w, x)
        assert g.item() == 2.0


def test_graphs_larger_than_the_pools_free_and_rebuild():
    # 3 x 5,000 nodes and tensors: more than the pools keep (4,096 each), freed by reference
    # counting alone and built again with the same gradient.
    x = torch.tensor(0.25, dtype=torch.float64, requires_grad=True)
    grads = []
    for _ in range(2):
        y = x
        for _ in range(5_000):
            y = torch.sin(y) * 1.0 + 0.0
        first = weakref.ref(y.grad_fn)
        grads.append(torch.autograd.grad(y, x)[0].item())
        del y
        assert first() is None                         # freed without a collection
    assert grads[0] == grads[1] and 0.0 < grads[0] < 1.0


def test_the_tensor_class_is_checked_and_installed_once():
    ops = {"add": None, "subtract": None, "multiply": None}

    class WithFields(_graph.TensorBase):
        __slots__ = ("extra",)

    class WithDel(_graph.TensorBase):
        __slots__ = ()

        def __del__(self):
            pass

    class Another(_graph.TensorBase):
        __slots__ = ()

    for cls in (WithFields, WithDel):
        with pytest.raises(TypeError, match="no fields"):
            _graph.install(cls, dict(ops), {}, None)
    with pytest.raises(RuntimeError, match="already installed"):
        _graph.install(Another, dict(ops), {}, None)
    assert type(torch.tensor(1.0) * 2.0) is torch.Tensor
