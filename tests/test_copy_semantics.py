"""copy.copy, copy.deepcopy and pickle of tensors and variables: the originals' semantics.

TensorFlow 2.21 (observed): copy.copy and copy.deepcopy of a tensor return the tensor itself; a
pickled tensor comes back as a new tensor that a tape watching the original does not see;
copy.copy of a variable is the variable; copy.deepcopy of a variable (or of a tf.Module holding
it) and unpickling make an independent variable with the same value, name and trainability.
PyTorch 2.13 (observed): copy.copy shares memory and keeps requires_grad as a leaf; copy.deepcopy
copies a leaf's value and .grad and refuses a non-leaf; pickling keeps value, dtype and
requires_grad, a non-leaf coming back as a leaf.
"""
import copy
import pickle

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.torch as torch


def _pickled(obj):
    return pickle.loads(pickle.dumps(obj))


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy])
def test_copying_a_tensor_returns_it(how):
    x = tg.constant([1.0, 2.0])
    assert how(x) is x


@pytest.mark.parametrize("value", [np.array([1.5, -2.0], np.float32), np.float64(2.5), np.array([[1, 2]], np.int32),
                                   np.array([1 + 2j], np.complex128)])
def test_a_pickled_tensor_keeps_value_and_dtype(value):
    x = tg.constant(value)
    y = _pickled(x)
    assert type(y) is tg.Tensor and y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_array_equal(y.numpy(), x.numpy())


def test_a_pickled_tensor_is_a_new_tensor_for_the_tape():
    x = tg.constant([1.0, 2.0])
    y = _pickled(x)
    assert y.id != x.id
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        z = tg.reduce_sum(y * 3.0)
    assert tape.gradient(z, x) is None                  # TensorFlow: None
    with tg.GradientTape() as tape:
        tape.watch(y)
        z = tg.reduce_sum(y * 3.0)
    np.testing.assert_array_equal(tape.gradient(z, y).numpy(), [3.0, 3.0])


def test_copy_of_a_variable_is_the_variable():
    v = tg.Variable([1.0, 2.0])
    assert copy.copy(v) is v


@pytest.mark.parametrize("how", [copy.deepcopy, _pickled], ids=["deepcopy", "pickle"])
def test_a_deep_copied_variable_is_independent(how):
    v = tg.Variable([1.0, 2.0], name="w")
    frozen = tg.Variable(3.0, trainable=False, dtype=tg.float64)
    c, f = how(v), how(frozen)
    assert (c.name, c.trainable, c.dtype, f.name, f.trainable, f.dtype) == (
        "w:0", True, tg.float32, "Variable:0", False, tg.float64)
    assert c.id != v.id
    c.assign([5.0, 6.0])
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(c.numpy(), [5.0, 6.0])
    v.assign_add([1.0, 1.0])
    np.testing.assert_array_equal(c.numpy(), [5.0, 6.0])
    # A tape tells the copy from the original: d/dc sum(3 c) = 3, and nothing reaches v.
    with tg.GradientTape() as tape:
        loss = tg.reduce_sum(c * 3.0)
    g_copy, g_orig = tape.gradient(loss, [c, v])
    np.testing.assert_array_equal(g_copy.numpy(), [3.0, 3.0])
    assert g_orig is None


def test_a_deep_copied_variable_keeps_its_name_inside_a_name_scope():
    with tg.name_scope("outer"):
        v = tg.Variable(1.0, name="w")
    with tg.name_scope("other"):
        c = copy.deepcopy(v)
    assert c.name == v.name == "outer/w:0"


def test_a_deep_copied_module_has_its_own_variables():
    class Affine(tg.Module):
        def __init__(self):
            super().__init__()
            self.w = tg.Variable([[1.0], [2.0]])
            self.b = tg.Variable(0.5)
            self.step = tg.Variable(0, trainable=False)
            self.same_w = self.w                      # one variable reached twice: one copy

        def __call__(self, x):
            return tg.matmul(x, self.w) + self.b

    m = Affine()
    m2 = copy.deepcopy(m)
    assert m2.same_w is m2.w and m2.w is not m.w
    assert len(m2.trainable_variables) == 2 and len(m2.variables) == 3
    x = tg.constant([[1.0, 1.0]])
    with tg.GradientTape() as tape:
        y = tg.reduce_sum(m2(x))
    gw, gw_orig = tape.gradient(y, [m2.w, m.w])
    np.testing.assert_array_equal(gw.numpy(), [[1.0], [1.0]])   # d(x w + b)/dw = x^T
    assert gw_orig is None
    m2.w.assign([[0.0], [0.0]])
    np.testing.assert_array_equal(m.w.numpy(), [[1.0], [2.0]])


def test_a_torch_copy_shares_memory_and_keeps_requires_grad():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    c = copy.copy(a)
    assert c is not a and c.is_leaf and c.requires_grad and c.grad_fn is None
    with torch.no_grad():
        c[0] = 5.0
    assert a.detach().numpy().tolist() == [5.0, 2.0]
    (c * 3).sum().backward()
    assert a.grad is None and c.grad.numpy().tolist() == [3.0, 3.0]


def test_a_torch_copy_of_a_saved_output_is_caught_when_changed_in_place():
    a = torch.tensor([0.5, 1.0], requires_grad=True)
    y = a.exp()                                      # exp's backward reads y
    c = copy.copy(y)
    assert c.is_leaf and c.requires_grad
    with torch.no_grad():
        c.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_a_torch_deepcopy_copies_a_leaf_and_its_grad():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    (a * a).sum().backward()                         # grad = 2 a
    d = copy.deepcopy(a)
    assert d.is_leaf and d.requires_grad
    assert d.grad.numpy().tolist() == [2.0, 4.0] and d.grad is not a.grad
    with torch.no_grad():
        d[0] = 7.0
        d.grad[0] = 0.0
    assert a.detach().numpy().tolist() == [1.0, 2.0] and a.grad.numpy().tolist() == [2.0, 4.0]


def test_a_torch_deepcopy_of_a_non_leaf_raises_as_pytorch():
    b = torch.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"^Only Tensors created explicitly by the user \(graph leaves\) support "
                                           r"the deepcopy protocol at the moment\.  If you were attempting"):
        copy.deepcopy(b)


def test_a_pickled_torch_tensor_is_an_independent_leaf():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    pa, pb = _pickled(a), _pickled(b)
    assert pa.is_leaf and pa.requires_grad and pa.grad is None
    assert pb.is_leaf and pb.requires_grad and pb.grad_fn is None
    assert pb.detach().numpy().tolist() == [2.0, 4.0]
    p64 = _pickled(torch.tensor([1, 2], dtype=torch.float64))
    assert p64.dtype == torch.float64 and not p64.requires_grad
    with torch.no_grad():
        pa[0] = 9.0
    assert a.detach().numpy().tolist() == [1.0, 2.0]
