"""tapegrad.torch: hooks, grad_fn classes, .grad under create_graph=True, and
backward/grad that stop at their inputs.  Every expected value, repr and error
text is PyTorch 2.13's, observed by running PyTorch and written in as a literal
(PyTorch is not a test dependency); with the imports switched to `torch` the
module's tests pass under PyTorch too, but for the last two, which check tapegrad's
bookkeeping and a cycle PyTorch leaks."""
import gc
import re
import weakref

import pytest

import tapegrad.torch as torch

FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after they have "
         "already been freed).")


def raises(exc, text):
    return pytest.raises(exc, match=re.escape(text))


# ---------------------------------------------------------------- grad_fn classes and .grad with create_graph


def test_grad_fn_class_names():
    x = torch.tensor([1., 2.], requires_grad=True)
    y = (x * 2).sum()
    assert type(y.grad_fn).__name__ == "SumBackward0"
    mul = y.grad_fn.next_functions[0][0]
    assert type(mul).__name__ == "MulBackward0"
    assert type(mul.next_functions[0][0]).__name__ == "AccumulateGrad"
    assert type((x * 3).grad_fn) is type(mul)            # one class per name
    assert type(x.exp().grad_fn).__name__ == "ExpBackward0"
    assert type(x[0].grad_fn).__name__ == "SelectBackward0"


def test_stack_is_one_node_whose_inputs_are_the_stacked_tensors():
    a = torch.tensor([1., 2.], requires_grad=True)
    b = torch.tensor([3., 4.], requires_grad=True)
    s = torch.stack([a * 2, b], dim=1)
    assert type(s.grad_fn).__name__ == "StackBackward0"
    nf = s.grad_fn.next_functions
    assert [type(f).__name__ for f, _ in nf] == ["MulBackward0", "AccumulateGrad"]
    assert nf[1][0].variable is b
    w = torch.tensor([[1., 10.], [100., 1000.]])
    (s * w).sum().backward()
    assert a.grad.tolist() == [2., 200.]                 # 2 * w[:, 0]
    assert b.grad.tolist() == [10., 1000.]               # w[:, 1]


def test_grad_with_create_graph_is_a_copy_then_a_sum():
    x = torch.tensor(2., requires_grad=True)
    (x ** 3).backward(create_graph=True)
    assert repr(x.grad) == "tensor(12., grad_fn=<CopyBackwards>)"
    nf = x.grad.grad_fn.next_functions
    assert nf[0] == (None, 0) and type(nf[1][0]).__name__ == "MulBackward0"
    x.grad.backward()                                    # d(3x^2)/dx through the copy
    assert repr(x.grad) == "tensor(24., grad_fn=<CopyBackwards>)"
    w = torch.tensor([1., 2.], requires_grad=True)
    (w * w).sum().backward(create_graph=True)
    assert repr(w.grad) == "tensor([2., 4.], grad_fn=<CopyBackwards>)"
    (w * w).sum().backward(create_graph=True)
    assert repr(w.grad) == "tensor([4., 8.], grad_fn=<AddBackward0>)"
    v = torch.tensor(2., requires_grad=True)
    g, = torch.autograd.grad(v ** 3, v, create_graph=True)
    assert repr(g) == "tensor(12., grad_fn=<MulBackward0>)"
    c = torch.tensor(2., requires_grad=True)
    (c * 2).backward(create_graph=True)                  # a constant gradient has no graph to copy
    assert repr(c.grad) == "tensor(2.)"


# ---------------------------------------------------------------- backward/grad stop at their inputs


def test_backward_inputs_runs_only_the_part_above_the_inputs():
    a = torch.tensor(3., requires_grad=True)
    b = a.exp()
    h = b * 3
    z = h * h
    z.backward(inputs=[h])
    assert repr(h.grad) == "tensor(120.5132)" and a.grad is None
    b.backward()                                         # exp's saved value was not freed
    assert repr(a.grad) == "tensor(20.0855)"
    with raises(RuntimeError, FREED):                    # h's own node counts as run, as in PyTorch
        h.backward()

    a = torch.tensor(3., requires_grad=True)
    c = torch.tensor(2., requires_grad=True)
    b = a.exp()
    z = (b * c) * (b * c)
    z.backward(inputs=[c])
    assert repr(c.grad) == "tensor(1613.7152)" and a.grad is None
    b.backward()
    assert repr(a.grad) == "tensor(20.0855)"


def test_grad_of_a_non_leaf_does_not_run_its_node():
    a = torch.tensor(3., requires_grad=True)
    h = a * a
    z = h * 2
    assert repr(torch.autograd.grad(z, h)) == "(tensor(2.),)"
    h.backward()
    assert repr(a.grad) == "tensor(6.)"
    with raises(RuntimeError, FREED):
        z.backward()


def test_inputs_below_other_inputs_still_get_their_gradients():
    a = torch.tensor(3., requires_grad=True)
    h = a * a
    z = h * 2
    ga, gh = torch.autograd.grad(z, [a, h], retain_graph=True)
    assert repr((ga, gh)) == "(tensor(12.), tensor(2.))"
    z.backward(inputs=[h, a])
    assert repr((a.grad, h.grad)) == "(tensor(12.), tensor(2.))"


# ---------------------------------------------------------------- hooks


def test_hooks_on_a_non_leaf_replace_its_gradient_before_retain_grad():
    x = torch.tensor([1., 2.], requires_grad=True)
    h = x * 3
    calls = []
    h.retain_grad()
    first = h.register_hook(lambda g: (calls.append(("h1", repr(g))), g * 10)[1])
    h.register_hook(lambda g: calls.append(("h2", repr(g))))
    z = (h * h).sum()
    z.backward(retain_graph=True)
    assert calls == [("h1", "tensor([ 6., 12.])"), ("h2", "tensor([ 60., 120.])")]
    assert repr((h.grad, x.grad)) == "(tensor([ 60., 120.]), tensor([180., 360.]))"
    calls.clear()
    first.remove()
    assert repr(torch.autograd.grad(z, h, retain_graph=True)) == "(tensor([ 6., 12.]),)"
    assert calls == [("h2", "tensor([ 6., 12.])")]
    first.remove()                                       # a second remove does nothing


def test_hooks_on_a_leaf_and_post_accumulate_hooks():
    x = torch.tensor([1., 2.], requires_grad=True)
    z = (3 * x * x).sum()
    calls = []
    x.register_hook(lambda g: (calls.append(("x", repr(g))), g + 1)[1])
    z.backward(retain_graph=True)
    assert calls == [("x", "tensor([ 6., 12.])")] and repr(x.grad) == "tensor([ 7., 13.])"
    calls.clear()
    assert repr(torch.autograd.grad(z, x, retain_graph=True)) == "(tensor([ 7., 13.]),)"
    post = x.register_post_accumulate_grad_hook(lambda t: calls.append(("post", repr(t.grad))))
    z.backward(retain_graph=True)
    assert calls[-1] == ("post", "tensor([14., 26.])")
    post.remove()
    calls.clear()
    z.backward()
    assert calls == [("x", "tensor([ 6., 12.])")] and repr(x.grad) == "tensor([21., 39.])"


def test_hook_errors():
    with raises(RuntimeError, "cannot register a hook on a tensor that doesn't require gradient"):
        torch.tensor(1.).register_hook(lambda g: g)
    x = torch.tensor([1., 2.], requires_grad=True)
    with raises(RuntimeError, "post accumulate grad hooks cannot be registered on non-leaf tensors"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)

    def shrink(g):
        return g.sum()
    x.register_hook(shrink)
    with raises(RuntimeError, "hook 'shrink' has changed the size of value"):
        (x * 2).sum().backward()


def test_hooks_under_create_graph_and_after_an_inplace_change():
    a = torch.tensor(2., requires_grad=True)
    b = a * a
    b.register_hook(lambda g: g * 2)
    g, = torch.autograd.grad(b * b, a, create_graph=True)
    assert repr(g) == "tensor(64., grad_fn=<AddBackward0>)"    # (2b * 2) * 2a, and differentiable
    g2, = torch.autograd.grad(g, a)                      # the hook runs again on the way through b
    assert repr(g2) == "tensor(160.)"
    seen = []
    c = torch.tensor(2., requires_grad=True) * 1
    c.register_hook(lambda g: seen.append(repr(g)))
    c.mul_(3)                                            # the hook stays with c's value before the change
    (c * c).backward()
    assert seen == ["tensor(36.)"]


# ---------------------------------------------------------------- views share memory with their base


def test_views_write_through_both_ways_and_share_the_version():
    b = torch.zeros(2, 3)
    row = b[0]
    b.add_(1)
    assert repr(row) == "tensor([1., 1., 1.])" and row._base is b
    b.t()[1].fill_(7)
    assert repr(b) == "tensor([[1., 7., 1.],\n        [1., 7., 1.]])"
    c = torch.zeros(3)
    c.unsqueeze(0).squeeze(0)[1] = 4
    assert repr(c) == "tensor([0., 4., 0.])"
    m = torch.zeros(2, 2)
    m.T[0, 1] = 3
    assert repr(m) == "tensor([[0., 0.],\n        [3., 0.]])"
    v = m.view(4)
    v.mul_(2)
    assert repr(m) == "tensor([[0., 0.],\n        [6., 0.]])"
    s = torch.zeros(2, 3)
    assert all(u._base is s for u in (s.reshape(3, 2), s.unsqueeze(0), s.squeeze(), s.T, s.permute(1, 0),
                                       s.expand(2, 2, 3), s[:, None], s[1], s[..., 0], s.transpose(0, 1)))
    assert s.detach()._base is None and s[[0, 1]]._base is None            # advanced indexing copies
    assert s.t().reshape(6)._base is None                                   # reshape copies here, as PyTorch
    z = torch.tensor(1., requires_grad=True)
    d = z.detach()
    d.add_(1)
    assert repr((z, d)) == "(tensor(2., requires_grad=True), tensor(2.))"


def test_inplace_on_a_view_of_a_non_leaf_gives_pytorchs_gradients():
    x = torch.tensor([1., 2., 3., 4.], requires_grad=True)
    a = x * 1
    v = a[1:3]
    v.mul_(10)
    assert repr((a, v)) == ("(tensor([ 1., 20., 30.,  4.], grad_fn=<CopySlices>), "
                            "tensor([20., 30.], grad_fn=<AsStridedBackward0>))")
    a.sum().backward()
    assert repr(x.grad) == "tensor([ 1., 10., 10.,  1.])"
    x.grad = None
    a = x * 2
    v = a.view(2, 2)
    vt = v.t()
    vt[0, 1] = 0.5 * vt[0, 1].clone() ** 2
    assert repr(a) == "tensor([ 2.,  4., 18.,  8.], grad_fn=<CopySlices>)"
    assert repr(vt) == "tensor([[ 2., 18.],\n        [ 4.,  8.]], grad_fn=<AsStridedBackward0>)"
    (a * torch.arange(4.)).sum().backward()
    assert repr(x.grad) == "tensor([ 0.,  2., 24.,  6.])"


def test_views_take_their_bases_new_history():
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    w = torch.tensor(5., requires_grad=True)
    y = x * 2
    v = y[0]
    v.mul_(3)
    assert repr((y, v)) == "(tensor([6., 4., 6.], grad_fn=<CopySlices>), tensor(6., grad_fn=<AsStridedBackward0>))"
    y.sum().backward()
    assert repr(x.grad) == "tensor([6., 2., 2.])"
    x.grad = None
    a = x * 1
    v = a.view(3, 1)[1]                                  # a view of a view: its base is a
    v.add_(w * w)
    assert repr((a, v)) == ("(tensor([ 1., 27.,  3.], grad_fn=<CopySlices>), "
                            "tensor([27.], grad_fn=<AsStridedBackward0>))")
    (a * a).sum().backward()
    assert repr((x.grad, w.grad)) == "(tensor([ 2., 54.,  6.]), tensor(540.))"
    x.grad = None
    a = x * 1
    v = a[:2]
    a.mul_(2)                                            # the base changes: the view's history follows
    assert repr(v) == "tensor([2., 4.], grad_fn=<AsStridedBackward0>)"
    (v * v).sum().backward()
    assert repr(x.grad) == "tensor([ 8., 16.,  0.])"
    x.grad = None
    s = (x * x).sum()
    sv = s.view(1)
    sv.add_(1)
    assert repr((s, sv)) == "(tensor(15., grad_fn=<CopySlices>), tensor([15.], grad_fn=<AsStridedBackward0>))"
    s.backward()
    assert repr(x.grad) == "tensor([2., 4., 6.])"
    m = torch.arange(6.).reshape(2, 3).requires_grad_()
    q = m * 1
    w.grad = None
    q.t()[2] = torch.tensor([10., 20.]) * w              # a non-grad value and one requiring grad
    assert repr(q) == "tensor([[  0.,   1.,  50.],\n        [  3.,   4., 100.]], grad_fn=<CopySlices>)"
    (q * torch.arange(6.).reshape(2, 3)).sum().backward()
    assert repr((m.grad, w.grad)) == "(tensor([[0., 1., 0.],\n        [3., 4., 0.]]), tensor(120.))"
    base = torch.zeros(3)
    q = torch.tensor(2., requires_grad=True)
    base[1:2].mul_(0).add_(q * 3)                        # a base without history gets one
    assert repr(base) == "tensor([0., 6., 0.], grad_fn=<CopySlices>)"
    base.sum().backward()
    assert repr(q.grad) == "tensor(3.)"


def test_view_errors():
    x = torch.tensor([1., 2., 3., 4.], requires_grad=True)
    with raises(RuntimeError, "a view of a leaf Variable that requires grad is being used in an in-place operation."):
        x[0].add_(1)
    with raises(RuntimeError, "a view of a leaf Variable that requires grad is being used in an in-place operation."):
        x.view(2, 2).mul_(2)
    with torch.no_grad():
        x[0] = 5.
        p = x[1]
    assert repr(x) == "tensor([5., 2., 3., 4.], requires_grad=True)"
    with raises(RuntimeError, "A view was created in no_grad mode and is being modified inplace with grad mode "
                              "enabled."):
        p.add_(1)
    with raises(RuntimeError, "unsupported operation: more than one element of the written-to tensor refers to a "
                              "single memory location. Please clone() the tensor before performing the operation."):
        torch.zeros(3).expand(2, 3).add_(1)
    with raises(RuntimeError, "view size is not compatible with input tensor's size and stride (at least one "
                              "dimension spans across two contiguous subspaces). Use .reshape(...) instead."):
        torch.zeros(2, 3).t().view(6)
    for change in (lambda y: y[0:1].add_(1), lambda y: y.detach().add_(1), lambda y: y.add_(1)):
        y = torch.tensor([1., 2.], requires_grad=True).exp()
        change(y)                                        # exp saved its output: the change is caught
        with raises(RuntimeError, "one of the variables needed for gradient computation has been modified by an "
                                  "inplace operation: [torch.FloatTensor [2]], which is output 0 of Exp, is at "
                                  "version 1; expected version 0 instead."):
            y.sum().backward()


def test_a_base_viewed_in_a_loop_keeps_no_dead_views():
    # tapegrad's internals (the one test here that is not PyTorch's API)
    m = torch.zeros(2, 2)
    v = m.view(4)
    v.mul_(2)
    m.add_(1)
    assert m._version_number == v._version_number == 2
    w = torch.ones(10)
    for i in range(1000):
        w[i % 10].add_(1)
    assert repr(w) == "tensor([101., 101., 101., 101., 101., 101., 101., 101., 101., 101.])"
    assert len(w._view.refs) <= 1


def test_a_hook_that_refers_to_its_own_tensor_is_collected():
    # tensor -> hook -> closure -> tensor.  PyTorch 2.13's collector frees this cycle for a leaf's
    # gradient hook only: a non-leaf's hook and a post-accumulate hook sit in its C++ graph, which
    # the collector does not see, so those tensors live until exit.  tapegrad collects all three.
    def non_leaf():
        x = torch.tensor([1., 2.], requires_grad=True)
        y = x * 2
        shapes = []
        y.register_hook(lambda g: shapes.append(tuple(y.shape)))
        (y * y).sum().backward()
        assert shapes == [(2,)] and x.grad.tolist() == [8., 16.]       # d(4 x^2)/dx = 8 x
        return [weakref.ref(y), weakref.ref(y.grad_fn)]

    def leaf():
        x = torch.tensor([1., 2.], requires_grad=True)
        x.register_hook(lambda g: g * x.detach())                    # the gradient times x
        after = []
        x.register_post_accumulate_grad_hook(lambda t: after.append(x.grad.tolist()))
        (x * 3).sum().backward()
        assert x.grad.tolist() == [3., 6.] and after == [[3., 6.]]
        return [weakref.ref(x)]

    refs = non_leaf() + leaf()
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
    for i in range(3):                                   # what the collector freed is reused soundly
        a = torch.tensor([float(i), 1.], requires_grad=True)
        (a * a).sum().backward()
        assert a.grad.tolist() == [2. * i, 2.]
