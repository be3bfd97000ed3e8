"""tapegrad.torch: hooks, grad_fn classes, .grad under create_graph=True, and
backward/grad that stop at their inputs.  Every expected value, repr and error
text is PyTorch 2.13's, observed by running PyTorch and written in as a literal
(PyTorch is not a test dependency); with the imports switched to `torch` the
module's tests pass under PyTorch too."""
import re

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
