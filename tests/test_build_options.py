"""What the size-reducing build options (CMakeLists.txt) must not take away from users.

The build turns Cython's automatic pickling off (the value types define their own copies:
tests/test_copy_semantics.py), makes def functions builtin functions (binding=False) with embedded signatures,
and drops unused sections at link time.  These tests pin what stays: copying and pickling the value
types, signatures for inspect/help, and tracebacks that name the core's source lines.
"""
import copy
import inspect
import pickle
import traceback

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.torch as torch
from tapegrad import _core


def _same_tensor(a, b):
    assert type(a) is type(b)
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy, lambda t: pickle.loads(pickle.dumps(t))],
                         ids=["copy", "deepcopy", "pickle"])
def test_a_tensor_copies_and_pickles(how):
    t = tg.constant([1.5, -2.0, 3.25])
    _same_tensor(how(t), t)


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy], ids=["copy", "deepcopy"])
def test_a_variable_copies(how):
    v = tg.Variable([1.0, 2.0], name="w")
    c = how(v)
    assert isinstance(c, tg.Variable)
    np.testing.assert_array_equal(c.numpy(), [1.0, 2.0])


def test_a_deepcopied_variable_is_independent():
    v = tg.Variable([1.0, 2.0])
    c = copy.deepcopy(v)
    c.assign([5.0, 6.0])
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(c.numpy(), [5.0, 6.0])


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy, lambda t: pickle.loads(pickle.dumps(t))],
                         ids=["copy", "deepcopy", "pickle"])
def test_a_torch_tensor_copies_and_pickles(how):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    c = how(x)
    assert c.requires_grad
    np.testing.assert_array_equal(c.detach().numpy(), [1.0, 2.0])


def test_a_grad_fn_does_not_copy_as_in_pytorch():
    y = (torch.tensor([1.0, 2.0], requires_grad=True) * 2).sum()
    # PyTorch 2.13: TypeError("cannot pickle 'SumBackward0' object")
    with pytest.raises(TypeError, match="cannot pickle 'SumBackward0' object"):
        copy.copy(y.grad_fn)


def test_an_op_does_not_pickle():
    with pytest.raises(TypeError, match="cannot pickle"):
        pickle.dumps(tg.sin)


def test_compiled_functions_keep_their_signatures():
    assert list(inspect.signature(_core.Op.vjp).parameters) == ["self", "i", "g", "ans", "inputs", "params",
                                                                "batch_ndim"]
    assert inspect.signature(_core.Op.vjp).parameters["params"].default is None
    assert list(inspect.signature(tg.Tensor.numpy).parameters) == ["self"]


def test_a_traceback_through_the_core_names_its_source_line():
    with pytest.raises(ValueError) as info:
        tg.constant(np.array(["a"]))
    frames = traceback.extract_tb(info.value.__traceback__)
    assert any(f.filename.endswith("_core.pyx") and f.lineno > 0 for f in frames)
