# cython: language_level=3, cdivision=True
# (boundscheck and wraparound are set by CMakeLists.txt: off, or on in the sanitizer build)
"""The compiled core of tapegrad.

It knows tensors, variables, ops-as-data and the tape; it does not know what
`sin` is.  Op families (src/tapegrad/ops/) declare Op objects: a NumPy
forward, one VJP rule per input, what the rules need saved.  This module runs
the forward, records the op on every active tape that watches one of its
inputs, and sweeps a tape backwards calling the rules.

Layering: this module validates what it is given and guards memory; the
Python modules around it are the user-facing API.
"""
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t, INT32_MAX
from libc.stdlib cimport calloc, malloc, free
from libc.string cimport memcmp
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.ref cimport PyObject, Py_INCREF, Py_XINCREF, Py_XDECREF, Py_REFCNT
from cpython.pystate cimport PyThreadState_GetDict
from cpython.pythread cimport PyThread_get_thread_ident
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_New, PyTuple_SET_ITEM
from cpython.weakref cimport PyWeakref_GetObject

cdef extern from "Python.h":
    PyObject **PySequence_Fast_ITEMS(object o)    # a tuple's or a list's item array
    object PyObject_Vectorcall(object f, PyObject **args, size_t nargsf, PyObject *kwnames)
    Py_ssize_t PyList_GET_SIZE(PyObject *o)       # borrowed access (the recording fast path)
    PyObject *PyList_GET_ITEM(PyObject *o, Py_ssize_t i)

cdef extern from "tg_forms.h":
    enum:
        TG_FORM_MAX
        TG_F_G, TG_F_ANS, TG_F_IN, TG_F_CONST, TG_F_CALL1, TG_F_CALL2
        TG_S_NONE, TG_S_ADD, TG_S_SUB, TG_S_MUL, TG_S_DIV, TG_S_NEG, TG_S_LOOP
    void tg_fpe_clear(double *operands) noexcept
    int tg_fpe_test(double *results) noexcept
    void tg_form_eval_double(const tg_form *f, const double *leaves, double *out) noexcept
cimport numpy as cnp
cimport cython

cdef extern from *:
    """
    /* NumPy's own float64 -> float64 inner loop of a one-input ufunc (the loop
       np.cos runs on a float64), read from the ufunc's C struct: NumPy 2.5
       made the struct's fields reachable through _PyUFuncObject_GET_ITEM_DATA
       only (its Cython declarations no longer list `types`), older NumPy 2
       through PyUFuncObject itself.  1 with *loop and *data set, 0 if none. */
    #ifdef _PyUFuncObject_GET_ITEM_DATA
    #define TG_UFUNC_FIELDS(u) _PyUFuncObject_GET_ITEM_DATA(u)
    #else
    #define TG_UFUNC_FIELDS(u) ((PyUFuncObject *)(u))
    #endif
    static int tg_float64_loop(PyObject *uf, void **loop, void **data) {
        int k;
        if (TG_UFUNC_FIELDS(uf)->functions == NULL || TG_UFUNC_FIELDS(uf)->types == NULL)
            return 0;
        for (k = 0; k < TG_UFUNC_FIELDS(uf)->ntypes; k++) {
            if (TG_UFUNC_FIELDS(uf)->types[2 * k] == NPY_DOUBLE
                    && TG_UFUNC_FIELDS(uf)->types[2 * k + 1] == NPY_DOUBLE) {
                if (TG_UFUNC_FIELDS(uf)->functions[k] == NULL)
                    return 0;
                *loop = (void *)TG_UFUNC_FIELDS(uf)->functions[k];
                *data = TG_UFUNC_FIELDS(uf)->data != NULL ? TG_UFUNC_FIELDS(uf)->data[k] : NULL;
                return 1;
            }
        }
        return 0;
    }
    """
    int tg_float64_loop(object uf, void **loop, void **data)

cdef extern from *:
    """
    /* A read-only view of base's first element with shape dims[0..nd) and every stride 0:
       what np.ndarray(shape, base.dtype, base, 0, (0,) * nd) makes, without the constructor's
       argument parsing.  nd <= TG_ZERO_VIEW_MAXDIMS (NumPy 1.x's NPY_MAXDIMS, 32). */
    #define TG_ZERO_VIEW_MAXDIMS 32
    static PyObject *tg_zero_strided_view(PyObject *base, int nd, npy_intp *dims) {
        npy_intp strides[TG_ZERO_VIEW_MAXDIMS] = {0};
        PyArray_Descr *descr = PyArray_DESCR((PyArrayObject *)base);
        PyObject *view;
        Py_INCREF(descr);                                   /* stolen by NewFromDescr */
        view = PyArray_NewFromDescr(&PyArray_Type, descr, nd, dims, strides,
                                    PyArray_DATA((PyArrayObject *)base), 0, NULL);
        if (view == NULL)
            return NULL;
        Py_INCREF(base);                                    /* stolen by SetBaseObject */
        if (PyArray_SetBaseObject((PyArrayObject *)view, base) < 0) {
            Py_DECREF(view);
            return NULL;
        }
        return view;
    }
    """
    enum:
        TG_ZERO_VIEW_MAXDIMS
    object tg_zero_strided_view(object base, int nd, cnp.npy_intp *dims)

cdef extern from "tg_scalar.h":        # shared with _graph.pyx: the same bits in both
    object tg_float64(double d)

cdef extern from "tg_sincos.h":         # one pass for sin's value and its factor (paired_forward)
    int tg_sincos_f64(const double *x, double *a, double *b, Py_ssize_t n, int negated) nogil
    int tg_sincos_f64_all(const double *x, double *a, double *b, Py_ssize_t n) nogil

cdef extern from "tg_small.h":          # small elementwise ufunc calls made by the core (issue 15, W9)
    int TG_SMALL_MAX
    int tg_small_register(object key, object uf) except -1
    object tg_small_call(object key, PyObject *a, PyObject *b)
    bint tg_small_maybe(PyObject *a, PyObject *b) noexcept

import numpy as np
import weakref
from collections.abc import Sequence as _Sequence
from tapegrad import dtypes as _dtypes
from tapegrad.shapes import TensorShape
from tapegrad.errors import InvalidArgumentError

cnp.import_array()

# Op kinds: how the core runs the forward.
UNARY = 1      # f(x), elementwise: gradient has x's shape
BINARY = 2     # f(x, y), broadcasting: the core un-broadcasts gradients
GENERAL = 3    # f(*inputs, *params): rules un-broadcast themselves if needed
# What a node keeps for its rules (bits).
SAVE_INPUTS = 1
SAVE_ANS = 2
# How the core calls an op's rules, fixed when the op is declared (Op.calling);
# _vjp_of and _jvp_of are the one place that reads it.
CALL_UNARY = 1        # rule(g, ans, x)
CALL_BINARY = 2       # rule(g, ans, x, y); the result is un-broadcast by the core
CALL_POSITIONAL = 3   # rule(g, ans, *inputs, *params)
CALL_VARIADIC = 4     # one rule for every input: rule(g, ans, i, inputs, *params)
CALL_JOINT = 5        # one rule for all inputs at once (custom gradients), see Op

cdef int _UNARY = UNARY, _BINARY = BINARY, _GENERAL = GENERAL
cdef int _SAVE_INPUTS = SAVE_INPUTS, _SAVE_ANS = SAVE_ANS
cdef int _CALL_UNARY = CALL_UNARY, _CALL_BINARY = CALL_BINARY, _CALL_POSITIONAL = CALL_POSITIONAL
cdef int _CALL_VARIADIC = CALL_VARIADIC, _CALL_JOINT = CALL_JOINT

cdef type ndarray = np.ndarray
cdef object _add_reduce = np.add.reduce, _multiply = np.multiply
cdef object _np_matmul = np.matmul
cdef object _np_add = np.add
cdef type generic = np.generic
cdef type number = np.number
cdef type float64 = np.float64
cdef dict _DTYPE_OBJECTS = _dtypes._BY_NUMPY

# --------------------------------------------------------------------------
# ids

cdef int64_t _next_id = 0

cdef inline int64_t _new_id() noexcept:
    # int64 ids: 2**63 ops at a billion per second is ~300 years.
    global _next_id
    _next_id += 1
    return _next_id


# --------------------------------------------------------------------------
# The per-thread stack of active recorders (tapes, later forward accumulators).
# `_n_active` counts active recorders in all threads: when it is 0 no thread
# records and an op costs only its NumPy call plus the Tensor wrapper.

cdef Py_ssize_t _n_active = 0
cdef str _STACK_KEY = "tapegrad.recorders"


cdef extern from *:
    """
    /* This thread's recorder list (a borrowed reference: the thread-state
       dict owns it, and both die with the thread).  Saves a dict lookup per op.
       The dict can die while the OS thread goes on: a native thread calling
       into Python through PyGILState_Ensure/Release (ctypes callbacks, C
       thread pools) gets a new thread state, and a new dict, per call.  So
       the dict also holds a _StackGuard, inserted before the list (a dict
       drops its values in insertion order), whose deallocation forgets the
       cached pointer before the list can be freed. */
    #include "tg_compat.h"
    static TG_THREAD_LOCAL PyObject *tg_thread_stack = NULL;
    """
    PyObject *tg_thread_stack


cdef inline list _thread_stack():
    if tg_thread_stack != NULL:
        return <list>tg_thread_stack
    return _thread_stack_slow()


@cython.final
@cython.no_gc
cdef class _StackGuard:
    """Lives in a thread state's dict next to the recorder stack; when that
    dict is cleared (the thread, or a PyGILState call, ends), forgets this
    OS thread's cached pointer to the stack."""
    def __dealloc__(self):
        global tg_thread_stack
        tg_thread_stack = NULL


cdef str _GUARD_KEY = "tapegrad.recorders.guard"


cdef list _thread_stack_slow():
    global tg_thread_stack
    cdef PyObject *d = PyThreadState_GetDict()
    if d == NULL:
        raise RuntimeError("tapegrad: no thread state")
    cdef dict tdict = <dict>d
    stack = tdict.get(_STACK_KEY)
    if stack is None:
        if _GUARD_KEY not in tdict:
            tdict[_GUARD_KEY] = _StackGuard()     # first: cleared before the list
        stack = []
        tdict[_STACK_KEY] = stack
    tg_thread_stack = <PyObject *>stack
    return <list>stack


def push_recorder(Recorder r):
    global _n_active
    _thread_stack().append(r)
    _entered.append((r, PyThread_get_thread_ident()))
    _n_active += 1


def pop_recorder(Recorder r):
    """Remove r from this thread's stack (it need not be on top: tapes may
    be exited in any order)."""
    global _n_active
    cdef list stack = _thread_stack()
    cdef Py_ssize_t i
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is r:
            del stack[i]
            _n_active -= 1
            for i in range(len(_entered)):
                if (<tuple>_entered[i])[0] is r:
                    del _entered[i]
                    break
            return
    raise ValueError("tapegrad: recorder is not active in this thread")


def active_recorders():
    """This thread's active recorders, innermost last."""
    if _n_active == 0:
        return []
    return list(_thread_stack())


cpdef bint any_recording():
    return _n_active > 0 and len(_thread_stack()) > 0


cdef list _replace_stack(list new):
    """Make `new` this thread's recorder stack and return the old one (restore
    it with the same call).  Used to run code that only some recorders may see:
    an accumulator's JVP ops (seen by the recorders entered before it), a
    recompute_grad forward (seen by none).  A list object is swapped, never
    mutated in place: a caller may be iterating over the old one."""
    global _n_active, tg_thread_stack
    cdef list old = _thread_stack()
    (<dict>PyThreadState_GetDict())[_STACK_KEY] = new     # `old` stays alive: we return it
    tg_thread_stack = <PyObject *>new
    _n_active += len(new) - len(old)
    return old


def replace_stack(list new):
    return _replace_stack(new)


# --------------------------------------------------------------------------
# Values

cdef inline object _own(object value):
    """Normalise an op's raw result into the form a Tensor holds: 0-d results
    become NumPy scalars (immutable and much cheaper to compute with than 0-d
    arrays), arrays are made read-only so no one can mutate a saved value."""
    if type(value) is float64:         # a float64 op on float64 scalars (W1's chain)
        return value
    if type(value) is ndarray or isinstance(value, ndarray):
        if cnp.PyArray_NDIM(<cnp.ndarray>value) == 0:
            return (<cnp.ndarray>value)[()]
        if type(value) is not ndarray:
            value = np.asarray(value)
        cnp.PyArray_CLEARFLAGS(<cnp.ndarray>value, cnp.NPY_ARRAY_WRITEABLE)
        return value
    if isinstance(value, number) or isinstance(value, np.bool_):
        return value
    arr = np.asarray(value)
    if arr.dtype.kind in "OUSV":
        raise ValueError(f"tapegrad tensors hold numbers; got a value of NumPy dtype {arr.dtype}")
    return _own(arr)


cdef inline Tensor _wrap(object value):
    """A new Tensor around an owned raw value (see _own)."""
    cdef Tensor t = Tensor.__new__(Tensor)
    t._value = value
    t._id = _new_id()
    return t


cdef type inexact = np.inexact


cdef inline bint _differentiable_value(object value) noexcept:
    """Only float and complex results carry gradients (TensorFlow's rule):
    ops producing integers or booleans are never recorded.  A type test
    (raises nothing); no reference to the type, so nothing to release."""
    cdef int t
    if type(value) is ndarray:
        t = cnp.PyArray_TYPE(<cnp.ndarray>value)      # float64 first: the commonest
        return t == cnp.NPY_DOUBLE or cnp.PyTypeNum_ISFLOAT(t) or cnp.PyTypeNum_ISCOMPLEX(t)
    return type(value) is float64 or isinstance(value, inexact)


cdef type complexfloating = np.complexfloating


cdef inline bint _complex_value(object value):
    """Whether a gradient or tangent (raw or a Tensor) is complex: it picks
    an op's complex rules (Op.cvjps / Op.cjvps)."""
    if type(value) is Tensor:
        value = (<Tensor>value)._value
    if type(value) is ndarray:
        return cnp.PyArray_ISCOMPLEX(<cnp.ndarray>value)
    return type(value) is not float64 and isinstance(value, complexfloating)


cdef inline object _np_dtype(object value):
    if type(value) is ndarray:
        return <object>cnp.PyArray_DESCR(<cnp.ndarray>value)
    return value.dtype


cdef inline bint _same_dtype(object a, object b):
    return a is b or a == b


cdef inline bint _same_shape(object a, object b) noexcept:
    cdef int nd, i
    cdef cnp.npy_intp *da
    cdef cnp.npy_intp *db
    cdef bint a_arr = type(a) is ndarray
    cdef bint b_arr = type(b) is ndarray
    if not a_arr and not b_arr:
        return True                    # two scalars
    if a_arr and b_arr:
        nd = cnp.PyArray_NDIM(<cnp.ndarray>a)
        if nd != cnp.PyArray_NDIM(<cnp.ndarray>b):
            return False
        da = cnp.PyArray_DIMS(<cnp.ndarray>a)
        db = cnp.PyArray_DIMS(<cnp.ndarray>b)
        for i in range(nd):            # (a loop, not memcmp: shapes are short)
            if da[i] != db[i]:
                return False
        return True
    return False                       # scalar against a >=1-d array


def _python_value_dtype(value):
    """TensorFlow's default dtype for a Python value: floats are float32 and
    ints int32 (int64 when they do not fit); NumPy values keep theirs."""
    if isinstance(value, bool) or isinstance(value, np.bool_):
        return np.dtype(np.bool_)
    if isinstance(value, int):
        return np.dtype(np.int32) if -2**31 <= value < 2**31 else np.dtype(np.int64)
    if isinstance(value, float):
        return np.dtype(np.float32)
    if isinstance(value, complex):
        return np.dtype(np.complex128)
    return None


cdef object _aligned_copy(object value, object dtype):
    """A C-contiguous copy whose data starts on a 64-byte boundary: BLAS
    kernels run measurably faster on aligned operands (~10% for a float32
    64x784 @ 784x256 here), and NumPy itself only guarantees 16 bytes."""
    cdef Py_ssize_t nbytes = value.size * dtype.itemsize
    if nbytes < 4096:
        return np.array(value, dtype=dtype)
    buf = np.empty(nbytes + 64, dtype=np.uint8)
    cdef Py_ssize_t offset = (-<Py_ssize_t>cnp.PyArray_DATA(<cnp.ndarray>buf)) & 63
    out = buf[offset:offset + nbytes].view(dtype).reshape(value.shape)
    np.copyto(out, value, casting="unsafe")
    return out


cdef object _unsupported(object value):
    """TensorFlow's error for a Python object that is no tensor value (None, a
    dict, a set, a string, a generator, a function, ...): ValueError."""
    return ValueError(f"Attempt to convert a value ({value!r:.80}) with an unsupported type ({type(value)!r}) to a "
                      f"tapegrad Tensor: tensors hold numbers (a number, a nested list of numbers, a NumPy array "
                      f"or an object with __array__)")


cdef inline bint _array_like(object value):
    """Objects NumPy converts to numbers by a protocol (their own code runs, and
    any exception it raises is theirs to propagate)."""
    cdef type tp = type(value)
    return (hasattr(tp, "__array__") or hasattr(tp, "__array_interface__") or hasattr(tp, "__array_struct__")
            or hasattr(tp, "__float__") or hasattr(tp, "__index__") or hasattr(tp, "__complex__")
            or isinstance(value, memoryview))


cdef inline object _native(object dt):
    """dt in this machine's byte order (a big-endian array's dtype is a distinct
    NumPy dtype that no tapegrad DType names)."""
    return dt if dt.isnative else dt.newbyteorder("=")


cdef object _to_dtype(object arr, object dtype):
    """An array of Python or NumPy values in `dtype`, with TensorFlow's
    refusals: a value that does not fit an integer dtype, a fraction into an
    integer dtype or a non-zero imaginary part into a real one is a TypeError."""
    if _same_dtype(arr.dtype, dtype):
        return arr
    if dtype.kind in "iu" and arr.dtype.kind in "iub" and arr.size:
        info = np.iinfo(dtype)
        if arr.min() < info.min or arr.max() > info.max:
            raise TypeError(f"Cannot convert {arr.tolist()!r:.80} to a tapegrad Tensor of dtype {dtype.name}: "
                            f"out of its range [{info.min}, {info.max}]")
    _check_lossless(arr, dtype)
    return arr.astype(dtype)


def _raw_from_python(value, dtype=None):
    """The raw value of tapegrad.constant(value, dtype)."""
    if isinstance(value, Tensor):
        raw = (<Tensor>value)._value
        if dtype is None or _same_dtype(_np_dtype(raw), dtype):
            return raw
        return _own(np.asarray(raw, dtype=dtype))
    if isinstance(value, Variable):
        raw = (<Variable>value)._state.value
        if dtype is None or _same_dtype(_np_dtype(raw), dtype):
            return raw
        return _own(np.asarray(raw, dtype=dtype))
    cdef type tp = type(value)
    if not (tp is float or tp is int or tp is list or tp is tuple or isinstance(value, (ndarray, generic))
            or isinstance(value, (int, float, complex, _Sequence)) or _array_like(value)) \
            or isinstance(value, (str, bytes, bytearray)):
        raise _unsupported(value)
    if isinstance(value, ndarray) and value.dtype.kind in "OUSVMm":
        raise ValueError(f"tapegrad tensors hold numbers; cannot convert a NumPy array of dtype {value.dtype}")
    if dtype is not None:
        dtype = np.dtype(dtype)
        if isinstance(value, float) and dtype.kind in "iub" and value != int(value):
            raise TypeError(f"Cannot convert {value!r} to a tapegrad Tensor of dtype {dtype.name}")
        if isinstance(value, ndarray):
            return _own(_aligned_copy(value, dtype))
        if tp is float or tp is int or tp is bool:
            try:
                return _own(np.array(value, dtype=dtype))
            except OverflowError:
                raise TypeError(f"Cannot convert {value!r} to a tapegrad Tensor of dtype {dtype.name}: out of "
                                f"its range") from None
        arr = np.array(value)
        if arr.dtype.kind == "O" and not isinstance(value, _Sequence):
            arr = np.array(value, dtype=dtype)    # a number type of its own (__float__, __index__)
        if arr.dtype.kind in "OUSVMm":
            raise _unsupported(value)
        return _own(_to_dtype(arr, dtype))
    if isinstance(value, ndarray):
        return _own(_aligned_copy(value, _native(value.dtype)))   # a copy: the caller keeps their array
    if isinstance(value, generic):
        return _own(np.array(value))
    default = _python_value_dtype(value)
    if default is not None:
        return _own(np.array(value, dtype=default))
    arr = np.array(value)
    if arr.dtype.kind in "OUSVMm":
        raise _unsupported(value)
    if not arr.dtype.isnative:
        arr = arr.astype(_native(arr.dtype))
    if isinstance(value, (list, tuple)) and not any(isinstance(e, (Tensor, Variable, ndarray, generic)) for e in value):
        # Python literals follow TensorFlow's defaults, not NumPy's.
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        elif arr.dtype == np.int64 and (arr.size == 0 or (arr.min() >= -2**31 and arr.max() < 2**31)):
            arr = arr.astype(np.int32)
    return _own(arr)


cdef object _operand_like(object value, object dtype, bint weak_scalars=True):
    """What a non-tensor operand becomes next to a tensor of `dtype`: the one
    place of TensorFlow's rule that it takes the tensor's dtype (Python and
    NumPy numbers, lists, ndarrays of any dtype).  Conversions that would lose
    more than rounding raise TypeError: a non-integral number into an integer
    tensor, a complex one into a real tensor.

    weak_scalars: Python floats/ints next to a float tensor stay Python numbers
    (NumPy treats them as weak, so the result already has the tensor's dtype,
    at no conversion cost); else they become values of `dtype`."""
    cdef type tp = type(value)
    if tp is float or tp is int:
        if weak_scalars and dtype.kind in "fc":
            return value
        if tp is float and dtype.kind in "iub" and not (<double>value).is_integer():
            raise TypeError(f"Cannot convert {value!r} to a tapegrad Tensor of dtype {dtype.name}")
        return dtype.type(value)
    if isinstance(value, ndarray) and cnp.PyArray_NDIM(<cnp.ndarray>value) == 0:
        value = value[()]
    if isinstance(value, (float, int, complex, generic)):   # bool, NumPy scalars
        _check_lossless(value, dtype)
        return dtype.type(value)
    if isinstance(value, ndarray):
        if value.dtype.kind in "OUSVMm":
            raise ValueError(f"tapegrad tensors hold numbers; cannot use a NumPy array of dtype {value.dtype}")
        if not _same_dtype(value.dtype, dtype):
            _check_lossless(value, dtype)
        return _own(_aligned_copy(value, dtype))              # a copy: the caller keeps their array
    if isinstance(value, (list, tuple)):
        return _raw_from_python(value, dtype)
    if _array_like(value) and not isinstance(value, str):
        arr = np.asarray(value)           # the object's own __array__: its exceptions propagate as they are
        if arr.dtype.kind in "OUSVMm":
            raise _unsupported(value)
        return _operand_like(arr, dtype, weak_scalars)
    raise _unsupported(value)


cdef int _check_lossless(object value, object dtype) except -1:
    """Raise TypeError where converting `value` to `dtype` would drop a
    non-zero imaginary part or a fraction (TensorFlow refuses those)."""
    cdef object kind = _np_dtype(value).kind if isinstance(value, (ndarray, generic)) else \
        ("c" if isinstance(value, complex) else "f" if isinstance(value, float) else "i")
    if kind == "c" and dtype.kind != "c":
        if np.any(np.imag(value) != 0):
            raise TypeError(f"Cannot convert a complex value to a tapegrad Tensor of dtype {dtype.name}")
    elif kind in "fc" and dtype.kind in "iub":
        if not np.all(np.mod(np.real(value), 1) == 0):
            raise TypeError(f"Cannot convert {value!r} to a tapegrad Tensor of dtype {dtype.name}")
    return 0


def operands(values, op_name):
    """The inputs of an op that takes several tensors of one dtype, as Tensors:
    the dtype is the first tensor's (or variable's, which is read); other
    values are converted to it (_operand_like); a tensor of another dtype
    raises TensorFlow's InvalidArgumentError (it never promotes).  With no
    tensor among them, the first value's default dtype is used."""
    cdef list out = []
    cdef object dt = None, x
    cdef Py_ssize_t i
    for x in values:
        if isinstance(x, (Tensor, Variable)):
            dt = _np_dtype(_raw_of(x))
            break
    for i, x in enumerate(values):
        if isinstance(x, (Tensor, Variable)):
            t = _as_tensor(x)
            if not _same_dtype(_np_dtype((<Tensor>t)._value), dt):
                _dtype_mismatch(op_name, i, dt, _np_dtype((<Tensor>t)._value))
        elif dt is None:
            t = _as_tensor(x)
            dt = _np_dtype((<Tensor>t)._value)
        else:
            t = _wrap(_own(_operand_like(x, dt, False)))
        out.append(t)
    return out


cdef int _dtype_mismatch(str op_name, Py_ssize_t i, object expected, object got) except -1:
    raise InvalidArgumentError(
        f"cannot compute {op_name} as input #{i}(zero-based) was expected to be a {expected.name} tensor "
        f"but is a {got.name} tensor: tapegrad does not promote dtypes implicitly; use tapegrad.cast "
        f"[Op:{op_name}]")


# Sparse gradients (tapegrad.IndexedSlices) are a value type the engine meets
# in three places: accumulating two gradients of one slot, an op receiving one
# as its upstream gradient, and an op receiving one as an input.  The core
# knows neither the type nor its arithmetic: tapegrad.ops.sparse_ops installs
# the type, how to add it to another gradient (sparse + sparse stays sparse,
# sparse + dense is dense) and how to densify it (raw values -> raw array,
# Tensor values -> a recorded Tensor).
cdef object _sparse_type = None, _sparse_add = None, _sparse_dense = None


def install_sparse(type sparse_type, add, dense):
    global _sparse_type, _sparse_add, _sparse_dense
    _sparse_type, _sparse_add, _sparse_dense = sparse_type, add, dense


cdef inline Tensor _as_tensor(object x):
    """Op inputs: Tensors as they are, variables read (and auto-watched), and
    anything else converted like tapegrad.constant."""
    if isinstance(x, Tensor):
        return <Tensor>x
    if isinstance(x, Variable):
        return _read(<Variable>x)
    if type(x) is _sparse_type:
        return _dense_tensor(x)
    if isinstance(x, _Operand):
        raise TypeError("tapegrad._core._Operand is the base of Tensor and Variable, not a value")
    return _wrap(_raw_from_python(x))


cdef Tensor _dense_tensor(object sparse):
    d = _sparse_dense(sparse)
    return <Tensor>d if isinstance(d, Tensor) else _wrap(_own(d))


def as_tensor(x):
    return _as_tensor(x)


# --------------------------------------------------------------------------
# Tensor

def _format_value(value, bint for_repr):
    if for_repr:
        if not isinstance(value, ndarray):
            return repr(value.item())
        text = repr(value)
    else:
        text = str(np.asarray(value))
    return "\n" + text if "\n" in text else text


cdef inline object _raw_of(object x):
    """The raw value of a Tensor or Variable (a variable is not read)."""
    if isinstance(x, Tensor):
        return (<Tensor>x)._value
    if isinstance(x, Variable):
        return (<Variable>x)._state.value
    raise TypeError(f"expected a tapegrad Tensor or Variable, got {type(x).__name__}")


cdef class _Operand:
    """What Tensor and Variable share: NumPy-like properties, Python's
    operators and NumPy's protocols, written once.  An operator passes the
    Variable itself to the op, which reads it (so tapes watch it)."""

    __array_priority__ = 100

    # ---- value access
    def numpy(self):
        """The value as NumPy data, detached from tapegrad.

        Returns:
            A new writable ``numpy.ndarray`` (changing it does not change the
            tensor or variable), or a NumPy scalar such as ``numpy.float32``
            for a 0-d value, as TensorFlow's ``numpy()`` does.  Nothing
            computed from it is recorded on a tape.
        """
        if _n_active:
            _note_cut("via_numpy", "numpy()", self, None)
        v = _raw_of(self)
        if isinstance(v, ndarray):
            return np.array(v)
        return v

    def __array__(self, dtype=None, copy=None):
        if _n_active:                   # an implicit conversion while something records: is a gradient lost?
            _check_gradient_lost(self)
            _note_cut("via_numpy", "np.asarray()", self, None)
        v = _as_tensor(self)._value
        if copy is False and not isinstance(v, ndarray):
            raise ValueError("a 0-d tapegrad Tensor holds a NumPy scalar; it cannot be viewed without a copy")
        if copy:
            return np.array(v, dtype=dtype)
        return np.asarray(v, dtype=dtype)

    @property
    def shape(self):
        """The shape, a `tapegrad.TensorShape` (compares equal to tuples and lists)."""
        return TensorShape(_raw_of(self).shape)

    @property
    def dtype(self):
        """The element type, a `tapegrad.DType` such as `tapegrad.float32`."""
        return _DTYPE_OBJECTS[_np_dtype(_raw_of(self))]

    @property
    def ndim(self):
        """The number of axes (0 for a scalar)."""
        return _raw_of(self).ndim

    def get_shape(self):
        """The shape (TensorFlow's alias of `shape`)."""
        return self.shape

    # ---- Python's protocols
    # (__hash__ lives beside __eq__: CPython inherits rich comparisons only
    # together with the hash.)
    def __hash__(self):
        if isinstance(self, Tensor):
            raise TypeError("Tensor is unhashable. Instead, use tensor.ref() as the key.")
        raise TypeError(f"Variable is unhashable. Instead, use variable.ref() as the key. (Variable: {self!r})")

    def __len__(self):
        v = _as_tensor(self)._value
        if v.ndim == 0:
            raise TypeError("Scalar tensor has no `len()`")
        return v.shape[0]

    def __iter__(self):
        cdef Tensor t = _as_tensor(self)
        if t._value.ndim == 0:
            raise TypeError("Cannot iterate over a scalar tensor.")
        return (t[i] for i in range(t._value.shape[0]))

    def __bool__(self):
        return bool(_raw_of(self))

    def __float__(self):
        if _n_active:
            _note_cut("via_numpy", "float()", self, None)
        return float(_raw_of(self))

    def __int__(self):
        return int(_raw_of(self))

    def __complex__(self):
        return complex(_raw_of(self))

    def __index__(self):
        v = _raw_of(self)
        if _np_dtype(v).kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, not {_np_dtype(v).name}")
        return int(v)

    # ---- operators: the ops are installed by tapegrad.ops (install_operators)
    def __add__(self, other): return _binary(_op_add, self, other)
    def __radd__(self, other): return _binary(_op_add, other, self)
    def __sub__(self, other): return _binary(_op_sub, self, other)
    def __rsub__(self, other): return _binary(_op_sub, other, self)
    def __mul__(self, other): return _binary(_op_mul, self, other)
    def __rmul__(self, other): return _binary(_op_mul, other, self)
    def __truediv__(self, other): return _binary(_op_div, self, other)
    def __rtruediv__(self, other): return _binary(_op_div, other, self)
    def __floordiv__(self, other): return _binary(_op_floordiv, self, other)
    def __rfloordiv__(self, other): return _binary(_op_floordiv, other, self)
    def __mod__(self, other): return _binary(_op_mod, self, other)
    def __rmod__(self, other): return _binary(_op_mod, other, self)
    def __pow__(self, other, mod=None): return _binary(_op_pow, self, other)
    def __rpow__(self, other, mod=None): return _binary(_op_pow, other, self)
    def __matmul__(self, other): return _matmul_operator(self, other)
    def __rmatmul__(self, other): return _hook_matmul(other, self)
    def __neg__(self): return _unary(_op_negative, self)
    def __pos__(self): return _as_tensor(self)
    def __abs__(self): return _unary(_op_abs, self)
    def __invert__(self): return _unary(_op_logical_not, self)
    def __and__(self, other): return _binary(_op_logical_and, self, other)
    def __rand__(self, other): return _binary(_op_logical_and, other, self)
    def __or__(self, other): return _binary(_op_logical_or, self, other)
    def __ror__(self, other): return _binary(_op_logical_or, other, self)
    def __xor__(self, other): return _binary(_op_logical_xor, self, other)
    def __rxor__(self, other): return _binary(_op_logical_xor, other, self)
    def __lt__(self, other): return _binary(_op_less, self, other)
    def __le__(self, other): return _binary(_op_less_equal, self, other)
    def __gt__(self, other): return _binary(_op_greater, self, other)
    def __ge__(self, other): return _binary(_op_greater_equal, self, other)
    def __eq__(self, other): return _equality(_op_equal, self, other, False)
    def __ne__(self, other): return _equality(_op_not_equal, self, other, True)

    # ---- NumPy's protocols: NumPy functions on tensors and variables are recorded too
    # The registered ufuncs and functions are looked up here, in C, and called at
    # once; anything else (keywords, ufunc methods, no rule) goes to the hooks.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if not kwargs and method == "__call__":
            f = _ufunc_table.get(ufunc)
            if f is not None:
                return f(*inputs)
        return _hook_array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        f = _function_table.get(func)
        if f is not None:
            return f(*args, **kwargs)
        return _hook_array_function(func, types, args, kwargs)

    # ---- ndarray's methods and properties, recorded like the NumPy functions
    # they name (x.sum() is np.sum(x)).  tapegrad.ops installs them
    # (install_numpy); each is one dict lookup away from its function.
    @property
    def T(self):
        """The tensor with its axes reversed (ndarray.T), recorded."""
        return _methods["T"](self)

    @property
    def mT(self):
        """The tensor with its last two axes swapped (ndarray.mT), recorded."""
        return _methods["mT"](self)

    @property
    def real(self):
        """The real part (ndarray.real), recorded."""
        return _methods["real"](self)

    @property
    def imag(self):
        """The imaginary part (ndarray.imag), recorded."""
        return _methods["imag"](self)

    def reshape(self, *args, **kwargs):
        """ndarray.reshape, recorded: see numpy.ndarray.reshape."""
        return _methods["reshape"](self, *args, **kwargs)

    def ravel(self, *args, **kwargs):
        """ndarray.ravel, recorded: see numpy.ndarray.ravel."""
        return _methods["ravel"](self, *args, **kwargs)

    def flatten(self, *args, **kwargs):
        """ndarray.flatten, recorded: see numpy.ndarray.flatten."""
        return _methods["flatten"](self, *args, **kwargs)

    def astype(self, *args, **kwargs):
        """ndarray.astype, recorded: see numpy.ndarray.astype."""
        return _methods["astype"](self, *args, **kwargs)

    def sum(self, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=True):
        """ndarray.sum, recorded: see numpy.ndarray.sum."""
        return _methods["sum"](self, axis, dtype, out, keepdims, initial, where)

    def mean(self, *args, **kwargs):
        """ndarray.mean, recorded: see numpy.ndarray.mean."""
        return _methods["mean"](self, *args, **kwargs)

    def prod(self, *args, **kwargs):
        """ndarray.prod, recorded: see numpy.ndarray.prod."""
        return _methods["prod"](self, *args, **kwargs)

    def max(self, *args, **kwargs):
        """ndarray.max, recorded: see numpy.ndarray.max."""
        return _methods["max"](self, *args, **kwargs)

    def min(self, *args, **kwargs):
        """ndarray.min, recorded: see numpy.ndarray.min."""
        return _methods["min"](self, *args, **kwargs)

    def std(self, *args, **kwargs):
        """ndarray.std, recorded: see numpy.ndarray.std."""
        return _methods["std"](self, *args, **kwargs)

    def var(self, *args, **kwargs):
        """ndarray.var, recorded: see numpy.ndarray.var."""
        return _methods["var"](self, *args, **kwargs)

    def cumsum(self, *args, **kwargs):
        """ndarray.cumsum, recorded: see numpy.ndarray.cumsum."""
        return _methods["cumsum"](self, *args, **kwargs)

    def cumprod(self, *args, **kwargs):
        """ndarray.cumprod, recorded: see numpy.ndarray.cumprod."""
        return _methods["cumprod"](self, *args, **kwargs)

    def dot(self, *args, **kwargs):
        """ndarray.dot, recorded: see numpy.ndarray.dot."""
        return _methods["dot"](self, *args, **kwargs)

    def transpose(self, *args, **kwargs):
        """ndarray.transpose, recorded: see numpy.ndarray.transpose."""
        return _methods["transpose"](self, *args, **kwargs)

    def swapaxes(self, *args, **kwargs):
        """ndarray.swapaxes, recorded: see numpy.ndarray.swapaxes."""
        return _methods["swapaxes"](self, *args, **kwargs)

    def squeeze(self, *args, **kwargs):
        """ndarray.squeeze, recorded: see numpy.ndarray.squeeze."""
        return _methods["squeeze"](self, *args, **kwargs)

    def clip(self, *args, **kwargs):
        """ndarray.clip, recorded: see numpy.ndarray.clip."""
        return _methods["clip"](self, *args, **kwargs)

    def round(self, *args, **kwargs):
        """ndarray.round, recorded: see numpy.ndarray.round."""
        return _methods["round"](self, *args, **kwargs)

    def conj(self, *args, **kwargs):
        """ndarray.conj, recorded: see numpy.ndarray.conj."""
        return _methods["conj"](self, *args, **kwargs)

    def conjugate(self, *args, **kwargs):
        """ndarray.conjugate, recorded: see numpy.ndarray.conjugate."""
        return _methods["conjugate"](self, *args, **kwargs)

    def all(self, *args, **kwargs):
        """ndarray.all, recorded: see numpy.ndarray.all."""
        return _methods["all"](self, *args, **kwargs)

    def any(self, *args, **kwargs):
        """ndarray.any, recorded: see numpy.ndarray.any."""
        return _methods["any"](self, *args, **kwargs)

    def argmax(self, *args, **kwargs):
        """ndarray.argmax, recorded: see numpy.ndarray.argmax."""
        return _methods["argmax"](self, *args, **kwargs)

    def argmin(self, *args, **kwargs):
        """ndarray.argmin, recorded: see numpy.ndarray.argmin."""
        return _methods["argmin"](self, *args, **kwargs)

    def argsort(self, *args, **kwargs):
        """ndarray.argsort, recorded: see numpy.ndarray.argsort."""
        return _methods["argsort"](self, *args, **kwargs)

    def diagonal(self, *args, **kwargs):
        """ndarray.diagonal, recorded: see numpy.ndarray.diagonal."""
        return _methods["diagonal"](self, *args, **kwargs)

    def trace(self, *args, **kwargs):
        """ndarray.trace, recorded: see numpy.ndarray.trace."""
        return _methods["trace"](self, *args, **kwargs)

    def repeat(self, *args, **kwargs):
        """ndarray.repeat, recorded: see numpy.ndarray.repeat."""
        return _methods["repeat"](self, *args, **kwargs)

    def item(self, *args, **kwargs):
        """ndarray.item, recorded: see numpy.ndarray.item."""
        if _n_active:
            _note_cut("via_numpy", "item()", self, None)
        return _methods["item"](self, *args, **kwargs)

    def tolist(self, *args, **kwargs):
        """ndarray.tolist, recorded: see numpy.ndarray.tolist."""
        if _n_active:
            _note_cut("via_numpy", "tolist()", self, None)
        return _methods["tolist"](self, *args, **kwargs)

    def copy(self, *args, **kwargs):
        """ndarray.copy, recorded: see numpy.ndarray.copy."""
        return _methods["copy"](self, *args, **kwargs)

    # ndarray's in-place methods: tensors are immutable (a Variable changes only through assign).
    def sort(self, *args, **kwargs):
        """Raises TypeError: ndarray.sort changes the array in place, and tensors are immutable."""
        raise TypeError(_immutable_error("sort", self))

    def fill(self, *args, **kwargs):
        """Raises TypeError: ndarray.fill changes the array in place, and tensors are immutable."""
        raise TypeError(_immutable_error("fill", self))

    def resize(self, *args, **kwargs):
        """Raises TypeError: ndarray.resize changes the array in place, and tensors are immutable."""
        raise TypeError(_immutable_error("resize", self))

    def partition(self, *args, **kwargs):
        """Raises TypeError: ndarray.partition changes the array in place, and tensors are immutable."""
        raise TypeError(_immutable_error("partition", self))

    def put(self, *args, **kwargs):
        """Raises TypeError: ndarray.put changes the array in place, and tensors are immutable."""
        raise TypeError(_immutable_error("put", self))



@cython.freelist(256)
@cython.no_gc      # holds only a numeric ndarray or NumPy scalar: cannot be in a cycle
cdef class Tensor(_Operand):
    """An immutable value on which tapegrad records operations.

    Wraps a read-only NumPy array (a NumPy scalar for 0-d tensors) and a
    unique integer id that tapes use to find it."""

    def __init__(self, value, dtype=None):
        self._value = _raw_from_python(value, None if dtype is None else _dtypes.numpy_dtype(dtype))
        self._id = _new_id()

    @property
    def id(self):
        """The tensor's unique integer id (how tapes find it)."""
        return self._id

    def ref(self):
        """A hashable `Reference` to this tensor, for dict keys and sets
        (tensors themselves are unhashable, as in TensorFlow)."""
        return Reference(self)

    def __repr__(self):
        return (f"<tapegrad.Tensor: shape={tuple(self._value.shape)}, dtype={_np_dtype(self._value).name}, "
                f"numpy={_format_value(self._value, True)}>")

    def __str__(self):
        return (f"tapegrad.Tensor({_format_value(self._value, False)}, shape={tuple(self._value.shape)}, "
                f"dtype={_np_dtype(self._value).name})")

    def __format__(self, format_spec):
        # TensorFlow formats the value: a 0-d tensor like its NumPy scalar (f"{loss:.3f}"),
        # others like the ndarray (so a non-empty spec raises NumPy's TypeError).  A Variable
        # keeps object.__format__, which refuses any spec, as TensorFlow's variables do.
        return format(self._value, format_spec)

    def __setitem__(self, key, value):
        raise TypeError("'tapegrad.Tensor' object does not support item assignment (tensors are immutable; "
                        "use a tapegrad.Variable or tapegrad.tensor_scatter_nd_update)")

    def __getitem__(self, key):
        return _hook_getitem(self, key)

    # TensorFlow's copies: a tensor is immutable, so copy.copy and copy.deepcopy return it;
    # pickling keeps the value and dtype, and the unpickled tensor is a new one (new id: a tape
    # watching the original does not see it).
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return (Tensor, (self._value,))


cdef object _equality(Op op, object a, object b, bint if_none):
    # TensorFlow: `t == None` is a Python bool, and tensors of incompatible
    # shapes compare unequal (a scalar False tensor) instead of raising.
    if b is None:
        return if_none
    if not isinstance(b, (_Operand, np.ndarray, np.generic, int, float, complex, list, tuple)):
        # A foreign object (pytest.approx, a unit, a sentinel) gets its own say: Python then
        # calls its reflected __eq__, or compares identities.
        return NotImplemented
    try:
        return _binary(op, a, b)
    except (ValueError, InvalidArgumentError):
        return _wrap(np.bool_(if_none))


class Reference:
    """A hashable handle on a Tensor or Variable (``x.ref()``)."""
    __slots__ = ("_obj",)

    def __init__(self, obj):
        self._obj = obj

    def deref(self):
        """The Tensor or Variable this reference wraps."""
        return self._obj

    def __hash__(self):
        return id(self._obj)

    def __eq__(self, other):
        return isinstance(other, Reference) and other._obj is self._obj

    def __repr__(self):
        return f"<Reference wrapping {self._obj!r}>"


# --------------------------------------------------------------------------
# Variable

cdef class _VarState:
    pass


# The name scope a new Variable's name is prefixed with ('' or 'outer/inner/'):
# a callable installed by tapegrad.module, which owns the (thread-local) scope stack.
cdef object _hook_name_scope = None
cdef object _hook_gradient_lost = None


def install_gradient_lost(hook):
    """Give the core the function it calls with a Tensor or Variable that an
    active recorder tracks when NumPy converts it to an ndarray implicitly
    (``__array__``): the derivative through that conversion is lost."""
    global _hook_gradient_lost
    _hook_gradient_lost = hook


cdef inline int64_t _tracked_id(object x):
    """The id a recorder knows x by (a Variable's is its state's), or -1."""
    if isinstance(x, Tensor):
        return (<Tensor>x)._id
    if isinstance(x, Variable):
        return (<Variable>x)._state.id
    return -1


cdef int _check_gradient_lost(object x) except -1:
    # Called only while some recorder is active (the caller tests _n_active).
    cdef int64_t tid
    cdef Recorder r
    if _hook_gradient_lost is None:
        return 0
    tid = _tracked_id(x)
    for r in _thread_stack():
        if r.tracks(tid):
            _hook_gradient_lost(x)
            return 0
    return 0


# ---- Where a tracked value leaves a tape (read by GradientTape.explain) ----------
# A tape sees only the ops it records.  explain() also wants to know where a value
# it tracks left it: stop_gradient, a non-differentiable op, an explicit conversion
# to NumPy or Python, an op run by a thread that has no tape.  Those paths (never a
# recorded op, and only while something records) call the hook inspect_tape installs,
# once per tape that tracks the value.
cdef object _hook_cut = None
# (recorder, thread ident) of every active recorder, in all threads: an op run by a
# thread without recorders looks here for the tapes of the others.
cdef list _entered = []


def install_cut_hook(hook):
    """Give the core ``hook(wengert_list, kind, detail, tracked_id, result)``,
    called when a value that tape tracks leaves it (see above)."""
    global _hook_cut
    _hook_cut = hook


cdef int _note_cut(str kind, object detail, object x, object result) except -1:
    # Called only while some recorder is active (the caller tests _n_active).
    cdef int64_t tid = _tracked_id(x)
    if _hook_cut is None or tid < 0:
        return 0
    for r in _thread_stack():
        if type(r) is WengertList and (<WengertList>r).tracks(tid):
            _hook_cut(r, kind, detail, tid, result)
    return 0


def note_cut(str kind, detail, x, result=None):
    """Tell the tapes that track x that x left them (kind: an explain() reason)."""
    if _n_active:
        _note_cut(kind, detail, x, result)


cdef int _note_unrecorded(Op op, PyObject **ins, Py_ssize_t n, object out) except -1:
    """An op that ran while something recorded and was not offered to the
    recorders: a non-differentiable op, or a result that carries no gradient
    (a cast to an integer)."""
    cdef Py_ssize_t i
    if _hook_cut is None:
        return 0
    if op.differentiable:
        first = (<Tensor>out)._value if op.n_out == 1 else (<Tensor>out[0])._value
        detail = f"{op.name} to {_np_dtype(first).name}"
    else:
        detail = op.name
    for i in range(n):
        _note_cut("non_differentiable", detail, <object>ins[i], out)
    return 0


cdef int _note_other_thread(Op op, PyObject **ins, Py_ssize_t n, object out) except -1:
    """An op run by a thread with no recorder while other threads record: tell
    each of their tapes that tracks an input (a tape records only its thread)."""
    cdef unsigned long me = PyThread_get_thread_ident()
    cdef Py_ssize_t i
    cdef int64_t tid
    if _hook_cut is None:
        return 0
    for r, owner in list(_entered):         # a copy: the hook runs Python code
        if owner == me or type(r) is not WengertList:
            continue
        for i in range(n):
            tid = _tracked_id(<object>ins[i])
            if tid >= 0 and (<WengertList>r).tracks(tid):
                _hook_cut(r, "other_thread", op.name, tid, out)
                break
    return 0


def install_name_scope(hook):
    """Give the core the function returning the current name-scope prefix."""
    global _hook_name_scope
    _hook_name_scope = hook


cdef inline Tensor _read(Variable v):
    """A read of a variable: a Tensor carrying the variable's id, so every read
    (before or after an assign) accumulates into the variable's gradient."""
    cdef _VarState s = v._state
    cdef Tensor t
    cdef Recorder r
    if _n_active:
        for r in _thread_stack():
            r.on_variable_read(v)
    t = s.read_tensor
    if t is None:
        t = Tensor.__new__(Tensor)
        t._value = s.value
        t._id = s.id
        s.read_tensor = t
    return t


cdef inline Variable _owner(Variable v):
    """The Variable the user created (assign returns other views of it)."""
    owner = v._state.owner_ref()
    return v if owner is None else <Variable>owner


def _variable_copy(value, name, trainable):
    """A new Variable (new id, own copy of `value`) with `name` as it is, outside any name
    scope: what ``copy.deepcopy`` and unpickling a Variable make."""
    cdef _VarState s = _VarState.__new__(_VarState)
    s.value = _own(np.array(value))
    s.id = _new_id()
    s.name = name
    s.trainable = trainable
    s.read_tensor = None
    cdef Variable v = Variable.__new__(Variable)
    v._state = s
    v._unread = False
    s.owner_ref = weakref.ref(v)
    return v


cdef class Variable(_Operand):
    """A mutable holder of a tensor value, watched automatically by tapes when
    read (if trainable).  ``assign`` replaces the value; it is not
    differentiable with respect to the assigned value, as in TensorFlow.

    Args:
        initial_value: a Tensor, NumPy value, Python number or nested list, or
            a callable of no arguments returning one.  Its dtype follows
            TensorFlow's rules (Python floats become float32).
        trainable: bool, default True.  Trainable variables are watched by a
            tape as soon as it reads them; others need ``tape.watch(v)``.
        name: str or None, default None (shown as ``'Variable:0'``).
        dtype: a dtype or None, default None: convert the initial value to it.

    Raises:
        ValueError: initial_value is None.

    Change the value with `assign`, `assign_add` and `assign_sub`: ``v += 1``
    raises RuntimeError, as in TensorFlow, because rebinding ``v`` to a new
    Tensor would silently cut it from every later gradient.
    """

    def __init__(self, initial_value=None, trainable=True, name=None, dtype=None):
        if initial_value is None:
            raise ValueError("The `initial_value` argument to `Variable` must be specified.")
        if callable(initial_value):
            initial_value = initial_value()
        cdef _VarState s = _VarState.__new__(_VarState)
        s.value = _raw_from_python(initial_value, None if dtype is None else _dtypes.numpy_dtype(dtype))
        if isinstance(initial_value, Variable):
            s.value = _own(np.array(s.value))
        s.id = _new_id()
        s.name = "Variable" if name is None else str(name)
        if _hook_name_scope is not None:
            s.name = _hook_name_scope() + s.name
        s.trainable = bool(trainable)
        s.read_tensor = None
        self._state = s
        self._unread = False
        s.owner_ref = weakref.ref(self)

    # TensorFlow's copies: copy.copy is the variable itself; copy.deepcopy (also of a tf.Module
    # holding it) and unpickling make an independent variable with the same value, name and
    # trainability, which a tape tells apart from the original.
    def __copy__(self):
        return _owner(self)

    def __deepcopy__(self, memo):
        cdef _VarState s = self._state
        return _variable_copy(s.value, s.name, s.trainable)

    def __reduce__(self):
        cdef _VarState s = self._state
        return (_variable_copy, (s.value, s.name, s.trainable))

    @staticmethod
    cdef Variable _unread_view(_VarState s):
        cdef Variable v = Variable.__new__(Variable)
        v._state = s
        v._unread = True
        return v

    # ---- reading
    def value(self):
        """The current value as a Tensor (a read: tapes that watch the
        variable differentiate through it)."""
        return _read(self)

    def read_value(self):
        """The current value as a new Tensor, through an identity op (TensorFlow's
        ``read_value``).  Gradients flow from it to the variable; later
        assignments do not change it.

        Returns:
            A Tensor with the variable's shape, dtype and current value.
        """
        return _unary(_op_identity, _read(self))

    @property
    def _value(self):
        return self._state.value

    @property
    def _id(self):
        return self._state.id

    @property
    def id(self):
        """The variable's unique integer id, shared by all its reads."""
        return self._state.id

    @property
    def name(self):
        """The name with TensorFlow's output suffix, e.g. ``'Variable:0'``."""
        return self._state.name + ":0"

    @property
    def trainable(self):
        """Whether tapes watch this variable automatically when they read it."""
        return self._state.trainable

    def ref(self):
        """A hashable `Reference` to this variable, for dict keys and sets."""
        return Reference(_owner(self))

    # ---- state changes
    def assign(self, value, use_locking=False, name=None, read_value=True):
        """Replace the variable's value in place: ``v.assign(v * 0.9)``.

        Not differentiable with respect to `value` (as in TensorFlow): a tape
        sees each read of the variable, with the value it had at that read.

        Args:
            value: a Tensor, Variable, NumPy value or Python number of the
                variable's shape, converted to its dtype.
            use_locking: accepted for TensorFlow compatibility; ignored.
            name: accepted for TensorFlow compatibility; ignored.
            read_value: bool, default True: return the updated variable;
                False returns None.

        Returns:
            The variable (shown as ``'UnreadVariable'``, as in TensorFlow), or
            None when read_value is False.

        Raises:
            ValueError: the shape differs from the variable's, or a Tensor's
                dtype differs from the variable's.
            TypeError: a Python value cannot be represented in the dtype
                (a fraction for an integer variable).
        """
        self._state_set(_assign_value(self._state, value, "assign"))
        return Variable._unread_view(self._state) if read_value else None

    def assign_add(self, delta, use_locking=False, name=None, read_value=True):
        """Add `delta` to the variable in place: ``v.assign_add(1.0)``, the
        TensorFlow spelling of ``v += 1.0``.

        Args:
            delta: a Tensor, Variable, NumPy value or Python number of the
                variable's shape, converted to its dtype.
            use_locking, name: accepted for TensorFlow compatibility; ignored.
            read_value: bool, default True: return the updated variable;
                False returns None.

        Returns:
            The variable, or None when read_value is False.

        Raises:
            ValueError: the shape or a Tensor's dtype differs from the variable's.
            TypeError: a Python value cannot be represented in the dtype.
        """
        cdef _VarState s = self._state
        d = _assign_value(s, delta, "assign_add")
        self._state_set(_own(np.add(s.value, d)))
        return Variable._unread_view(s) if read_value else None

    def assign_sub(self, delta, use_locking=False, name=None, read_value=True):
        """Subtract `delta` from the variable in place: ``w.assign_sub(lr * g)``,
        the TensorFlow spelling of ``w -= lr * g``.

        Args:
            delta: a Tensor, Variable, NumPy value or Python number of the
                variable's shape, converted to its dtype.
            use_locking, name: accepted for TensorFlow compatibility; ignored.
            read_value: bool, default True: return the updated variable;
                False returns None.

        Returns:
            The variable, or None when read_value is False.

        Raises:
            ValueError: the shape or a Tensor's dtype differs from the variable's.
            TypeError: a Python value cannot be represented in the dtype.
        """
        cdef _VarState s = self._state
        d = _assign_value(s, delta, "assign_sub")
        self._state_set(_own(np.subtract(s.value, d)))
        return Variable._unread_view(s) if read_value else None

    def _state_set(self, raw):
        self._state.value = raw
        self._state.read_tensor = None

    # ---- sparse updates: rows listed by an IndexedSlices (its .indices, .values)
    def scatter_add(self, sparse_delta, use_locking=False, name=None):
        """Add ``sparse_delta.values`` to the rows ``sparse_delta.indices``
        (a row listed twice gets both); not differentiable, as every assign."""
        return _scatter(self, sparse_delta, 0, "scatter_add")

    def scatter_sub(self, sparse_delta, use_locking=False, name=None):
        """Subtract ``sparse_delta.values`` from the rows ``sparse_delta.indices``."""
        return _scatter(self, sparse_delta, 1, "scatter_sub")

    def scatter_update(self, sparse_delta, use_locking=False, name=None):
        """Replace the rows ``sparse_delta.indices`` by ``sparse_delta.values``."""
        return _scatter(self, sparse_delta, 2, "scatter_update")

    def __setitem__(self, key, value):
        raise TypeError("'tapegrad.Variable' object does not support item assignment; "
                        "use variable[key].assign(value)")

    # ---- in-place operators: TensorFlow 2.21's ResourceVariable refuses exactly
    # these five (+=, -=, *=, /=, **=) with a RuntimeError.  Without them Python
    # would rebind the name to a new Tensor, and every later gradient with
    # respect to it would silently be None.  The other in-place operators
    # (//=, %=, @=, &=, |=, ^=) rebind to a Tensor, as they do in TensorFlow.
    def __iadd__(self, other):
        raise RuntimeError(_inplace_error("variable += value", "variable.assign_add(value)", "variable + value"))

    def __isub__(self, other):
        raise RuntimeError(_inplace_error("variable -= value", "variable.assign_sub(value)", "variable - value"))

    def __imul__(self, other):
        raise RuntimeError(_inplace_error("var *= value", "var.assign(var * value)", "var * value"))

    def __itruediv__(self, other):
        raise RuntimeError(_inplace_error("var /= value", "var.assign(var / value)", "var / value"))

    def __ipow__(self, other):
        raise RuntimeError(_inplace_error("var **= value", "var.assign(var ** value)", "var ** value"))

    def __getitem__(self, key):
        return _hook_variable_slice(self, key)

    def __repr__(self):
        s = self._state
        name = "UnreadVariable" if self._unread else s.name + ":0"
        return (f"<tapegrad.Variable '{name}' shape={tuple(s.value.shape)} dtype={_np_dtype(s.value).name}, "
                f"numpy={_format_value(s.value, True)}>")

    def __str__(self):
        return self.__repr__()


cdef str _inplace_error(str statement, str fix, str expression):
    # The first sentence is TensorFlow's, verbatim, so code matching on it works.
    return (f"`{statement}` with `tf.Variable`s is not supported. To change the variable in place use "
            f"`{fix}`; for a new Tensor write `out = {expression}`. (Rebinding the name to a Tensor would "
            f"leave the Variable behind: tapes would no longer watch it and its gradients would be None.)")


cdef object _scatter(Variable var, object sparse_delta, int how, str method):
    """Row updates of a variable, costing the rows, not the table: done in the
    variable's own array when nothing else can see it (_exclusive_value)."""
    cdef _VarState s = var._state
    try:
        idx_obj, val_obj = sparse_delta.indices, sparse_delta.values
    except AttributeError:
        raise TypeError(f"{method}: sparse_delta must be an IndexedSlices, got {type(sparse_delta).__name__}") \
            from None
    cur = s.value
    if not isinstance(cur, ndarray):
        raise ValueError(f"{method}: a scalar variable has no rows to update")
    dt = _np_dtype(cur)
    idx = np.asarray(_raw_of(idx_obj) if isinstance(idx_obj, (Tensor, Variable)) else idx_obj)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{method}: indices must be integers, got dtype {idx.dtype}")
    if isinstance(val_obj, (Tensor, Variable)):
        vals = _raw_of(val_obj)
        if not _same_dtype(_np_dtype(vals), dt):
            raise ValueError(f"Tensor conversion requested dtype {dt.name} for Tensor with dtype "
                             f"{_np_dtype(vals).name}: {val_obj!r}")
    else:
        vals = _raw_from_python(val_obj, dt)
    vals = np.asarray(vals)
    want = idx.shape + cur.shape[1:]
    if vals.shape != want:
        raise InvalidArgumentError(f"{method}: updates of shape {list(vals.shape)} do not fit indices of shape "
                                   f"{list(idx.shape)} into a variable of shape {list(cur.shape)} (expected "
                                   f"{list(want)})")
    flat = idx.reshape(-1)
    n = cur.shape[0]
    if flat.size and (flat.min() < 0 or flat.max() >= n):
        j = int(np.argmax((flat < 0) | (flat >= n)))
        raise InvalidArgumentError(f"{method}: indices[{j}] = {int(flat[j])} is not in [0, {n})")
    rows = vals.reshape((flat.size,) + cur.shape[1:])
    del cur
    arr = _exclusive_value(s)
    if how == 2:
        arr[flat] = rows
    else:
        add_rows(arr, flat, rows, how == 1)
    cnp.PyArray_CLEARFLAGS(<cnp.ndarray>arr, cnp.NPY_ARRAY_WRITEABLE)
    s.value = arr
    s.read_tensor = None
    return Variable._unread_view(s)


def add_rows(out, ids, rows, bint subtract=False):
    """out[ids[k]] += rows[k] (or -=) for every k, in k's order, repeated ids
    included: what np.add.at does, bit for bit, but as a few vectorised
    passes (one per repetition of the most repeated id) instead of
    np.add.at's per-row loop, ~10x faster for a batch of embedding rows."""
    ids = np.asarray(ids).reshape(-1)
    if ids.size == 0:
        return out
    order = np.argsort(ids, kind="stable")
    ranked = ids[order]
    starts = np.empty(ids.size, dtype=bool)
    starts[0] = True
    np.not_equal(ranked[1:], ranked[:-1], out=starts[1:])
    position = np.arange(ids.size)
    # occurrence number of each id (0 for its first use, 1 for the second, ...), in ids' order
    occurrence = np.empty(ids.size, dtype=np.intp)
    occurrence[order] = position - np.maximum.accumulate(np.where(starts, position, 0))
    ufunc = np.subtract if subtract else np.add
    top = int(occurrence.max())
    if top == 0:
        out[ids] = ufunc(out[ids], rows)
        return out
    for k in range(top + 1):
        sel = occurrence == k
        pick = ids[sel]
        out[pick] = ufunc(out[pick], rows[sel])     # the ids of one pass are distinct: no lost update
    return out


cdef object _exclusive_value(_VarState s):
    """The variable's array, made writable, if no one else can see it: no
    Tensor read of it is alive elsewhere, no array views it, and its memory
    is its own (or a plain buffer only it views).  Otherwise a private copy,
    which the caller installs: TensorFlow's copy-on-write of a variable's
    buffer, so earlier reads keep their values."""
    cdef cnp.ndarray cur = <cnp.ndarray>s.value
    cdef Py_ssize_t expected = 2                     # s.value and `cur`
    cdef object rt = s.read_tensor
    if rt is not None:
        if Py_REFCNT(rt) > 2:                        # s.read_tensor and `rt`: held by someone else
            return _aligned_copy(cur, _np_dtype(cur))
        if (<Tensor>rt)._value is cur:
            expected += 1
    rt = None
    if Py_REFCNT(cur) > expected or not cnp.PyArray_IS_C_CONTIGUOUS(cur):
        return _aligned_copy(cur, _np_dtype(cur))
    cdef PyObject *bp = <PyObject *>cnp.PyArray_BASE(cur)
    cdef object base
    if bp != NULL:
        base = <object>bp
        # (_aligned_copy's arrays view a private uint8 buffer: safe to write when nothing else views it)
        if (type(base) is not ndarray or Py_REFCNT(base) > 2 or cnp.PyArray_BASE(<cnp.ndarray>base) != NULL
                or not cnp.PyArray_CHKFLAGS(<cnp.ndarray>base, cnp.NPY_ARRAY_OWNDATA)):
            return _aligned_copy(cur, _np_dtype(cur))
    cnp.PyArray_ENABLEFLAGS(cur, cnp.NPY_ARRAY_WRITEABLE)
    return cur


cdef dict _KERNEL_NAMES = {"assign_add": "AssignAddVariableOp", "assign_sub": "AssignSubVariableOp"}


cdef object _assign_value(_VarState s, object value, str method):
    """The raw value that `value` becomes in variable s, with TensorFlow's checks."""
    cur = s.value
    dt = _np_dtype(cur)
    if isinstance(value, (Tensor, Variable)):
        raw = (<Tensor>value)._value if isinstance(value, Tensor) else (<Variable>value)._state.value
        if not _same_dtype(_np_dtype(raw), dt):
            raise ValueError(f"Tensor conversion requested dtype {dt.name} for Tensor with dtype "
                             f"{_np_dtype(raw).name}: {value!r}")
    else:
        raw = _raw_from_python(value, dt)
    if tuple(np.shape(raw)) != tuple(cur.shape) and method != "assign":
        # assign_add/assign_sub have no Python-level check in TensorFlow: its kernel raises.
        raise InvalidArgumentError(f"Cannot update variable with shape {list(cur.shape)} using a Tensor with shape "
                                   f"{list(np.shape(raw))}, shapes must be equal. [Op:{_KERNEL_NAMES[method]}]")
    if tuple(np.shape(raw)) != tuple(cur.shape):
        # TensorFlow's text, verbatim (including its missing space after "mismatch.").
        raise ValueError(f"Cannot assign value to variable ' {s.name}:0': Shape mismatch.The variable shape "
                         f"{tuple(cur.shape)}, and the assigned value shape {tuple(np.shape(raw))} are incompatible.")
    if isinstance(raw, ndarray):
        raw = _own(np.array(raw))
    return raw


# --------------------------------------------------------------------------
# Ops

cdef object _NO_ARG = object()


cdef class Op:
    """One differentiable (or explicitly non-differentiable) operation.

    forward: a function of raw NumPy values (and params for GENERAL ops).
    vjps:    one rule per input, ``rule(g, ans, *inputs[, *params]) -> gradient``
             or None where the input is not differentiable; a rule may return
             None for "no gradient".  Unsaved arguments arrive as None.
             Variadic ops have one rule ``rule(g, ans, i, inputs, *params)``.
    jvps:    forward-mode rules, same layout (``jvp_i(t_i, ans, *inputs, *params)``).
    save:    SAVE_INPUTS / SAVE_ANS bits: what the rules read.
    joint:   one rule for all inputs at once (custom gradients): vjps is
             ``(rule,)``, ``rule(g, ans, needs, inputs, *params)`` returning one
             gradient per input (`needs[i]`: input i wants one); jvps is
             ``(rule,)``, ``rule(tangents, ans, inputs, *params)`` returning
             the output tangent (a tuple for several outputs).  Any number of inputs.

    The layout above becomes one calling convention (`calling`) here, once;
    engines and tests call rules only through `vjp` / `jvp` (the core's
    _vjp_of / _jvp_of), never by unpacking the layout themselves.
    """

    def __init__(self, name, forward, vjps=None, *, kind=GENERAL, save=0, jvps=None, n_out=1,
                 differentiable=True, variadic=False, scalar=None, batching=True, joint=False, reads=None,
                 linear=False, cvjps=None, cjvps=None, factors=None, diag_vjps=None, scalar_vjp=None,
                 vjp_forms=None):
        self.name = name
        # cvjps / cjvps: the rules for complex values, where they differ from
        # the real ones (a holomorphic op's VJP conjugates what it reads; see
        # docs/complex.md).  _vjp_of / _jvp_of pick them when the cotangent /
        # tangent is complex, so real values never pay for a conjugation.
        self.cvjps = None if cvjps is None else tuple(cvjps)
        self.cjvps = None if cjvps is None else tuple(cjvps)
        self.joint = joint
        # linear: the op is linear in its one input, so its JVP is its own
        # forward applied to the tangent (_jvp_of does that; no rule is written).
        self.linear = linear
        if linear:
            if jvps is not None or vjps is None or len(vjps) != 1 or kind != GENERAL or variadic or joint:
                raise ValueError(f"op {name!r}: a linear op has one input and no hand-written JVP")
            jvps = (self._linear_jvp,)
        variadic = variadic or joint
        # jvps: one forward-mode rule per input, ``jvp_i(t_i, ans, *inputs[, *params])``
        # -> the output tangent contributed by input i's tangent t_i (None: none).
        self.jvps = tuple(jvps) if jvps is not None else ()
        # batching: every VJP rule accepts a cotangent with extra leading axes
        # (so a Jacobian is one batched sweep); False forces per-row sweeps.
        self.batching = batching
        # scalar: the same function on Python floats (math.sin for np.sin), used
        # for float64 scalars, where a ufunc call costs ~10x the arithmetic.
        self.scalar = scalar
        self.forward = forward
        self.vjps = tuple(vjps) if vjps is not None else ()
        self.save = save
        self.kind = kind
        # variadic ops (concat, stack, add_n) take any number of tensors and
        # have one rule, called as rule(g, ans, i, inputs, *params).
        self.n_in = -1 if variadic else {UNARY: 1, BINARY: 2}.get(kind, len(self.vjps))
        self.n_out = n_out
        if joint:
            self.calling = CALL_JOINT
        elif variadic:
            self.calling = CALL_VARIADIC
        else:
            self.calling = {UNARY: CALL_UNARY, BINARY: CALL_BINARY}.get(kind, CALL_POSITIONAL)
        self.differentiable = differentiable and bool(self.vjps)
        if self.differentiable and not variadic and len(self.vjps) != self.n_in:
            raise ValueError(f"op {name!r}: {len(self.vjps)} VJP rules for {self.n_in} inputs")
        self._nones = (None,) * max(self.n_in, 0)
        # reads: per input, a bitmask of the inputs its VJP rule reads (bit i =
        # input i); None: every rule may read every input.
        self.reads = None if reads is None else tuple(int(r) for r in reads)
        if self.reads is not None and len(self.reads) != len(self.vjps):
            raise ValueError(f"op {name!r}: {len(self.reads)} read masks for {len(self.vjps)} rules")
        # The same masks as C bits, for recording (ops of up to 8 inputs).
        self._n_read_bits = 0
        if self.reads is not None and len(self.reads) <= 8:
            for i in range(len(self.reads)):
                if not 0 <= self.reads[i] < (1 << len(self.reads)):
                    raise ValueError(f"op {name!r}: read mask {self.reads[i]} names inputs it does not have")
                self._read_bits[i] = self.reads[i]
            self._n_read_bits = len(self.reads)
        # factors (UNARY and BINARY ops): per input, ``factor(ans, *inputs)``, the
        # local derivative f such that the VJP rule is exactly ``g * f`` (the
        # rule's own expression for f, so the bits agree).  The sweep uses it
        # for cotangents with known structure: a broadcast 1 (reduce_sum's
        # gradient) gives f itself, a diagonal batch of cotangents (a
        # Jacobian's identity seed) stays diagonal (d * f).
        # A factor that does not depend on the values (add's 1.0, subtract's -1.0) is
        # declared as that float: the sweep reads it instead of calling a function.
        self.factors = None if factors is None else tuple(factors)
        if self.factors is not None and (kind not in (UNARY, BINARY) or len(self.factors) != len(self.vjps)):
            raise ValueError(f"op {name!r}: factors are for unary and binary ops, one per input")
        if self.factors is not None and not all(f is None or type(f) is float or callable(f) for f in self.factors):
            raise ValueError(f"op {name!r}: a factor is a function, a float or None")
        self._constant_factors = self.factors is not None and all(type(f) is float for f in self.factors)
        # diag_vjps: per input, ``rule(d, ans, *inputs, *params)`` for a
        # diagonal batch of cotangents (row b of the batch is d[b] times the
        # b-th unit tensor of the output; d has the output's shape).  Returns
        # (True, d_in): a diagonal batch again, for the input; (False, dense):
        # the batched gradient the general rule would give; or None: use the
        # general rule on the dense batch.  Results must match the general
        # rule's bit for bit (up to the sign of zeros).
        self.diag_vjps = None if diag_vjps is None else tuple(diag_vjps)
        if self.diag_vjps is not None and len(self.diag_vjps) != len(self.vjps):
            raise ValueError(f"op {name!r}: {len(self.diag_vjps)} diagonal rules for {len(self.vjps)} inputs")
        # scalar_vjp (binary ops): a shorthand for the two commonest forms
        # (vjp_forms, below): "pass", every rule returns g itself (add);
        # "scale", input i's rule is g * (the other input) (multiply).
        if scalar_vjp is None:
            self.scalar_vjp = 0
        elif kind != BINARY or scalar_vjp not in ("pass", "scale"):
            raise ValueError(f"op {name!r}: scalar_vjp is 'pass' or 'scale', for binary ops")
        else:
            self.scalar_vjp = _SCALAR_VJP_PASS if scalar_vjp == "pass" else _SCALAR_VJP_SCALE
            if vjp_forms is None:        # the same rules, as forms (below)
                vjp_forms = (("g", "g") if scalar_vjp == "pass" else
                             ((np.multiply, "g", "y"), (np.multiply, "g", "x")))
        # vjp_forms (unary and binary ops): per input, the VJP rule once more
        # as a form the core runs without a Python frame on raw values: a
        # nested tuple (ufunc, arg[, arg]) whose leaves are "g", "ans", "x",
        # "y" or a number, e.g. (np.multiply, "g", (np.cos, "x")) for
        # ``g * np.cos(x)``.  It must be the rule's own expression, operation
        # for operation: the core calls the same ufuncs in the same order (and
        # on float64 scalars NumPy's own loops), so the bits agree; see
        # _form_value and _scalar_forms.  None where a rule has no form.
        self.vjp_forms = None
        self._forms[0].len = 0
        self._forms[1].len = 0
        if vjp_forms is not None:
            _compile_forms(self, tuple(vjp_forms))

    def __call__(self, x, y=_NO_ARG, name=None):
        if self.kind == _UNARY:
            if y is not _NO_ARG:
                raise TypeError(f"{self.name}() takes 1 tensor argument (2 given)")
            return _unary(self, x)
        if y is _NO_ARG:
            raise TypeError(f"{self.name}() takes 2 tensor arguments (1 given)")
        if self.kind == _BINARY:
            return _binary(self, x, y)
        return apply(self, (x, y))

    def vjp(self, Py_ssize_t i, g, ans, tuple inputs, params=None, Py_ssize_t batch_ndim=0):
        """Input i's gradient from this op's rule, called exactly as the
        reverse sweep calls it (inputs and ans the op does not save should be
        None; params: the op's static params, or for a BINARY op the input
        shapes to un-broadcast to; batch_ndim: leading batch axes of g)."""
        self._check_rule_call(i, inputs, params)
        if self.calling == _CALL_JOINT:
            needs = tuple([j == i for j in range(len(inputs))])
            return self.vjps[0](g, ans, needs, inputs, *(params or ()))[i]
        return _vjp_of(self, i, g, ans, inputs, params, batch_ndim)

    def jvp(self, Py_ssize_t i, t, ans, tuple inputs, params=None):
        """The output tangent contributed by input i's tangent t, called
        exactly as forward mode calls it (None: none)."""
        self._check_rule_call(i, inputs, params)
        if self.calling == _CALL_JOINT:
            tans = tuple([t if j == i else None for j in range(len(inputs))])
            return self.jvps[0](tans, ans, inputs, *(params or ()))
        return _jvp_of(self, i, t, ans, inputs, params)

    def __get__(self, instance, owner):
        # An op stored on a class stays the op (like a builtin function: not
        # bound to the instance).  Being a non-data descriptor also makes
        # inspect.isroutine() true, so help(tg.sin) and API references show
        # the op as a function with its signature and docstring (set by the
        # op library in the instance __dict__), not the Op class.
        return self

    cdef int _check_rule_call(self, Py_ssize_t i, tuple inputs, object params) except -1:
        # The engines call _vjp_of/_jvp_of with layouts they built; from Python
        # the layout is checked first (the core indexes tuples unchecked).
        cdef Py_ssize_t n = len(inputs)
        if self.n_in >= 0 and n != self.n_in:
            raise ValueError(f"op {self.name!r} takes {self.n_in} inputs, got {n}")
        if not 0 <= i < n:
            raise IndexError(f"op {self.name!r}: input index {i} is out of range for {n} inputs")
        if not (self.calling == _CALL_VARIADIC or self.calling == _CALL_JOINT) and i >= len(self.vjps):
            raise IndexError(f"op {self.name!r} has no rule for input {i}")
        if self.calling == _CALL_BINARY and params is not None and (type(params) is not tuple or len(params) != 2):
            raise ValueError(f"op {self.name!r}: params of a broadcasting op are the two input shapes (or None)")
        if params is not None and type(params) is not tuple:
            raise TypeError(f"op {self.name!r}: params must be a tuple, got {type(params).__name__}")
        return 0

    def _linear_jvp(self, t, ans, x, *params):
        """A linear op's JVP rule, for callers that read op.jvps (the engines
        take the same path inside _jvp_of)."""
        return _jvp_of(self, 0, t, ans, (x,), params or None)

    def __repr__(self):
        return f"<tapegrad op {self.name}>"


cdef inline object _vjp_of(Op op, Py_ssize_t i, object g, object ans, tuple ins, object params,
                           Py_ssize_t batch_ndim):
    """The one call of a VJP rule (every calling but CALL_JOINT)."""
    cdef int calling = op.calling
    cdef object rule = op.vjps[0] if calling == _CALL_VARIADIC else op.vjps[i]
    cdef object gi, shape
    if rule is None:
        return None
    if op.cvjps is not None and _complex_value(g):
        rule = op.cvjps[0] if calling == _CALL_VARIADIC else op.cvjps[i]
    elif op is _op_matmul and _structured and type(g) is ndarray and _pair(params) and ins is not None and len(ins) == 2:
        gi = _matmul_raw_vjp(i, <cnp.ndarray>g, ins, <tuple>params)
        if gi is not None:
            return gi
    if calling == _CALL_UNARY:
        return rule(g, ans, ins[0])
    if calling == _CALL_BINARY:
        gi = rule(g, ans, ins[0], ins[1])
        if gi is not None and params is not None:
            return _sum_to_input(gi, <tuple>params, i, batch_ndim)
        return gi
    if calling == _CALL_VARIADIC:
        return rule(g, ans, i, ins, *(params or ()))
    if params is None:
        return rule(g, ans, *ins)
    return rule(g, ans, *ins, *params)


cdef inline object _sum_to_input(object gi, tuple params, Py_ssize_t i, Py_ssize_t batch_ndim):
    """A broadcasting op's gradient for input i summed back to its shape
    (params: the input shapes, None where no broadcast happened)."""
    cdef object shape = params[i]
    if shape is None:
        return gi
    # Batched cotangents keep their leading axes (a gradient that does not
    # depend on the cotangent has none).
    if batch_ndim and _ndim(gi) > len(<tuple>shape):
        return sum_to_shape(gi, shape, batch_ndim)
    return sum_to_shape(gi, shape, 0)


cdef inline object _jvp_of(Op op, Py_ssize_t i, object t, object ans, tuple ins, object params):
    """The one call of a JVP rule (every calling but CALL_JOINT)."""
    cdef int calling = op.calling
    if op.linear:                      # the forward applied to the tangent, recorded in tensor mode
        if isinstance(t, Tensor):
            return apply(op, (t,), params)
        if params is None:
            return op.forward(t)
        if op is _op_reduce_sum and _reduce_sum_params(params):
            return _add_reduce(t, (<tuple>params)[0], None, None, (<tuple>params)[1])
        return op.forward(t, *params)
    cdef object rule = op.jvps[0] if calling == _CALL_VARIADIC else op.jvps[i]
    if rule is None:
        return None
    if op is _op_matvec and _matvec_params(params) and type(t) is ndarray and type(ins[1 - i]) is ndarray:
        # the rules' own product on raw values (a's tangent times b, a times b's tangent)
        return _matvec_raw(t, ins[1], (<tuple>params)[0]) if i == 0 else _matvec_raw(ins[0], t, (<tuple>params)[0])
    if op.cjvps is not None and _complex_value(t):
        rule = op.cjvps[0] if calling == _CALL_VARIADIC else op.cjvps[i]
    if calling == _CALL_UNARY:
        return rule(t, ans, ins[0])
    if calling == _CALL_BINARY:
        return rule(t, ans, ins[0], ins[1])
    if calling == _CALL_VARIADIC:
        return rule(t, ans, i, ins, *(params or ()))
    if params is None:
        return rule(t, ans, *ins)
    return rule(t, ans, *ins, *params)


cpdef object sum_to_shape(object g, object shape, Py_ssize_t batch_ndim=0):
    """Sum a broadcast gradient back to `shape`, keeping `batch_ndim` leading
    (batch) axes of g.  The engine's one un-broadcasting step; written with
    NumPy calls so it also runs (recorded) on Tensors."""
    if type(shape) is not tuple:
        shape = tuple(shape)
    cdef tuple gshape = _shape_tuple(g)
    cdef tuple target = gshape[:batch_ndim] + shape
    cdef Py_ssize_t lead = len(gshape) - len(target), k
    if batch_ndim < 0 or lead < 0:
        raise ValueError(f"cannot sum a gradient of shape {gshape} to shape {shape} "
                         f"with {batch_ndim} leading batch axes")
    if lead == 0 and gshape == target:
        return g
    axes = tuple(range(batch_ndim, batch_ndim + lead)) + tuple([
        batch_ndim + lead + k for k in range(len(shape))
        if shape[k] == 1 and gshape[batch_ndim + lead + k] != 1])
    if type(g) is ndarray:
        # Raw arrays (first-order sweeps): the ufunc's own reduce skips NumPy's
        # function-dispatch layer and ndarray.sum's Python wrapper (what both
        # call in the end), a measurable cost per bias add in an MLP.
        if not axes:
            return g.reshape(target)
        g = _add_reduce(g, axes)
        # (a bias's gradient already has its shape: no reshape, no second view)
        return g if type(g) is ndarray and _dims_equal(<cnp.ndarray>g, target) else g.reshape(target)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    if _shape_tuple(g) != target:
        g = np.reshape(g, target)
    return g


cdef inline bint _dims_equal(cnp.ndarray a, tuple shape):
    """a.shape == shape, read from a's dimensions (shape: a tuple of ints)."""
    cdef Py_ssize_t k, nd = cnp.PyArray_NDIM(a)
    if nd != len(shape):
        return False
    for k in range(nd):
        if cnp.PyArray_DIMS(a)[k] != <cnp.npy_intp>shape[k]:
            return False
    return True


cdef inline tuple _shape_tuple(object x):
    if isinstance(x, Tensor):
        x = (<Tensor>x)._value
    try:
        return x.shape                 # ndarrays and NumPy scalars
    except AttributeError:
        return np.shape(x)             # Python numbers and lists


cdef inline int _record_all(Op op, tuple inputs, object out, object params) except -1:
    return _record_args(op, PySequence_Fast_ITEMS(inputs), len(inputs), out, params)


cdef inline int _record_args(Op op, PyObject **ins, Py_ssize_t n, object out, object params) except -1:
    """Offer an op to every recorder on this thread's stack; its inputs are
    the n references at `ins` (kept alive by the caller).  Tapes take them as
    they are; other recorders get a tuple, made once (_record_all_args).
    The common case, one tape, is inline: a tape's _record runs no Python
    code, so the borrowed stack and tape stay alive through it."""
    cdef PyObject *stack = tg_thread_stack
    cdef PyObject *r
    if stack != NULL and PyList_GET_SIZE(stack) == 1:
        r = PyList_GET_ITEM(stack, 0)
        if type(<object>r) is WengertList:
            return (<WengertList>r)._record(op, ins, n, out, params)
    return _record_all_args(op, ins, n, out, params)


cdef int _record_all_args(Op op, PyObject **ins, Py_ssize_t n, object out, object params) except -1:
    """_record_args for any stack of recorders (or none)."""
    cdef list stack = _thread_stack()       # held: a recorder may swap the thread's stack
    cdef Py_ssize_t j, i
    cdef object r
    cdef tuple inputs = None
    for j in range(len(stack)):
        if j >= len(stack):                 # (a recorder may have shortened it)
            break
        r = stack[j]
        if type(r) is WengertList:
            (<WengertList>r)._record(op, ins, n, out, params)
        else:
            if inputs is None:
                inputs = PyTuple_New(n)
                for i in range(n):
                    x = <object>ins[i]
                    Py_INCREF(x)
                    PyTuple_SET_ITEM(inputs, i, x)
            (<Recorder>r).record(op, inputs, out, params)
    if len(stack) == 0:                     # other threads record, this one does not
        _note_other_thread(op, ins, n, out)
    return 0


cdef inline bint _is_tensor(object x) noexcept:
    """isinstance(x, Tensor), without walking the type's bases for the
    commonest others (a Python float constant, raw values).  Raises nothing
    (a type check), so callers check no error; no reference to the type."""
    if type(x) is Tensor:
        return True
    if type(x) is float or type(x) is float64 or type(x) is ndarray:
        return False
    return isinstance(x, Tensor)


cdef object _unary(Op op, object x):
    cdef Tensor tx = _as_tensor(x)
    cdef object v = tx._value, r
    cdef double d
    if op.scalar is not None and type(v) is float64:
        try:
            d = op.scalar(v)
            r = tg_float64(d)
        except (ValueError, OverflowError):       # domain edge: let NumPy give nan/inf
            r = _own(op.forward(v))
    else:
        if op.forward_factor is not None and _n_active and _pairs_forward(tx):
            r = _unary_paired(op, tx)
            if r is not None:
                return r
        r = _small_call(op.forward, <PyObject *>v, NULL)
        r = _own(op.forward(v) if r is None else r)
    if _differentiable_value(r) and not _differentiable_value(v):
        # NumPy promoted an integer/bool input to float: sin, exp, log, ... are
        # float-only in TensorFlow, which has no kernel for them on integers.
        raise InvalidArgumentError(f"{op.name} is only defined for floating-point and complex tensors, got "
                            f"{_np_dtype(v).name}; cast first: tapegrad.cast(x, tapegrad.float32) [Op:{op.name}]")
    cdef Tensor out = _wrap(r)
    cdef PyObject *ins[1]
    if _n_active and op.differentiable and _differentiable_value(r):      # (r: out's value)
        ins[0] = <PyObject *>tx
        _record_args(op, ins, 1, out, None)
    elif _n_active:
        ins[0] = <PyObject *>tx
        _note_unrecorded(op, ins, 1, out)
    return out


# ---- a forward that gives its factor too (sin's cos(x); issue 15, W5) -------
# A unary op may declare `forward_factor(x) -> (ans, factor)` (or None: use the
# forward), the factor having the bits of the op's own `factor` (sin: one pass
# of glibc's sincos, checked against NumPy at first use by ops/math_ops.py).
# The core asks for it only where a first-order sweep will use the factor: x
# is a float64 array of 1 MB or more, and the one recorder on this thread is a
# tape that tracks x (a tape under another recorder sweeps in tensor mode,
# where the rule's own ops must be recorded).  The factor is kept in the
# node's params entry (a unary op has no params otherwise) as a _SavedFactor,
# released with the node's saved values.  The raw sweep multiplies by it: in
# place into a large cotangent it owns (_owned_factor_rule, instead of the
# factor block by block), else through _kept_factor_rule (called by
# _run_rules, which takes it out of the params before anything else reads
# them).  Every other path (tensor mode, a Jacobian's diagonal, batched
# sweeps) drops it and runs the rule, which computes the same bits.

@cython.final
cdef class _SavedFactor:
    """A unary op's factor computed with its forward (a read-only array)."""
    cdef readonly object value

    def __cinit__(self, value):
        self.value = value


cdef bint _pairs_forward(Tensor tx):
    """Whether _unary asks the op for its forward and factor together (the
    size first: most arrays are small)."""
    cdef object v = tx._value
    if type(v) is not ndarray or not _nbytes_at_least(<cnp.ndarray>v, 4 * _FACTOR_BLOCK_BYTES):
        return False
    cdef PyObject *stack = tg_thread_stack
    if (not _structured or cnp.PyArray_TYPE(<cnp.ndarray>v) != cnp.NPY_DOUBLE
            or stack == NULL or PyList_GET_SIZE(stack) != 1):
        return False
    cdef PyObject *r = PyList_GET_ITEM(stack, 0)
    return type(<object>r) is WengertList and _would_record(<object>r, tx._id)


cdef object _unary_paired(Op op, Tensor tx):
    """_unary's result and recording with the op's forward_factor (the
    caller checked _pairs_forward: one tape records, and tracks tx, whose
    float64 value gives a float64 output), or None where the op declines."""
    cdef object pair = op.forward_factor(tx._value)
    if pair is None:
        return None
    cdef Tensor out = _wrap(_own(pair[0]))
    cdef PyObject *ins[1]
    ins[0] = <PyObject *>tx
    _record_args(op, ins, 1, out, _SavedFactor(_own(pair[1])))
    return out


cdef inline object _node_factor(WengertList w, Py_ssize_t k):
    """Node k's factor kept from its forward (_SavedFactor), or None."""
    cdef object p = _node_params(w, k)
    return (<_SavedFactor>p).value if type(p) is _SavedFactor else None


cdef bint _kept_factor_rule(WengertList w, Op op, Py_ssize_t k, object g, object f, PyObject **grads,
                            char *reach) except -1:
    """The raw sweep at node k of a unary op whose factor f was kept from
    its forward: its input's gradient is f for a broadcast 1 (as
    _unit_vjp's) and else g * f (the rule's product, with its warnings),
    without computing the factor again.  False where g is not an array of
    f's dtype and shape (the rule runs)."""
    cdef int32_t s = w.in_slot.data[w.in_start.data[k]]
    if (s < 0 or not reach[s] or type(g) is not ndarray
            or cnp.PyArray_TYPE(<cnp.ndarray>g) != cnp.PyArray_TYPE(<cnp.ndarray>f) or not _same_shape(g, f)):
        return False
    _accumulate(grads, s, f if _is_unit(g) else _rule_product(op, g, f))
    return True


def sincos(x, bint negated=False, bint checked=True):
    """``(sin(x), cos(x))``, or ``(cos(x), -sin(x))`` if `negated`, for a
    C-contiguous float64 array x, in one pass of the C library's sincos
    (csrc/tg_sincos.h): new writeable arrays of x's shape.  None where the
    platform has no sincos (not glibc), x is another kind of array, or
    (`checked`) x holds an inf, a nan or a subnormal value, where sin and cos
    raise floating-point flags that only NumPy's own loop turns into its
    warnings.  Unchecked, every element is computed and the flags cleared
    (the first-use probe in ops/math_ops.py)."""
    cdef cnp.ndarray X, a, b
    cdef Py_ssize_t n
    cdef int ok
    if (type(x) is not ndarray or cnp.PyArray_TYPE(<cnp.ndarray>x) != cnp.NPY_DOUBLE
            or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>x) or not cnp.PyArray_ISBEHAVED_RO(<cnp.ndarray>x)):
        return None
    X = <cnp.ndarray>x
    n = cnp.PyArray_SIZE(X)
    a = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(X), cnp.PyArray_DIMS(X), cnp.NPY_DOUBLE, 0)
    b = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(X), cnp.PyArray_DIMS(X), cnp.NPY_DOUBLE, 0)
    cdef const double *px = <const double *>cnp.PyArray_DATA(X)
    cdef double *pa = <double *>cnp.PyArray_DATA(a)
    cdef double *pb = <double *>cnp.PyArray_DATA(b)
    with nogil:                        # as NumPy's loops: x is kept alive by this frame, a and b are new
        if checked:
            ok = tg_sincos_f64(px, pa, pb, n, negated)
        elif negated:
            ok = 0
        else:
            ok = tg_sincos_f64_all(px, pa, pb, n)
    return (a, b) if ok else None


cdef object _binary(Op op, object a, object b):
    cdef object ra, rb, params = None
    cdef bint bx, by
    # The non-tensor side takes the tensor side's dtype (TensorFlow's rule).
    # A Tensor or a Python float is no Variable: tested first, by exact type, so
    # the hot case does not walk Tensor's bases in isinstance (issue 15, W1-W3).
    if type(a) is not Tensor and type(a) is not float and isinstance(a, Variable):
        a = _read(<Variable>a)
    if type(b) is not Tensor and type(b) is not float and isinstance(b, Variable):
        b = _read(<Variable>b)
    if isinstance(a, Tensor):
        ra = (<Tensor>a)._value
        if type(b) is float and _differentiable_value(ra):
            rb = b                         # weak Python float: the hot `y * 1.0001` case
        elif isinstance(b, Tensor):
            rb = (<Tensor>b)._value
            if not _same_dtype(_np_dtype(ra), _np_dtype(rb)):
                _dtype_mismatch(op.name, 1, _np_dtype(ra), _np_dtype(rb))
        elif type(b) is _sparse_type:
            return _binary(op, a, _dense_tensor(b))
        else:
            rb = b = _operand_like(b, _np_dtype(ra))
    elif isinstance(b, Tensor):
        rb = (<Tensor>b)._value
        if type(a) is float and _differentiable_value(rb):
            ra = a
        elif type(a) is _sparse_type:
            return _binary(op, _dense_tensor(a), b)
        else:
            ra = a = _operand_like(a, _np_dtype(rb))
    else:
        a = _as_tensor(a)
        return _binary(op, a, b)
    value = None
    if type(ra) is ndarray or type(rb) is ndarray:     # scalar chains (W1, W7) skip the kernel's call
        value = _small_call(op.forward, <PyObject *>ra, <PyObject *>rb)
    if value is None:
        try:
            value = op.forward(ra, rb)
        except ValueError:
            _check_broadcast(op, ra, rb)
            raise
    value = _own(value)                    # out's value, held by this frame: read without a reference
    cdef Tensor out = _wrap(value)
    cdef PyObject *ins[2]
    if _n_active and op.differentiable and _differentiable_value(value):
        # Remember input shapes only where broadcasting happened and the input
        # is a tensor (raw constants never receive gradients).
        bx = _is_tensor(a) and not _same_shape(ra, value)
        by = _is_tensor(b) and not _same_shape(rb, value)
        if bx or by:
            params = (ra.shape if bx else None, rb.shape if by else None)
        ins[0] = <PyObject *>a
        ins[1] = <PyObject *>b
        _record_args(op, ins, 2, out, params)
    elif _n_active:
        ins[0] = <PyObject *>a
        ins[1] = <PyObject *>b
        _note_unrecorded(op, ins, 2, out)
    return out


cdef int _check_broadcast(Op op, object ra, object rb) except -1:
    """After a forward's ValueError: TensorFlow's error if the shapes do not
    broadcast (else the caller re-raises the forward's own error)."""
    try:
        np.broadcast_shapes(np.shape(ra), np.shape(rb))
    except ValueError:
        raise InvalidArgumentError(
            f"Incompatible shapes: {list(np.shape(ra))} vs. {list(np.shape(rb))} [Op:{op.name}]") from None
    return 0


def apply(Op op, inputs, params=None):
    """Run `op` on `inputs` (tensors or convertible values) with static
    `params` (a tuple passed after the inputs to the forward and the rules),
    recording it on every active recorder that watches an input.  The one
    entry for every kind of op (UNARY and BINARY ops take no params)."""
    if op.kind == _UNARY:
        return _unary(op, inputs[0])
    if op.kind == _BINARY:
        return _binary(op, inputs[0], inputs[1])
    cdef Py_ssize_t i, n = len(inputs)
    cdef list raws = [None] * n
    cdef list tensors = [None] * n
    cdef Tensor t
    for i in range(n):
        t = _as_tensor(inputs[i])
        tensors[i] = t
        raws[i] = t._value
    if params is None:
        value = op.forward(*raws)
    elif op is _op_reduce_sum and _reduce_sum_params(params):
        value = _add_reduce(raws[0], (<tuple>params)[0], None, None, (<tuple>params)[1])
    elif (op is _op_matmul and _structured and _pair(params) and not (<tuple>params)[0] and not (<tuple>params)[1]
            and type(raws[0]) is ndarray and type(raws[1]) is ndarray):
        value = _np_matmul(raws[0], raws[1])        # _matmul_forward's call, without its frame
    elif op is _op_matvec and _matvec_params(params) and type(raws[0]) is ndarray and type(raws[1]) is ndarray:
        value = _matvec_raw(raws[0], raws[1], (<tuple>params)[0])
    else:
        value = op.forward(*raws, *params)
    if op.n_out == 1:
        out = _wrap(_own(value))
    else:
        out = tuple([_wrap(_own(v)) for v in value])
    if _n_active and op.differentiable and _differentiable_value(
            (<Tensor>out)._value if op.n_out == 1 else (<Tensor>out[0])._value):
        _record_args(op, PySequence_Fast_ITEMS(tensors), n, out, params)
    elif _n_active:
        _note_unrecorded(op, PySequence_Fast_ITEMS(tensors), n, out)
    return out


def record(Op op, tuple inputs, out):
    """Offer an op computed outside `apply` (a custom gradient's outputs) to
    every active recorder.  inputs: Tensors; out: a Tensor, or a tuple of
    Tensors when op.n_out > 1."""
    if _n_active:
        _record_all(op, inputs, out, None)


def alias_tensor(Tensor dst, Tensor src):
    """Make dst the same value and id as src (a view type over a recorded read)."""
    dst._value = src._value
    dst._id = src._id


def wrap(value):
    """A new Tensor around a raw value (an op result, owned by the caller)."""
    return _wrap(_own(value))


def raw_from_python(value, dtype=None):
    return _raw_from_python(value, dtype)


# The ops behind Python's operators and NumPy's protocols.  The core knows no
# op itself: tapegrad.ops installs them once every family is declared.  Typed
# globals, so `a * b` is a direct C call with no attribute lookup.
cdef Op _op_add = None, _op_sub = None, _op_mul = None, _op_div = None
cdef Op _op_floordiv = None, _op_mod = None, _op_pow = None
cdef Op _op_negative = None, _op_abs = None, _op_identity = None
cdef Op _op_logical_not = None, _op_logical_and = None, _op_logical_or = None, _op_logical_xor = None
cdef Op _op_less = None, _op_less_equal = None, _op_greater = None, _op_greater_equal = None
cdef Op _op_equal = None, _op_not_equal = None
# Entry points that are functions, not single ops (argument checks, NumPy's
# dispatch tables): matmul, indexing, NumPy's protocols.
cdef object _hook_matmul = None, _hook_getitem = None, _hook_variable_slice = None
cdef object _hook_array_ufunc = None, _hook_array_function = None
cdef Op _op_reduce_sum = None
cdef Op _op_matmul = None


def install_reduce_sum(Op op):
    """The reduce_sum op: its forward is ``np.add.reduce(x, axes, None, None, keepdims)`` for
    params (axes, keepdims, in_shape), and its gradient of a full reduction (axes None) for a
    float64 scalar or 0-d array g is ``broadcast_scalar(g, in_shape)``.  The core makes exactly
    those calls itself where each Python frame counts (forward over reverse, W9): the forward in
    apply(), the forward on a tangent in forward mode, the rule in tensor mode's unrecorded path."""
    global _op_reduce_sum
    _op_reduce_sum = op


def install_matmul(Op op):
    """The matmul op: params (ta, tb); its forward is ``np.matmul(a, b)`` when neither is set,
    and for raw 2-d arrays g, a, b its rules are ``np.matmul`` of ``g`` and the other operand
    with ``.T`` views (ops/linalg_ops.py, ``_matmul_grad_a`` / ``_matmul_grad_b``).  The core
    makes exactly those calls itself, without the rules' Python frames (five per MLP step,
    W4), while the structured-cotangent shortcuts are on."""
    global _op_matmul
    _op_matmul = op


cdef inline object _matmul_raw_vjp(Py_ssize_t i, cnp.ndarray g, tuple ins, tuple params):
    """matmul's rule for input i on three raw 2-d arrays (the NumPy calls of
    _matmul_grad_a / _matmul_grad_b's first branch, on the same views), or None
    where that branch does not apply (the rule then runs)."""
    cdef object a = ins[0], b = ins[1]
    if (type(a) is not ndarray or type(b) is not ndarray or cnp.PyArray_NDIM(g) != 2
            or cnp.PyArray_NDIM(<cnp.ndarray>a) != 2 or cnp.PyArray_NDIM(<cnp.ndarray>b) != 2):
        return None
    cdef bint ta = params[0], tb = params[1]
    if i == 0:
        if ta:
            return _np_matmul(cnp.PyArray_Transpose(<cnp.ndarray>b, NULL) if tb else b,
                              cnp.PyArray_Transpose(g, NULL))
        return _np_matmul(g, b if tb else cnp.PyArray_Transpose(<cnp.ndarray>b, NULL))
    if tb:
        return _np_matmul(cnp.PyArray_Transpose(g, NULL), cnp.PyArray_Transpose(<cnp.ndarray>a, NULL) if ta else a)
    return _np_matmul(a if ta else cnp.PyArray_Transpose(<cnp.ndarray>a, NULL), g)


cdef tuple _NO_TRANSPOSES = (False, False)


cdef tuple _NO_TRANSPOSE = (False,)


cdef inline object _raw_array(object x):
    """x's value when x is exactly a Tensor or a Variable whose value is an ndarray, else None."""
    cdef object v
    if type(x) is Tensor:
        v = (<Tensor>x)._value
    elif type(x) is Variable:
        v = (<Variable>x)._state.value
    else:
        return None
    return v if type(v) is ndarray else None


cdef object _matmul_operator(object a, object b):
    """a @ b.  A matrix and a matrix or a vector of one dtype (the same descriptor) whose inner
    dimensions agree (an MLP's x @ W, W9's W @ x) are the matmul or the matvec op applied as
    linalg_ops._matmul's first two branches apply them, without that function's frame;
    everything else goes to _matmul."""
    cdef object av, bv
    cdef int bdim
    if _op_matmul is not None and _structured:
        av = _raw_array(a)
        if av is not None and cnp.PyArray_NDIM(<cnp.ndarray>av) == 2:
            bv = _raw_array(b)
            if (bv is not None and <object>cnp.PyArray_DESCR(<cnp.ndarray>av) is <object>cnp.PyArray_DESCR(<cnp.ndarray>bv)
                    and cnp.PyArray_DIM(<cnp.ndarray>av, 1) == cnp.PyArray_DIM(<cnp.ndarray>bv, 0)):
                bdim = cnp.PyArray_NDIM(<cnp.ndarray>bv)
                if bdim == 2:
                    return apply(_op_matmul, (a, b), _NO_TRANSPOSES)
                if bdim == 1 and _op_matvec is not None:
                    return apply(_op_matvec, (a, b), _NO_TRANSPOSE)
    return _hook_matmul(a, b)


def broadcast_scalar(value, shape):
    """A raw scalar (a NumPy scalar, a 0-d array, a Python number) as a read-only array of
    `shape` whose strides are all 0 (what np.broadcast_to gives, without its Python-level
    argument handling): a reduction's gradient on raw values.  The sweep recognises such a view
    of 1.0 as a known-ones cotangent (_is_unit)."""
    return _broadcast_scalar(value, shape)


cdef object _broadcast_scalar(object value, object shape):
    cdef object base = value if type(value) is ndarray else cnp.PyArray_FROM_O(value)   # np.asarray
    cdef Py_ssize_t k, nd = len(shape)
    cdef cnp.npy_intp dims[TG_ZERO_VIEW_MAXDIMS]
    if nd > TG_ZERO_VIEW_MAXDIMS or not cnp.PyArray_ISCONTIGUOUS(<cnp.ndarray>base):
        # NumPy's own errors for these (too many dimensions, no buffer to view)
        view = ndarray(shape, base.dtype, base, 0, (0,) * nd)
        view.flags.writeable = False
        return view
    for k in range(nd):
        dims[k] = shape[k]
    return tg_zero_strided_view(base, <int>nd, dims)


cdef inline bint _pair(object params):
    return type(params) is tuple and len(<tuple>params) == 2


cdef inline bint _reduce_sum_params(object params):
    return type(params) is tuple and len(<tuple>params) == 3


cdef Op _op_matvec = None


def install_matvec(Op op):
    """The matvec op (W @ x): params (ta,); on two ndarrays its forward, its
    JVPs and (on Tensors) b's gradient are the calls _matvec_raw makes.  The
    core makes them itself where each Python frame counts (forward over
    reverse, W9): the forward in apply(), the JVPs on raw tangents, b's
    gradient in tensor mode."""
    global _op_matvec
    _op_matvec = op


cdef inline bint _matvec_params(object params):
    return type(params) is tuple and len(<tuple>params) == 1


cdef object _matvec_raw(object a, object v, object ta):
    """a @ v (a.T @ v when ta) for ndarrays a and v, by the op's own calls
    (ops/linalg_ops.py, _matvec_arrays): a matrix and one vector straight to
    np.matmul, a batch of vectors as columns and back."""
    if cnp.PyArray_NDIM(<cnp.ndarray>a) == 2 and cnp.PyArray_NDIM(<cnp.ndarray>v) == 1:
        return _np_matmul(a.T if ta else a, v)
    r = _np_matmul(a.swapaxes(-1, -2) if ta else a, v.reshape(v.shape + (1,)))
    return r.reshape(r.shape[:-1])


def install_operators(*, Op add, Op subtract, Op multiply, Op truediv, Op floordiv, Op mod, Op pow,
                      Op negative, Op abs, Op identity, Op logical_not, Op logical_and, Op logical_or,
                      Op logical_xor, Op less, Op less_equal, Op greater, Op greater_equal, Op equal,
                      Op not_equal, matmul, getitem, variable_slice, array_ufunc, array_function):
    """Give the core the ops behind Python's operators and NumPy's protocols
    (every one is required: a missing one fails here, not at first use)."""
    global _op_add, _op_sub, _op_mul, _op_div, _op_floordiv, _op_mod, _op_pow, _op_negative, _op_abs
    global _op_identity, _op_logical_not, _op_logical_and, _op_logical_or, _op_logical_xor
    global _op_less, _op_less_equal, _op_greater, _op_greater_equal, _op_equal, _op_not_equal
    global _hook_matmul, _hook_getitem, _hook_variable_slice, _hook_array_ufunc, _hook_array_function
    _op_add, _op_sub, _op_mul, _op_div = add, subtract, multiply, truediv
    _op_floordiv, _op_mod, _op_pow = floordiv, mod, pow
    _op_negative, _op_abs, _op_identity = negative, abs, identity
    _op_logical_not, _op_logical_and, _op_logical_or, _op_logical_xor = logical_not, logical_and, logical_or, logical_xor
    _op_less, _op_less_equal, _op_greater, _op_greater_equal = less, less_equal, greater, greater_equal
    _op_equal, _op_not_equal = equal, not_equal
    _hook_matmul, _hook_getitem, _hook_variable_slice = matmul, getitem, variable_slice
    _hook_array_ufunc, _hook_array_function = array_ufunc, array_function


# ndarray's methods on Tensor and Variable (T, sum, reshape, ...): functions
# installed by tapegrad.ops (ops/ndarray_methods.py), keyed by method name.
cdef dict _methods = {}
cdef dict _ufunc_table = {}, _function_table = {}
METHOD_NAMES = ("T", "mT", "real", "imag", "reshape", "ravel", "flatten", "astype", "sum", "mean", "prod", "max",
                "min", "std", "var", "cumsum", "cumprod", "dot", "transpose", "swapaxes", "squeeze", "clip",
                "round", "conj", "conjugate", "all", "any", "argmax", "argmin", "argsort", "diagonal", "trace",
                "repeat", "item", "tolist", "copy")


def install_numpy(*, dict methods, dict ufuncs, dict functions):
    """Give the core the functions behind ndarray's methods and properties on
    tensors (every name of METHOD_NAMES is required), and the registry's
    tables of NumPy ufuncs and functions (shared, not copied: ops registered
    later are seen)."""
    global _ufunc_table, _function_table
    missing = sorted(set(METHOD_NAMES) - set(methods))
    if missing:
        raise ValueError(f"install_numpy: no method for {missing}")
    _methods.clear()
    _methods.update(methods)
    _ufunc_table, _function_table = ufuncs, functions


cdef str _immutable_error(str method, object x):
    what = "Variable" if isinstance(x, Variable) else "Tensor"
    fix = ("use variable.assign(...) to change a Variable" if what == "Variable" else
           "compute a new tensor instead (e.g. tapegrad.sort(x) or numpy.sort(x))")
    return (f"'tapegrad.{what}' has no in-place {method}(): tensors are immutable; {fix}")


def tracks(x):
    """Whether an active recorder tracks x: a tape that has x on its list (or
    would watch the Variable x when reading it), or a forward accumulator
    holding a tangent for it.  ReadLogs track nothing."""
    cdef int64_t tid
    cdef bint auto_watch
    cdef WengertList w
    if _n_active == 0:
        return False
    if isinstance(x, Tensor):
        tid, auto_watch = (<Tensor>x)._id, False
    elif isinstance(x, Variable):
        tid, auto_watch = (<Variable>x)._state.id, (<Variable>x)._state.trainable
    else:
        return False
    for r in _thread_stack():
        if isinstance(r, WengertList):
            w = <WengertList>r
            if not w.released and (tg_idmap_get(&w.slots, tid) >= 0 or (auto_watch and w.watch_accessed_variables)):
                return True
        elif isinstance(r, Accumulator):
            if tg_idmap_get(&(<Accumulator>r).index, tid) >= 0:
                return True
    return False


# --------------------------------------------------------------------------
# Recorders and the tape
#
# Terms.  A *recorder* is anything on this thread's recorder stack that ops
# are offered to: a WengertList (behind a GradientTape), an Accumulator
# (forward mode), a ReadLog.  A *node* is one recorded op: its Op, what its
# rules need (the *saved* values, see _saved_inputs), its static params, and its
# input and output *slots*.  A *slot* is the dense index a WengertList gives a
# tensor id it has seen (a watched tensor, a read variable, an op output); an
# input that is not on the list has slot -1.
#
# Recording (WengertList.record).  An op is kept only if one of its inputs has
# a slot; its outputs get new slots.  Slots are handed out in execution order,
# so every node's outputs are newer than its inputs and the node array, read
# backwards, is already a reverse topological order: no graph search.
#
# The backward pipeline (WengertList.backward), all over flat C arrays:
#   1. seeds: each target's seed is accumulated into its slot (a target that
#      is not on the list can still be a source: kept aside, off_tape);
#   2. reachability (_propagate_reach): one forward pass marks every slot
#      computed from a source; rules run only between sources and targets;
#   3. batchability (_path_batches), for batched Jacobian seeds only: one
#      reverse pass over the path; if an op on it cannot take a cotangent with
#      leading batch axes, nothing is computed and the caller sweeps per row;
#   4. the sweep (_sweep): nodes from last to first; a node whose outputs hold
#      a gradient and which has a reachable input calls its rules through
#      _vjp_of (the one rule call) and accumulates into its inputs' slots;
#   5. freeing, as the sweep passes node k: its outputs' gradients are dropped
#      (unless they are requested sources), and a one-shot list drops k's saved
#      values and params, so peak memory falls while the sweep runs.
#
# Invariants.  node_start, in_start and out_start have one entry more than
# there are nodes (CSR offsets into node_objs, in_slot and out_slot); a failed
# record cuts every buffer back to the same length.  Rules may record new nodes on this very
# list (higher order inside a persistent tape's context), which can move the
# buffers: the sweep walks only the nodes that existed when it started and
# re-reads every pointer after a Python call.  `generation` changes on
# reset/release; a sweep that sees it change stops with an error.  In
# tensor_mode (another recorder is active) rules get Tensors and are
# themselves recorded, which is how nested tapes give higher derivatives;
# otherwise they get raw NumPy values (the fast path).

# What a node keeps, node_objs[node_start[k]:node_start[k+1]], in this order:
#   its Op;
#   if its rules read inputs (op.save & SAVE_INPUTS), one entry per input,
#     aligned with in_slot, NULL for an input no rule of this tape's inputs
#     reads (x * 1.0001 with x on the tape keeps the constant, not x);
#   if they read the output (op.save & SAVE_ANS), the output;
#   its params, if it has any (the count of entries says so).
# One object vector for all of it: no tuple per node (~50 bytes and a GC
# allocation each), no column of NULLs for the many ops without params.
# _saved_mask, _n_kept and _saved_inputs are the only places that know it.

cdef inline unsigned long _saved_mask(Op op, int32_t *slots, Py_ssize_t n):
    """Bit i set: input i is kept for the rules of this tape's inputs (slots[i]
    >= 0 where input i is on the tape)."""
    cdef Py_ssize_t i
    cdef unsigned long needed = 0
    if op.reads is None or n > 63:
        return ~0UL
    if n <= op._n_read_bits:
        for i in range(n):
            if slots[i] >= 0:
                needed |= op._read_bits[i]
        return needed
    for i in range(n):
        if slots[i] >= 0:
            needed |= <unsigned long>op.reads[i]
    return needed


cdef inline Py_ssize_t _n_kept(Op op, Py_ssize_t n_in):
    """A node's entries before its params: the op, saved inputs, saved output."""
    return (1 + (n_in if op.save & _SAVE_INPUTS else 0)
            + (1 if op.save & _SAVE_ANS else 0))


cdef inline tuple _saved_inputs(Op op, PyObject **objs, Py_ssize_t n_in, PyObject **ans, bint raw):
    """The inputs a node's rules get (None where not saved), from the node's
    entries `objs` (objs[0] is its op), as raw values if `raw`; *ans is set to
    a borrowed reference to the saved output, or NULL."""
    cdef Py_ssize_t i
    cdef PyObject *p
    cdef tuple ins
    ans[0] = NULL
    if not (op.save & _SAVE_INPUTS):
        if op.save & _SAVE_ANS:
            ans[0] = objs[1]
        return op._nones if op.n_in >= 0 else (None,) * n_in
    if op.save & _SAVE_ANS:
        ans[0] = objs[1 + n_in]
    ins = PyTuple_New(n_in)
    for i in range(n_in):
        p = objs[1 + i]
        if p == NULL:
            x = None
        elif raw and _is_tensor(<object>p):
            x = (<Tensor>p)._value
        else:
            x = <object>p
        Py_INCREF(x)
        PyTuple_SET_ITEM(ins, i, x)
    return ins


cdef class Recorder:
    cdef int record(self, Op op, tuple inputs, object out, object params) except -1:
        return 0

    cdef int on_variable_read(self, Variable v) except -1:
        return 0

    cdef bint tracks(self, int64_t tid):
        """Whether a gradient or tangent would flow to the tensor (or variable) with id `tid`."""
        return False


# The storage of the last released tape, kept for the next one (one set per
# process, taken and given back under the GIL): a loop that records a tape per
# step then appends into buffers that already have the right size instead of
# growing seven of them by doubling (realloc, copy, rehash) every step.  Only
# small tapes' storage is kept (a few hundred KB at most), and an id map much
# larger than its last use is not: reusing one costs a memset of its buckets.

ctypedef struct _TapeBuffers:
    tg_i32vec node_start
    tg_objvec node_objs
    tg_i32vec in_start
    tg_i32vec in_slot
    tg_i32vec out_start
    tg_i32vec out_slot
    tg_idmap slots

cdef _TapeBuffers _spare
cdef bint _spare_full = False
cdef size_t _SPARE_MAX_NODES = 1 << 14


cdef void _init_buffers(WengertList w) noexcept:
    tg_i32vec_init(&w.node_start)
    tg_objvec_init(&w.node_objs)
    tg_i32vec_init(&w.in_start)
    tg_i32vec_init(&w.in_slot)
    tg_i32vec_init(&w.out_start)
    tg_i32vec_init(&w.out_slot)
    tg_idmap_init(&w.slots)


cdef void _free_buffers(_TapeBuffers *b) noexcept:
    """Frees storage whose references were already dropped."""
    b.node_objs.len = 0
    tg_objvec_free(&b.node_objs)
    tg_i32vec_free(&b.node_start)
    tg_i32vec_free(&b.in_start)
    tg_i32vec_free(&b.in_slot)
    tg_i32vec_free(&b.out_start)
    tg_i32vec_free(&b.out_slot)
    tg_idmap_free(&b.slots)


cdef void _offer_spare(_TapeBuffers *b) noexcept:
    """Keep b's storage (its object references already dropped) as the spare
    set if there is none and it is small, else free it."""
    global _spare, _spare_full
    if _spare_full or b.node_start.cap > _SPARE_MAX_NODES + 1 or b.node_objs.cap > 8 * _SPARE_MAX_NODES:
        _free_buffers(b)
        return
    if b.slots.cap > 8 * (b.slots.len + 64):
        tg_idmap_free(&b.slots)       # mostly empty: a fresh small map is cheaper than clearing it
    b.node_start.len = b.node_objs.len = b.in_start.len = b.in_slot.len = 0
    b.out_start.len = b.out_slot.len = 0
    _spare = b[0]
    _spare_full = True


cdef void _take_spare(WengertList w) noexcept:
    """Give a new tape the spare storage, if any, else empty buffers."""
    global _spare_full
    if not _spare_full:
        _init_buffers(w)
        return
    _spare_full = False
    w.node_start = _spare.node_start
    w.node_objs = _spare.node_objs
    w.in_start = _spare.in_start
    w.in_slot = _spare.in_slot
    w.out_start = _spare.out_start
    w.out_slot = _spare.out_slot
    w.slots = _spare.slots
    tg_idmap_clear(&w.slots)          # (its buckets: a W3 tape's outputs are all in its run)


cdef inline object _node_params(WengertList w, Py_ssize_t k):
    """Node k's params, or None (also once the sweep freed them).  Inline:
    the raw sweep reads them for every node."""
    cdef Py_ssize_t o0 = w.node_start.data[k], o1 = w.node_start.data[k + 1]
    cdef PyObject *p
    if o1 - o0 > _n_kept(<Op>w.node_objs.data[o0], w.in_start.data[k + 1] - w.in_start.data[k]):
        p = w.node_objs.data[o1 - 1]
        if p != NULL:
            return <object>p
    return None


cdef inline int _output_slot(WengertList self, PyObject *t) noexcept:
    """The next slot to output tensor t (in the id map, and in out_slot); -1
    when memory runs out."""
    if (tg_idmap_put(&self.slots, (<Tensor>t)._id, self.n_slots) < 0
            or tg_i32vec_push(&self.out_slot, self.n_slots) < 0):
        return -1
    self.n_slots += 1
    return 0


cdef int _output_slots(WengertList self, object out, Py_ssize_t n_out) noexcept:
    """_output_slot for each tensor of the tuple out."""
    cdef Py_ssize_t i
    for i in range(n_out):
        if _output_slot(self, PyTuple_GET_ITEM(out, i)) < 0:
            return -1
    return 0


cdef inline int _append_node(WengertList self, Op op, PyObject **ins, Py_ssize_t n, object out,
                             Py_ssize_t n_out, object params, size_t base) noexcept:
    """The rest of WengertList._record (inline in it), in C only: output slots, then the node's
    entries (layout above _saved_inputs).  -1 when memory runs out (the
    caller cuts the buffers back); raises nothing.  (A slot given to an
    output stays in the id map after a failure: harmless, it names no node.)
    The node's object entries (at most its op, n inputs, its output and its
    params) are reserved at once and stored without a capacity test each."""
    cdef Py_ssize_t i
    cdef PyObject *p
    cdef PyObject **objs
    cdef unsigned long keep
    if n_out == 1 and op.n_out == 1:      # out itself (no loop: gcc kept registers spilled around one)
        if _output_slot(self, <PyObject *>out) < 0:
            return -1
    elif _output_slots(self, out, n_out) < 0:
        return -1
    if tg_objvec_reserve(&self.node_objs, <size_t>n + 3) < 0:
        return -1
    objs = self.node_objs.data + self.node_objs.len
    Py_INCREF(op)
    objs[0] = <PyObject *>op
    objs += 1
    if op.save & _SAVE_INPUTS:
        # (an op without reads= keeps every input: no mask to compute)
        keep = ~0UL if op.reads is None else _saved_mask(op, &self.in_slot.data[base], n)
        for i in range(n):
            p = ins[i] if n > 63 or keep & (1UL << i) else NULL
            Py_XINCREF(p)
            objs[0] = p
            objs += 1
    if op.save & _SAVE_ANS:
        Py_INCREF(out)
        objs[0] = <PyObject *>out
        objs += 1
    if params is not None:
        Py_INCREF(params)
        objs[0] = <PyObject *>params
        objs += 1
    self.node_objs.len = objs - self.node_objs.data
    if (tg_i32vec_push(&self.node_start, <int32_t>self.node_objs.len) < 0
            or tg_i32vec_push(&self.in_start, <int32_t>self.in_slot.len) < 0
            or tg_i32vec_push(&self.out_start, <int32_t>self.out_slot.len) < 0):
        return -1
    return 0


cdef class WengertList(Recorder):
    """The Wengert list: nodes in execution order, stored as flat arrays.

    node k: op, saved values, params in node_objs[node_start[k]:
    node_start[k+1]] (see _saved_inputs); its inputs are in_slot[in_start[k]:
    in_start[k+1]] (slot or -1 for inputs not on this tape), its outputs
    out_slot[out_start[k]:out_start[k+1]].  Slots are dense indices of the
    tensor ids on this tape (watched tensors, read variables, op outputs)."""

    def __cinit__(self, bint persistent=False, bint watch_accessed_variables=True):
        _take_spare(self)
        if (tg_i32vec_push(&self.node_start, 0) < 0 or tg_i32vec_push(&self.in_start, 0) < 0
                or tg_i32vec_push(&self.out_start, 0) < 0):
            raise MemoryError()
        self.n_slots = 0
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._watched_vars = {}

    def __dealloc__(self):
        self._free_nodes()

    cdef void _free_nodes(self):
        """Drop every node, saved value and slot; the storage goes to the
        spare set (_offer_spare) or back to the allocator."""
        cdef _TapeBuffers b
        b.node_start = self.node_start
        b.node_objs = self.node_objs
        b.in_start = self.in_start
        b.in_slot = self.in_slot
        b.out_start = self.out_start
        b.out_slot = self.out_slot
        b.slots = self.slots
        _init_buffers(self)
        # The tape is empty before any reference is dropped: a finalizer that
        # re-enters it finds it so.
        cdef size_t i
        cdef PyObject *x
        for i in range(b.node_objs.len):
            x = b.node_objs.data[i]
            b.node_objs.data[i] = NULL
            Py_XDECREF(x)
        _offer_spare(&b)

    def release(self):
        """Drop every node and saved value (a used non-persistent tape)."""
        self.released = True
        self.generation += 1
        self._free_nodes()
        self.n_slots = 0

    @property
    def num_nodes(self):
        return 0 if self.released else self._n_nodes()

    @property
    def num_slots(self):
        return self.n_slots

    cdef inline Py_ssize_t _n_nodes(self):
        return self.node_start.len - 1 if self.node_start.len else 0

    cdef int32_t _new_slot(self, int64_t tid) except -2:
        if self.n_slots == INT32_MAX:
            raise OverflowError("tapegrad: a tape can hold at most 2**31-1 tensors")
        if tg_idmap_put(&self.slots, tid, self.n_slots) < 0:
            raise MemoryError()
        self.n_slots += 1
        return self.n_slots - 1

    def watch_tensor(self, Tensor t):
        if self.released:
            return
        if tg_idmap_get(&self.slots, t._id) < 0:
            self._new_slot(t._id)

    def watch_variable(self, Variable v):
        if self.released:
            return
        self._watch_var(v)

    cdef int _watch_var(self, Variable v) except -1:
        cdef int64_t vid = v._state.id
        if tg_idmap_get(&self.slots, vid) < 0:
            self._new_slot(vid)
        if vid not in self._watched_vars:
            self._watched_vars[vid] = _owner(v)
        return 0

    def watched_variables(self):
        return tuple(self._watched_vars[k] for k in sorted(self._watched_vars))

    def slot_of(self, Tensor t):
        return -1 if self.released else tg_idmap_get(&self.slots, t._id)

    cdef bint tracks(self, int64_t tid):
        return not self.released and tg_idmap_get(&self.slots, tid) >= 0

    cdef int on_variable_read(self, Variable v) except -1:
        if self.watch_accessed_variables and v._state.trainable and not self.released:
            self._watch_var(v)
        return 0

    cdef int record(self, Op op, tuple inputs, object out, object params) except -1:
        return self._record(op, PySequence_Fast_ITEMS(inputs), len(inputs), out, params)

    cdef int _record(self, Op op, PyObject **ins, Py_ssize_t n, object out, object params) except -1:
        """record() with the inputs as n references at `ins` (no tuple per op)."""
        cdef Py_ssize_t i
        cdef size_t base = self.in_slot.len
        cdef int32_t s
        cdef bint any_on = False
        cdef PyObject *x
        if self.released:
            return 0
        if tg_i32vec_reserve(&self.in_slot, <size_t>n) < 0:
            raise MemoryError()
        for i in range(n):
            x = ins[i]
            s = -1
            if _is_tensor(<object>x):
                # In a chain an op's input is the last op's output, in the id map's run: no probe.
                s = tg_idmap_get(&self.slots, (<Tensor>x)._id)
            any_on |= s >= 0
            self.in_slot.data[base + i] = s
        if not any_on:
            return 0                          # nothing this tape watches: forget it
        self.in_slot.len = base + n
        cdef Py_ssize_t n_out = op.n_out if op.n_out == 1 else len(<tuple>out)
        # One test for the common case (every count far below 2**31), the exact ones after it.
        if ((self.node_start.len | self.in_slot.len | self.node_objs.len | self.out_slot.len
                | <size_t>self.n_slots) >> 30) | ((<size_t>n | <size_t>n_out) >> 20):
            if (self.node_start.len >= <size_t>INT32_MAX or self.in_slot.len >= <size_t>INT32_MAX
                    or self.node_objs.len >= <size_t>(INT32_MAX - 3 - n)
                    or self.out_slot.len >= <size_t>(INT32_MAX - n_out)):
                self.in_slot.len = base
                raise OverflowError("tapegrad: a tape can hold at most 2**31-1 nodes")
            if self.n_slots > INT32_MAX - n_out:
                self.in_slot.len = base
                raise OverflowError("tapegrad: a tape can hold at most 2**31-1 tensors")
        cdef size_t out_base = self.out_slot.len, obj_base = self.node_objs.len
        cdef size_t n_nodes = self.node_start.len - 1
        if _append_node(self, op, ins, n, out, n_out, params, base) < 0:
            # Out of memory: cut every buffer back so the node arrays stay aligned.
            self.in_slot.len = base
            self.out_slot.len = out_base
            while self.node_objs.len > obj_base:
                tg_objvec_release(&self.node_objs, self.node_objs.len - 1)
                self.node_objs.len -= 1
            self.node_start.len = n_nodes + 1
            self.in_start.len = n_nodes + 1
            self.out_start.len = n_nodes + 1
            raise MemoryError()
        return 0

    def backward(self, list targets, list seeds, list sources, bint tensor_mode, tuple batch=None,
                 bint retain=False, bint identity=False):
        """Gradients of sum(seed_i * target_i) with respect to each source.

        targets/sources are Tensors (variables already read); seeds are raw
        values (fast path) or Tensors (tensor_mode, when another recorder is
        active and the rules must themselves be recorded).  Returns a list with
        one entry per source: the gradient (raw or Tensor) or None.

        batch: the shape of extra leading axes on every seed (a Jacobian's
        stacked cotangents): gradients then have shape batch + source shape (or
        lack the batch axes when they do not depend on the seed).  If an op on
        the path from the sources to the targets cannot batch (``op.batching``
        False), nothing is computed and None is returned.
        retain: keep saved values of a non-persistent tape (several sweeps).
        identity: the caller's word that the one seed is the identity batch (a
        Jacobian's: row b is the b-th unit tensor of the target); on raw values
        the sweep then carries it as its diagonal (_Diag) while ops keep it
        diagonal, and densifies it where one cannot.  With identity, a seed of
        None asks the sweep to make the identity batch itself (a float target),
        so that it is never built where its diagonal is all the sweep needs."""
        if self.released:
            raise RuntimeError("tapegrad: this tape's resources were already released")
        cdef int32_t n_slots = self.n_slots
        cdef Py_ssize_t n_nodes = self._n_nodes()
        cdef int64_t gen = self.generation
        cdef PyObject **grads = <PyObject **>calloc(n_slots + 1, sizeof(PyObject *))
        cdef char *reach = <char *>calloc(n_slots + 1, 1)
        cdef char *keep = <char *>calloc(n_slots + 1, 1)
        cdef char *need = NULL
        if batch is not None:
            need = <char *>calloc(n_slots + 1, 1)
        if grads == NULL or reach == NULL or keep == NULL or (batch is not None and need == NULL):
            free(grads); free(reach); free(keep); free(need)
            raise MemoryError()
        cdef dict off_tape = {}
        cdef list results = []
        cdef Py_ssize_t i, k
        cdef int32_t s
        try:
            # Sources: mark them reachable and keep their gradients to the end.
            for src in sources:
                s = tg_idmap_get(&self.slots, (<Tensor>src)._id)
                if s >= 0:
                    reach[s] = 1
                    keep[s] = 1
            # Seeds: accumulate each target's seed into its slot.
            for i in range(len(targets)):
                t = targets[i]
                seed = seeds[i]
                s = tg_idmap_get(&self.slots, (<Tensor>t)._id)
                if seed is None and identity:
                    # The caller left the identity batch to the sweep: its diagonal (ones of the
                    # target's shape) where the sweep carries it so, else the dense batch.
                    v = (<Tensor>t)._value
                    seed = _Diag(_ones(v.shape, v.dtype))
                    if not (s >= 0 and _structured and not tensor_mode and batch is not None
                            and len(<tuple>batch) == 1 and len(targets) == 1 and v.dtype.kind == "f"):
                        seed = _diag_dense(<_Diag>seed)
                if s >= 0:
                    if identity and _structured and not tensor_mode and batch is not None and len(targets) == 1:
                        _accumulate(grads, s, _identity_diag(seed, len(<tuple>batch)))
                    else:
                        _accumulate(grads, s, seed)
                else:
                    tid = (<Tensor>t)._id
                    off_tape[tid] = seed if tid not in off_tape else off_tape[tid] + seed
            self._propagate_reach(reach, n_nodes)
            if batch is not None:
                for i in range(n_slots):
                    need[i] = grads[i] != NULL
                if not self._path_batches(reach, need, n_nodes):
                    return None
            self._sweep(grads, reach, keep, n_nodes, tensor_mode, gen, batch,
                        not self.persistent and not retain)
            for src in sources:
                s = tg_idmap_get(&self.slots, (<Tensor>src)._id) if not self.released else -1
                # (a rule may have watched new tensors: slots past n_slots have no gradient)
                g = <object>grads[s] if 0 <= s < n_slots and grads[s] != NULL else None
                if type(g) is _Diag:
                    g = _diag_dense(<_Diag>g)
                extra = off_tape.get((<Tensor>src)._id)
                if extra is not None:
                    g = extra if g is None else g + extra
                results.append(g)
            return results
        finally:
            for i in range(n_slots):
                Py_XDECREF(grads[i])
            free(grads); free(reach); free(keep); free(need)

    cdef int _path_batches(self, char *reach, char *need, Py_ssize_t n_nodes) except -1:
        """1 if every op between the sources (`reach`) and the seeded slots
        (`need`) accepts batched cotangents.  A reverse pass over the node
        arrays marking which slots would receive a gradient; pure C but for
        reading each op's flag."""
        cdef Py_ssize_t k, j
        cdef int32_t s
        cdef bint hit
        for k in range(n_nodes - 1, -1, -1):
            hit = False
            for j in range(self.out_start.data[k], self.out_start.data[k + 1]):
                if need[self.out_slot.data[j]]:
                    hit = True
                    break
            if not hit:
                continue
            hit = False
            for j in range(self.in_start.data[k], self.in_start.data[k + 1]):
                s = self.in_slot.data[j]
                if s >= 0 and reach[s]:
                    need[s] = 1
                    hit = True
            if hit and not (<Op>self.node_objs.data[self.node_start.data[k]]).batching:
                return 0
        return 1

    cdef void _propagate_reach(self, char *reach, Py_ssize_t n_nodes):
        """Forward pass over the node arrays: an output is reachable from the
        sources if any input is.  Pure C; rules run only where this holds."""
        cdef Py_ssize_t k, j
        cdef int32_t *in_start = self.in_start.data
        cdef int32_t *in_slot = self.in_slot.data
        cdef int32_t *out_start = self.out_start.data
        cdef int32_t *out_slot = self.out_slot.data
        cdef int32_t s
        cdef bint r
        for k in range(n_nodes):
            r = False
            for j in range(in_start[k], in_start[k + 1]):
                s = in_slot[j]
                if s >= 0 and reach[s]:
                    r = True
                    break
            if r:
                for j in range(out_start[k], out_start[k + 1]):
                    reach[out_slot[j]] = 1

    cdef int _sweep(self, PyObject **grads, char *reach, char *keep, Py_ssize_t n_nodes,
                    bint tensor_mode, int64_t gen, object batch, bint free_saved) except -1:
        """The reverse sweep: walking the nodes backwards is already a reverse
        topological order.  Rules may record new nodes on this very tape
        (persistent tape, gradient inside its context), so no pointer into
        the buffers is held across a Python call."""
        cdef Py_ssize_t k, j, i, o0, o1, i0, i1
        cdef int32_t s
        cdef bint has_g
        cdef Op op
        cdef PyObject *p
        for k in range(n_nodes - 1, -1, -1):
            if self.generation != gen:
                raise RuntimeError("tapegrad: the tape was reset while its gradient was being computed")
            o0 = self.out_start.data[k]
            o1 = self.out_start.data[k + 1]
            has_g = False
            for j in range(o0, o1):
                s = self.out_slot.data[j]
                if grads[s] != NULL and reach[s]:
                    has_g = True
            if has_g:
                i0 = self.in_start.data[k]
                i1 = self.in_start.data[k + 1]
                for j in range(i0, i1):
                    s = self.in_slot.data[j]
                    if s >= 0 and reach[s]:
                        # A cotangent array only its slot holds, dropped after this node:
                        # an elementwise op may take g * f in place (_owned_factor_rule).
                        p = grads[self.out_slot.data[o0]]
                        if (o1 - o0 == 1 and p != NULL and type(<object>p) is ndarray and Py_REFCNT(<object>p) == 1
                                and not tensor_mode and not keep[self.out_slot.data[o0]]
                                and _nbytes_at_least(<cnp.ndarray>p, 4 * _FACTOR_BLOCK_BYTES)
                                and self._owned_factor_rule(k, grads, reach, batch)):
                            break
                        self._run_rules(k, grads, reach, tensor_mode, batch)
                        if self.generation != gen:      # a rule reset or released this tape
                            raise RuntimeError("tapegrad: the tape was reset while its gradient was being computed")
                        break
            # The sweep has passed node k: its outputs' gradients are final and
            # used; drop them (unless they are requested sources).
            for j in range(self.out_start.data[k], self.out_start.data[k + 1]):
                s = self.out_slot.data[j]
                if not keep[s]:
                    p = grads[s]
                    grads[s] = NULL
                    Py_XDECREF(p)
            if free_saved:                  # everything but the op
                for j in range(self.node_start.data[k] + 1, self.node_start.data[k + 1]):
                    tg_objvec_release(&self.node_objs, j)
        return 0

    cdef bint _owned_factor_rule(self, Py_ssize_t k, PyObject **grads, char *reach, object batch) except -1:
        """The raw-value sweep at node k, whose one output's gradient g is an
        ndarray referenced only by its slot, which the sweep drops after the
        node: for an elementwise op with a factor, g * f goes into g
        (_blocked_factor_product), the slot lets go of g and g becomes the
        input's contribution.  False (nothing done) where that does not apply:
        the sweep then runs the rules as usual."""
        cdef Op op = <Op>self.node_objs.data[self.node_start.data[k]]
        if op.calling != _CALL_UNARY or op.factors is None or batch is not None or not _structured:
            return False
        cdef int32_t out = self.out_slot.data[self.out_start.data[k]], s = self.in_slot.data[self.in_start.data[k]]
        if s < 0 or not reach[s]:
            return False
        cdef object g = <object>grads[out]
        cdef object f = _node_factor(self, k)
        cdef PyObject *ans_ref = NULL
        cdef tuple ins
        cdef object ans
        if (f is not None and cnp.PyArray_TYPE(<cnp.ndarray>f) == cnp.PyArray_TYPE(<cnp.ndarray>g) and _same_shape(f, g)
                and cnp.PyArray_CHKFLAGS(<cnp.ndarray>g, cnp.NPY_ARRAY_WRITEABLE | cnp.NPY_ARRAY_OWNDATA)
                and cnp.PyArray_BASE(<cnp.ndarray>g) == NULL):
            _multiply(g, f, out=g)     # the factor kept from the forward (_SavedFactor), as _blocked_factor_product
        else:
            ins = _saved_inputs(op, &self.node_objs.data[self.node_start.data[k]], 1, &ans_ref, True)
            ans = _unwrap(<object>ans_ref) if ans_ref != NULL else None
            if not _blocked_factor_product(op, g, ans, ins):
                return False
        cdef PyObject *held = grads[out]  # the slot's reference: g is now only this frame's
        grads[out] = NULL
        Py_XDECREF(held)
        _accumulate(grads, s, g)
        return True

    cdef int _run_rules(self, Py_ssize_t k, PyObject **grads, char *reach, bint tensor_mode,
                        object batch) except -1:
        cdef Op op = <Op>self.node_objs.data[self.node_start.data[k]]
        cdef object params = _node_params(self, k)
        cdef Py_ssize_t o0 = self.out_start.data[k], o1 = self.out_start.data[k + 1]
        cdef Py_ssize_t i0 = self.in_start.data[k], n_in = self.in_start.data[k + 1] - i0
        cdef Py_ssize_t i, j
        cdef int32_t s
        cdef object g, ans
        cdef tuple ins
        # The upstream gradient: one value, or a tuple for multi-output ops
        # (None where an output received no gradient).
        if o1 - o0 == 1:
            g = <object>grads[self.out_slot.data[o0]]
            if type(g) is _sparse_type:
                g = _sparse_dense(g)        # ops' rules take dense gradients
        else:
            g = tuple([<object>grads[self.out_slot.data[j]] if grads[self.out_slot.data[j]] != NULL
                       and reach[self.out_slot.data[j]] else None for j in range(o0, o1)])
            g = tuple([_diag_dense(<_Diag>x) if type(x) is _Diag else x for x in g])
            if _sparse_type is not None:
                g = tuple([_sparse_dense(x) if type(x) is _sparse_type else x for x in g])
        if type(params) is _SavedFactor:       # a factor kept from the forward: not a rule's param
            if (not tensor_mode and batch is None and _structured
                    and _kept_factor_rule(self, op, k, g, (<_SavedFactor>params).value, grads, reach)):
                return 0
            params = None
        if (o1 - o0 == 1 and not tensor_mode and _structured and op.vjp_forms is not None
                and _run_forms(self, op, k, g, params, grads, reach, batch)):
            return 0
        cdef PyObject *ans_ref = NULL
        ins = _saved_inputs(op, &self.node_objs.data[self.node_start.data[k]], n_in, &ans_ref, not tensor_mode)
        ans = <object>ans_ref if ans_ref != NULL else None
        if not tensor_mode:
            ans = _unwrap(ans)
            g = _unwrap(g)
        # Slots needing a gradient are read before any rule runs: a rule may
        # append nodes to this tape (reallocating the buffers).
        cdef int32_t small[4]
        cdef int32_t *targets = small
        if n_in > 4:
            targets = <int32_t *>malloc(n_in * sizeof(int32_t))
            if targets == NULL:
                raise MemoryError()
        try:
            for i in range(n_in):
                s = self.in_slot.data[i0 + i]
                targets[i] = s if s >= 0 and reach[s] else -1
            self._call_rules(op, targets, n_in, g, ans, ins, params, grads, tensor_mode, batch)
        finally:
            if targets != small:
                free(targets)
        return 0

    cdef int _call_rules(self, Op op, int32_t *targets, Py_ssize_t n_in, object g, object ans, tuple ins,
                         object params, PyObject **grads, bint tensor_mode, object batch) except -1:
        cdef Py_ssize_t i
        cdef Py_ssize_t batch_ndim = 0 if batch is None else len(<tuple>batch)
        cdef object gi, gs = None
        cdef bint unit = False, fac = False
        cdef type gt = type(g)
        if gt is ndarray:
            unit = not tensor_mode and _structured and op.factors is not None and _is_unit(g)
            fac = (not unit and not tensor_mode and _structured and op.factors is not None
                   and not op._constant_factors and _real_float(g) and _n_elements(<cnp.ndarray>g) >= _FRESH_FACTOR_MIN)
        elif gt is _Diag:
            if op.calling != _CALL_JOINT:
                return _call_rules_diag(op, targets, n_in, <_Diag>g, ans, ins, params, grads, batch_ndim)
            g = _diag_dense(<_Diag>g)
        elif tensor_mode and _structured and op.calling != _CALL_JOINT:
            if _call_rules_unseen(op, targets, n_in, g, ans, ins, params, grads, batch_ndim):
                return 0
        if op.calling == _CALL_JOINT:
            gs = op.vjps[0](g, ans, tuple([targets[i] >= 0 for i in range(n_in)]), ins, *(params or ()))
            if len(gs) != n_in:
                raise ValueError(f"op {op.name!r}: its gradient rule returned {len(gs)} gradients for {n_in} inputs")
        for i in range(n_in):
            if targets[i] < 0:
                continue
            if gs is not None:
                gi = gs[i]
            elif unit:
                gi = _unit_vjp(op, i, g, ans, ins, params)
            elif fac:
                gi = _factor_vjp(op, i, g, ans, ins, params, batch_ndim)
            else:
                gi = _vjp_of(op, i, g, ans, ins, params, batch_ndim)
            if gi is None:
                continue
            if tensor_mode and not isinstance(gi, Tensor) and type(gi) is not _sparse_type:
                gi = _wrap(_own(gi))
            _accumulate(grads, targets[i], gi)
        return 0

    # ---- inspection (tapegrad.inspect_tape: describe, to_dot, explain).  Read-only
    # snapshots built on request; recording and sweeping never call these.
    def inspect_nodes(self):
        """Every node, in execution order, as (op, input slots, output slots,
        saved, params).  An input slot is -1 where the input was not on this
        tape (a constant to it).  `saved` is what the rules keep (the inputs
        tuple, the output, or (output, inputs)); a value the sweep freed, or
        an input the rules do not read, is None.  Empty after release()."""
        cdef Py_ssize_t k, j
        cdef PyObject *p
        cdef list nodes = []
        if self.released:
            return nodes
        cdef PyObject *ans
        cdef Op op
        for k in range(self._n_nodes()):
            ins = tuple([self.in_slot.data[j] for j in range(self.in_start.data[k], self.in_start.data[k + 1])])
            outs = tuple([self.out_slot.data[j] for j in range(self.out_start.data[k], self.out_start.data[k + 1])])
            op = <Op>self.node_objs.data[self.node_start.data[k]]
            saved_ins = _saved_inputs(op, &self.node_objs.data[self.node_start.data[k]], len(ins), &ans, False)
            saved_ans = <object>ans if ans != NULL else None
            if op.save == _SAVE_INPUTS:
                saved = saved_ins
            elif op.save == _SAVE_ANS:
                saved = saved_ans
            elif op.save == _SAVE_INPUTS | _SAVE_ANS:
                saved = (saved_ans, saved_ins)
            else:
                saved = None
            params = _node_params(self, k)
            nodes.append((op, ins, outs, saved, None if type(params) is _SavedFactor else params))
        return nodes

    def slot_of_id(self, int64_t tid):
        """The slot of a tensor or variable id, -1 if this tape does not know it."""
        return -1 if self.released else tg_idmap_get(&self.slots, tid)

    def watched_variables_by_id(self):
        """{variable id: Variable} of the variables this tape watches."""
        return dict(self._watched_vars)

    @staticmethod
    def id_clock():
        """The last tensor id handed out.  Ids grow by one per new tensor (all
        threads), so comparing a tensor's id with the clock read when a tape
        was entered or exited tells when the tensor was made."""
        return _next_id


# The cyclic garbage collector must see the references a tape holds in its C
# buffers: ops (a custom gradient's Op holds the user's closures, which may
# capture the tape), saved values and params.  Cython writes tp_traverse and
# tp_clear for a class's object fields only, so WengertList's are wrapped once
# at import: the generated ones (for _watched_vars) run, then the buffers'.
cdef extern from *:
    """
    static traverseproc tg_wl_base_traverse = NULL;
    static inquiry tg_wl_base_clear = NULL;
    static int tg_objvec_traverse(tg_objvec *v, visitproc visit, void *arg) {
        for (size_t i = 0; i < v->len; i++) Py_VISIT(v->data[i]);
        return 0;
    }
    """
    ctypedef int (*visitproc)(PyObject *, void *)
    ctypedef int (*traverseproc)(PyObject *, visitproc, void *) noexcept
    ctypedef int (*inquiry)(PyObject *) noexcept
    ctypedef struct PyTypeObject:
        traverseproc tp_traverse
        inquiry tp_clear
        unsigned long tp_flags
    traverseproc tg_wl_base_traverse
    inquiry tg_wl_base_clear
    int tg_objvec_traverse(tg_objvec *v, visitproc visit, void *arg) noexcept
    unsigned long Py_TPFLAGS_HAVE_GC


cdef int _wl_traverse(PyObject *o, visitproc visit, void *arg) noexcept:
    cdef int r = tg_wl_base_traverse(o, visit, arg) if tg_wl_base_traverse != NULL else 0
    if r:
        return r
    cdef WengertList w = <WengertList>o
    return tg_objvec_traverse(&w.node_objs, visit, arg)


cdef int _wl_clear(PyObject *o) noexcept:
    # Like release(): a tape the collector clears is unreachable, but a
    # finalizer in the same cycle may still call it; it must find it empty.
    cdef WengertList w = <WengertList>o
    w.released = True
    w.generation += 1
    w._free_nodes()
    w.n_slots = 0
    w = None
    if tg_wl_base_clear != NULL:
        tg_wl_base_clear(o)
    return 0


cdef int _install_wengert_gc() except -1:
    global tg_wl_base_traverse, tg_wl_base_clear
    cdef PyTypeObject *tp = <PyTypeObject *>WengertList
    if not (tp.tp_flags & Py_TPFLAGS_HAVE_GC):
        raise ImportError("tapegrad: WengertList was compiled without garbage-collector support")
    if tp.tp_traverse != <traverseproc>_wl_traverse:
        tg_wl_base_traverse = tp.tp_traverse
        tg_wl_base_clear = tp.tp_clear
        tp.tp_traverse = <traverseproc>_wl_traverse
        tp.tp_clear = <inquiry>_wl_clear
    return 0


_install_wengert_gc()


cdef inline Py_ssize_t _ndim(object x):
    if isinstance(x, Tensor):
        x = (<Tensor>x)._value
    if isinstance(x, ndarray):
        return cnp.PyArray_NDIM(<cnp.ndarray>x)
    return np.ndim(x)


cdef inline object _unwrap(object x):
    cdef type tp = type(x)
    if tp is ndarray or tp is float64 or x is None:   # raw already (no walk of float64's long MRO)
        return x
    if isinstance(x, Tensor):
        return (<Tensor>x)._value
    if type(x) is tuple:
        return _unwrap_tuple(x)
    return x


cdef inline tuple _unwrap_tuple(tuple xs):
    cdef Py_ssize_t i, n = len(xs)
    if n == 1:
        x = xs[0]
        return ((<Tensor>x)._value,) if isinstance(x, Tensor) else xs
    if n == 2:
        x, y = xs
        return (_unwrap(x), _unwrap(y))
    return tuple([(<Tensor>x)._value if isinstance(x, Tensor) else x for x in xs])


# ---- cotangents with known structure (raw values only) ---------------------
# A broadcast 1 (reduce_sum's gradient of a scalar seed of 1) times a factor f
# is f; a Jacobian's identity seed stays its diagonal through elementwise ops.
# Both shortcuts give the general rule's bits (g * f with g == 1 is f; the
# dense batch's off-diagonal entries are 0 * f == 0 while f is finite, which
# is checked), tests/test_structured_cotangents.py runs both paths.

cdef bint _structured = True


# ---- small elementwise calls in C (issue 15, W9) -----------------------------
# csrc/tg_small.h makes a ufunc call on small, plain float64/float32 arrays
# itself with NumPy's own inner loop (the same bits), declining where NumPy
# could do anything else (subclasses, broadcasting, other dtypes, 0-d, a
# floating-point flag NumPy would report).  _small_call is the one entry;
# the ufuncs it knows, and the operator functions that are those ufuncs on
# ndarrays (the binary ops' forwards), are registered here.
import operator as _operator

for _key, _uf in ((_operator.mul, np.multiply), (_operator.add, np.add), (_operator.sub, np.subtract),
                  (_operator.truediv, np.true_divide), (_operator.neg, np.negative)):
    if type(_uf) is np.ufunc:
        tg_small_register(_key, _uf)
for _uf in (np.multiply, np.add, np.true_divide, np.negative, np.subtract, np.sin, np.cos, np.sinh, np.cosh,
            np.log, np.exp, np.tanh, np.sqrt, np.square, np.reciprocal):
    if type(_uf) is np.ufunc:
        tg_small_register(_uf, _uf)


cdef inline object _small_call(object uf, PyObject *a, PyObject *b):
    """uf(a) (b NULL) or uf(a, b) made in C where tg_small_call takes it
    (NumPy's bits, see csrc/tg_small.h), else None: the caller calls uf.
    Off with structured_cotangents(False)."""
    if not _structured or not tg_small_maybe(a, b):
        return None
    return tg_small_call(uf, a, b)


def small_ufunc_call(uf, a, b=None):
    """``uf(a)`` (b None) or ``uf(a, b)`` as the core makes it on small
    arrays (for tests): a new array with NumPy's bits, or None where the C
    kernel declines and the core would call the ufunc."""
    return _small_call(uf, <PyObject *>a, NULL if b is None else <PyObject *>b)


# ---- rule forms (raw values) -------------------------------------------------
# An op may declare each VJP rule a second time as a form (Op.vjp_forms),
# compiled here into a postfix program (csrc/tg_forms.h).  On raw values the
# sweep runs it instead of the rule's Python frame: on arrays by calling the
# same ufunc objects through vectorcall (what the rule's operators call), on
# float64 scalars in C doubles with NumPy's own float64 loop for any other
# ufunc.  tests/test_rule_forms.py checks every form against its rule.

cdef PyObject *_form_op = NULL     # the op whose form is running (borrowed), else NULL


def running_form():
    """The op whose VJP form the sweep is running, or None: NumPy's
    floating-point warnings raised inside a form have no rule frame to name
    the op (tapegrad._callsite asks here)."""
    return None if _form_op == NULL else <object>_form_op


cdef dict _FORM_LEAVES = {"g": (TG_F_G, 0), "ans": (TG_F_ANS, 0), "x": (TG_F_IN, 0), "y": (TG_F_IN, 1)}
cdef dict _FORM_BINARY = {np.add: TG_S_ADD, np.subtract: TG_S_SUB, np.multiply: TG_S_MUL, np.true_divide: TG_S_DIV}


cdef int _compile_forms(Op op, tuple forms) except -1:
    cdef Py_ssize_t n = op.n_in
    cdef list refs = []
    cdef int i
    if op.kind != _UNARY and op.kind != _BINARY:
        raise ValueError(f"op {op.name!r}: vjp_forms are for unary and binary ops")
    if len(forms) != n:
        raise ValueError(f"op {op.name!r}: {len(forms)} vjp_forms for {n} inputs")
    for i in range(n):
        if forms[i] is None:
            continue
        op._forms[i].scalar = 1
        op._forms[i].reads = 0
        op._forms[i].numpy_reads = 0
        try:
            _emit_form(op, &op._forms[i], forms[i], refs, 0)
            _python_operands(op, &op._forms[i], forms[i])
        except ValueError as e:
            op._forms[0].len = op._forms[1].len = 0
            raise ValueError(f"op {op.name!r}: vjp_forms[{i}] {forms[i]!r}: {e}") from None
        if op.reads is not None and (op._forms[i].reads >> 1) & ~op.reads[i]:
            op._forms[0].len = op._forms[1].len = 0
            raise ValueError(f"op {op.name!r}: vjp_forms[{i}] reads an input its rule does not (reads=)")
        if op._forms[i].reads & 1 and not op.save & _SAVE_ANS or \
                op._forms[i].reads & 6 and not op.save & _SAVE_INPUTS:
            op._forms[0].len = op._forms[1].len = 0
            raise ValueError(f"op {op.name!r}: vjp_forms[{i}] reads a value the op does not save")
    op._form_refs = tuple(refs)
    op.vjp_forms = forms
    return 0


cdef int _emit_form(Op op, tg_form *f, object node, list refs, int depth) except -1:
    """Append node's steps to f; returns the stack depth it reaches."""
    cdef tg_step *s
    cdef int k, d, code, arg, nargs
    if f.len >= TG_FORM_MAX or depth >= TG_FORM_MAX:
        raise ValueError(f"more than {TG_FORM_MAX} steps")
    if type(node) is str:
        if node not in _FORM_LEAVES:
            raise ValueError(f"unknown leaf {node!r} (g, ans, x, y)")
        code, arg = _FORM_LEAVES[node]
        if code == TG_F_IN and arg >= op.n_in:
            raise ValueError(f"the op has no input {node!r}")
        s = &f.steps[f.len]
        s.code, s.arg, s.sop = code, arg, TG_S_NONE
        f.reads |= 1 if code == TG_F_ANS else (2 << arg if code == TG_F_IN else 0)
        f.len += 1
        return depth + 1
    if type(node) is float or type(node) is int:
        refs.append(node)
        s = &f.steps[f.len]
        s.code, s.arg, s.sop, s.c, s.obj = TG_F_CONST, 0, TG_S_NONE, float(node), <PyObject *>node
        f.len += 1
        return depth + 1
    if type(node) is tuple and len(node) in (2, 3) and isinstance(node[0], np.ufunc):
        uf = node[0]
        nargs = len(node) - 1
        if uf.nin != nargs or uf.nout != 1:
            raise ValueError(f"{uf.__name__} takes {uf.nin} argument(s)")
        d = depth
        for k in range(nargs):
            d = max(d, _emit_form(op, f, node[1 + k], refs, depth + k))
        if f.len >= TG_FORM_MAX:
            raise ValueError(f"more than {TG_FORM_MAX} steps")
        refs.append(uf)
        s = &f.steps[f.len]
        s.code, s.arg, s.obj = (TG_F_CALL1 if nargs == 1 else TG_F_CALL2), 0, <PyObject *>uf
        if nargs == 2:
            s.sop = _FORM_BINARY.get(uf, TG_S_NONE)
        elif uf is np.negative:
            s.sop = TG_S_NEG
        else:
            s.sop = TG_S_LOOP if _float64_loop(uf, s) else TG_S_NONE
        if s.sop == TG_S_NONE:
            f.scalar = 0
        f.len += 1
        return d
    raise ValueError(f"{node!r} is not a leaf, a number or (ufunc, args)")


cdef bint _python_operands(Op op, tg_form *f, object node) except -1:
    """A ufunc called on Python numbers only returns a NumPy scalar where the
    rule's operator stays in Python (``-x`` of a Python float constant, which
    then divides a float32 array as a weak scalar).  Every step of a form must
    therefore have a NumPy operand: g, ans or a step's result always are; an
    input may be a Python float (a constant), so the inputs a step takes with
    nothing else NumPy go to f.numpy_reads, which must be NumPy values for the
    form to run on arrays.  Returns whether node's value is NumPy for sure."""
    if type(node) is str:
        return node == "g" or node == "ans"
    if type(node) is not tuple:
        return False
    cdef bint sure = False
    for a in node[1:]:
        if _python_operands(op, f, a):
            sure = True
    if not sure:
        leaves = [a for a in node[1:] if type(a) is str]
        if not leaves:
            raise ValueError(f"({node[0].__name__}, ...) takes numbers only")
        for a in leaves:
            f.numpy_reads |= 2 << _FORM_LEAVES[a][1]
    return True


cdef bint _float64_loop(object uf, tg_step *s):
    """NumPy's own float64 -> float64 inner loop of a one-input ufunc (the
    loop np.cos runs on a float64), into s; False if it has none."""
    cdef void *loop = NULL
    cdef void *data = NULL
    if not tg_float64_loop(uf, &loop, &data):
        return False
    s.loop = <tg_loop_fn>loop
    s.data = data
    return True


cdef inline bint _form_leaf_ok(object x):
    """A value a form may take where the rule's operators took it: a real
    floating-point array or scalar, or a Python float."""
    cdef type tp = type(x)
    if tp is float64 or tp is float:
        return True
    if tp is ndarray:
        return cnp.PyArray_ISFLOAT(<cnp.ndarray>x)
    return isinstance(x, np.floating)


cdef bint _form_operands(Op op, int32_t *targets, Py_ssize_t n_in, object g, object ans, PyObject **ins):
    """The values the forms of the inputs that want a gradient read (and g)
    are all real floating point, and NumPy values where a form needs them to
    be (numpy_reads).  (A value no such form reads may be unsaved: None.)"""
    cdef int reads = 0, numpy_reads = 0
    cdef Py_ssize_t i
    for i in range(n_in):
        if targets[i] >= 0:
            reads |= op._forms[i].reads
            numpy_reads |= op._forms[i].numpy_reads
    if not _form_leaf_ok(g):
        return False
    if reads & 1 and not _form_leaf_ok(ans):
        return False
    if reads & 2 and not (_form_leaf_ok(<object>ins[0]) and not (numpy_reads & 2 and type(<object>ins[0]) is float)):
        return False
    return not (reads & 4 and not (_form_leaf_ok(<object>ins[1])
                                   and not (numpy_reads & 4 and type(<object>ins[1]) is float)))


cdef object _form_value(Op op, int i, object g, object ans, PyObject **ins, Accumulator acc,
                        tuple tensors):
    """Form i on raw values: each step calls its ufunc object (vectorcall),
    as the rule's operators do.  With an `acc` (forward mode: `tensors` are
    the op's inputs; the sweep passes None), a one-input ufunc applied to an
    input is acc._memo_call."""
    cdef tg_form *f = &op._forms[i]
    cdef PyObject *st[TG_FORM_MAX]
    cdef PyObject *p
    cdef int sp = 0, k, nargs
    cdef object r
    try:
        for k in range(f.len):
            code = f.steps[k].code
            if code == TG_F_G:
                p = <PyObject *>g
            elif code == TG_F_ANS:
                p = <PyObject *>ans
            elif code == TG_F_IN:
                p = ins[f.steps[k].arg]
            elif code == TG_F_CONST:
                p = f.steps[k].obj
            else:
                nargs = 1 if code == TG_F_CALL1 else 2
                if acc is not None and nargs == 1 and f.steps[k - 1].code == TG_F_IN:
                    r = acc._memo_call(<object>f.steps[k].obj, tensors[f.steps[k - 1].arg], <object>st[sp - 1])
                else:
                    r = _small_call(<object>f.steps[k].obj, st[sp - nargs], st[sp - 1] if nargs == 2 else NULL)
                    if r is None:
                        r = PyObject_Vectorcall(<object>f.steps[k].obj, &st[sp - nargs], nargs, NULL)
                while nargs:
                    sp -= 1
                    nargs -= 1
                    p = st[sp]
                    st[sp] = NULL
                    Py_XDECREF(p)
                p = <PyObject *>r
            Py_INCREF(<object>p)
            st[sp] = p
            sp += 1
        return <object>st[0]
    finally:
        while sp:
            sp -= 1
            Py_XDECREF(st[sp])


cdef int _run_forms(WengertList w, Op op, Py_ssize_t k, object g, object params, PyObject **grads, char *reach,
                    object batch) except -1:
    """Node k's rules from its op's forms on raw values, read straight from
    the node's entries (no saved-input tuple, no rule call): 1 when done, 0
    to take the general path (_call_rules, which runs no forms), with nothing
    touched.  The one place forms run on raw values.  Declines where
    _call_rules takes another shortcut first (a unit cotangent or a fresh
    factor on an ndarray, a diagonal cotangent), where an input that wants a
    gradient has no form, where a value a form reads is not real floating
    point, and where a float64 scalar's forms decline in C (a flag NumPy
    would report: the rules run and report it)."""
    cdef type gt = type(g)
    cdef Py_ssize_t i, i0 = w.in_start.data[k], n_in = w.in_start.data[k + 1] - w.in_start.data[k]
    cdef Py_ssize_t batch_ndim = 0 if batch is None else len(<tuple>batch)
    cdef PyObject **objs = &w.node_objs.data[w.node_start.data[k]]
    cdef PyObject *raw[2]
    cdef PyObject *p
    cdef int32_t targets[2]
    cdef int32_t s
    cdef object ans = None, gi
    global _form_op
    if n_in > 2:
        return 0
    if gt is ndarray:
        # _call_rules' unit-cotangent and fresh-factor shortcuts come first, except for
        # constant factors (add's 1.0): there those shortcuts end in the rule, whose
        # form this is (g: the same object).
        if op.factors is not None and not op._constant_factors and (
                _is_unit(g) or (_real_float(g) and _n_elements(<cnp.ndarray>g) >= _FRESH_FACTOR_MIN)):
            return 0
    elif gt is _Diag:
        return 0
    for i in range(n_in):
        s = w.in_slot.data[i0 + i]
        targets[i] = s if s >= 0 and reach[s] else -1
        if targets[i] >= 0 and op._forms[i].len == 0:
            return 0
    # The saved values (layout above _saved_inputs), raw; borrowed: the
    # node's entries hold them until the sweep has passed the node.
    raw[0] = raw[1] = <PyObject *>None
    p = NULL
    if op.save & _SAVE_INPUTS:
        for i in range(n_in):
            if objs[1 + i] != NULL:
                raw[i] = (<PyObject *>(<Tensor>objs[1 + i])._value if _is_tensor(<object>objs[1 + i])
                          else objs[1 + i])
        if op.save & _SAVE_ANS:
            p = objs[1 + n_in]
    elif op.save & _SAVE_ANS:
        p = objs[1]
    if p != NULL:
        ans = _unwrap(<object>p)
    if gt is float64 and params is None:
        return _scalar_forms(op, targets, n_in, g, ans, raw, grads)
    if not _form_operands(op, targets, n_in, g, ans, raw):
        return 0
    for i in range(n_in):
        if targets[i] < 0:
            continue
        _form_op = <PyObject *>op           # for a floating-point warning's message
        try:
            gi = _form_value(op, <int>i, g, ans, raw, None, None)
        finally:
            _form_op = NULL
        if params is not None:
            gi = _sum_to_input(gi, <tuple>params, i, batch_ndim)
        _accumulate(grads, targets[i], gi)
    return 1


cdef int _scalar_forms(Op op, int32_t *targets, Py_ssize_t n_in, object g, object ans, PyObject **ins,
                       PyObject **grads) except -1:
    """An op's forms on a float64 scalar cotangent and float64 (or Python
    float) operands, in C doubles: 1 when done, 0 to leave it to the rules,
    before touching grads (see scalar_form_values)."""
    cdef double r[2]
    cdef bint wanted[2]
    cdef bint passes[2]
    cdef int i
    for i in range(n_in):
        wanted[i] = targets[i] >= 0
    if not scalar_form_values(op, wanted, n_in, g, ans, ins, r, passes):
        return 0
    for i in range(n_in):
        if targets[i] >= 0:
            _accumulate(grads, targets[i], g if passes[i] else tg_float64(r[i]))
    return 1


cdef int scalar_form_values(Op op, const bint *wanted, Py_ssize_t n_in, object g, object ans,
                            PyObject **ins, double *r, bint *passes) except -1:
    """The wanted inputs' gradients by op's forms, on a float64 scalar
    cotangent g and float64 (or Python float) operands, in C doubles: 1 when
    every one ran (r[i], or passes[i]: a form that is just "g" hands on g
    itself, as its rule does), 0 to leave them all to the rules (no form,
    another operand type, or a floating-point flag NumPy would report).
    Shared with tapegrad._graph's sweep, so both give the same bits."""
    cdef double leaves[4]
    cdef int i, reads = 0
    for i in range(n_in):
        if wanted[i]:
            if op._forms[i].len == 0 or not op._forms[i].scalar:
                return 0
            reads |= op._forms[i].reads
    leaves[0] = PyFloat_AS_DOUBLE(g)
    if reads & 1:
        if type(ans) is not float64 and type(ans) is not float:
            return 0
        leaves[1] = PyFloat_AS_DOUBLE(ans)
    for i in range(n_in):
        if reads & (2 << i):
            o = <object>ins[i]
            if type(o) is not float64 and type(o) is not float:
                return 0
            leaves[2 + i] = PyFloat_AS_DOUBLE(o)
    tg_fpe_clear(leaves)
    for i in range(n_in):
        passes[i] = op._forms[i].len == 1 and op._forms[i].steps[0].code == TG_F_G
        if wanted[i] and not passes[i]:
            tg_form_eval_double(&op._forms[i], leaves, &r[i])
    if tg_fpe_test(r):
        return 0
    return 1


def structured_cotangents(bint enabled):
    """Switch the shortcuts below and tensor mode's (_call_rules_unrecorded,
    _call_rules_unit_tensor) on or off (for tests that run both paths on the
    same program); returns the previous setting."""
    global _structured
    cdef bint was = _structured
    _structured = enabled
    return was


@cython.final
cdef class _Diag:
    """A batch of cotangents kept as its diagonal: the dense batch has shape
    (d.size,) + d.shape, and its row b is d.flat[b] times the b-th unit tensor
    of d's shape.  Never given to a rule or returned: densified first."""
    cdef readonly object d

    def __cinit__(self, d):
        self.d = d


cdef object _ones(tuple shape, object dtype):
    """np.ones, without its Python frame."""
    cdef object d = np.empty(shape, dtype=dtype)
    d.fill(1)
    return d


cdef object _identity_diag(object seed, Py_ssize_t batch_ndim):
    """The identity batch `seed` (shape (n,) + shape, n = size of shape) as a
    _Diag of ones, or the seed itself where that does not apply (a _Diag
    the sweep made for a caller that left the identity to it stays one)."""
    if type(seed) is _Diag:
        return seed
    if (type(seed) is not ndarray or batch_ndim != 1 or cnp.PyArray_NDIM(<cnp.ndarray>seed) < 1
            or (<object>seed).dtype.kind != "f"):
        return seed
    cdef tuple shape = (<object>seed).shape[1:]
    if (<object>seed).shape[0] != _prod(shape):
        return seed
    return _Diag(_ones(shape, (<object>seed).dtype))


cdef inline Py_ssize_t _prod(tuple shape):
    cdef Py_ssize_t n = 1
    for k in shape:
        n *= <Py_ssize_t>k
    return n


cdef object _diag_dense(_Diag g):
    """The dense batch a _Diag stands for."""
    cdef object d = g.d
    cdef Py_ssize_t n = d.size
    out = np.zeros((n,) + d.shape, dtype=d.dtype)
    out.reshape(-1)[::n + 1] = d.reshape(-1)
    return out


cdef object _diag_add(object a, object b):
    """a + b where one or both are _Diag (of the same batch)."""
    cdef object d
    if type(a) is _Diag and type(b) is _Diag and (<_Diag>a).d.shape == (<_Diag>b).d.shape:
        return _Diag((<_Diag>a).d + (<_Diag>b).d)
    if type(a) is _Diag:
        a, b = b, a
    if type(a) is _Diag or type(a) is not ndarray:
        return (_diag_dense(<_Diag>a) if type(a) is _Diag else a) + _diag_dense(<_Diag>b)
    d = (<_Diag>b).d
    cdef Py_ssize_t n = d.size
    if (<object>a).shape != (n,) + d.shape or (<object>a).dtype != d.dtype:
        return a + _diag_dense(<_Diag>b)
    out = np.array(a, order="C", copy=True)     # C-contiguous: its flat view is a view
    flat = out.reshape(-1)
    flat[::n + 1] += d.reshape(-1)
    return out


cdef inline bint _all_finite(object x):
    """No inf or nan in the real array x.  A contiguous float64 or float32
    array is read in C: an element is inf or nan exactly when its exponent
    bits are all ones, an integer test the compiler vectorises (a 64 x 64
    matrix in a fraction of a microsecond, where a NumPy reduction costs a
    call and a pass of pairwise sums).  Any other array takes one reduction
    (a sum of finite numbers is finite or overflows, which only makes it
    conservative)."""
    cdef cnp.ndarray a
    cdef int tn
    if type(x) is ndarray:
        a = <cnp.ndarray>x
        tn = cnp.PyArray_TYPE(a)
        if ((tn == cnp.NPY_DOUBLE or tn == cnp.NPY_FLOAT) and cnp.PyArray_ISBEHAVED_RO(a)
                and (cnp.PyArray_IS_C_CONTIGUOUS(a) or cnp.PyArray_IS_F_CONTIGUOUS(a))):
            if tn == cnp.NPY_DOUBLE:
                return _finite_bits(<const uint64_t *>cnp.PyArray_DATA(a), _n_elements(a))
            return _finite_bits(<const uint32_t *>cnp.PyArray_DATA(a), _n_elements(a))
    cdef double s = np.add.reduce(x, axis=None)
    return s - s == 0.0


ctypedef fused _float_bits:          # the bits of a float32 or a float64
    uint32_t
    uint64_t


cdef inline bint _finite_bits(const _float_bits *p, Py_ssize_t n) noexcept nogil:
    # (x & exponent) + the exponent's lowest bit carries into the sign bit
    # exactly when the exponent bits are all ones: and, add, or, no branch
    # and no compare, so the loop vectorises.
    cdef _float_bits exponent, lowest, acc = 0
    cdef Py_ssize_t k
    if _float_bits is uint64_t:
        exponent, lowest = 0x7ff0000000000000ULL, 0x0010000000000000ULL
    else:
        exponent, lowest = 0x7f800000U, 0x00800000U
    for k in range(n):
        acc |= (p[k] & exponent) + lowest
    return (acc >> (8 * sizeof(_float_bits) - 1)) == 0


cdef inline void _scale_row(cython.floating *o, const cython.floating *a, cython.floating f,
                            Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):                 # (f a local: the stores cannot change it, so this vectorises)
        o[j] = f * a[j]


def scaled_rows(d, a):
    """``d * a`` for a column d (m, 1) and a matrix a (m, n): row i of a
    scaled by d[i] (a Jacobian's diagonal cotangents through a
    matrix-vector product), or None when a product is inf or nan.  For
    contiguous float64 or float32 operands of one dtype one C loop makes
    the products and checks them (the same IEEE products NumPy makes; its
    broadcast multiply walks the rows one inner loop at a time), else NumPy's
    multiply and _all_finite."""
    cdef cnp.ndarray A, D, out
    cdef Py_ssize_t m, n, i
    cdef int tn
    cdef double *o64
    cdef const double *a64
    cdef const double *d64
    cdef float *o32
    cdef const float *a32
    cdef const float *d32
    if type(a) is ndarray and type(d) is ndarray:
        A, D = <cnp.ndarray>a, <cnp.ndarray>d
        tn = cnp.PyArray_TYPE(A)
        if (cnp.PyArray_NDIM(A) == 2 and (tn == cnp.NPY_DOUBLE or tn == cnp.NPY_FLOAT)
                and cnp.PyArray_TYPE(D) == tn and cnp.PyArray_NDIM(D) == 2 and cnp.PyArray_DIMS(D)[1] == 1
                and cnp.PyArray_DIMS(D)[0] == cnp.PyArray_DIMS(A)[0]
                and cnp.PyArray_IS_C_CONTIGUOUS(A) and cnp.PyArray_IS_C_CONTIGUOUS(D)
                and cnp.PyArray_ISBEHAVED_RO(A) and cnp.PyArray_ISBEHAVED_RO(D)):
            m, n = cnp.PyArray_DIMS(A)[0], cnp.PyArray_DIMS(A)[1]
            out = <cnp.ndarray>np.empty((m, n), dtype=a.dtype)
            if tn == cnp.NPY_DOUBLE:
                o64, a64, d64 = <double *>cnp.PyArray_DATA(out), <const double *>cnp.PyArray_DATA(A), \
                    <const double *>cnp.PyArray_DATA(D)
                for i in range(m):
                    _scale_row(o64 + i * n, a64 + i * n, d64[i], n)
                return out if _finite_bits(<const uint64_t *>o64, m * n) else None
            o32, a32, d32 = <float *>cnp.PyArray_DATA(out), <const float *>cnp.PyArray_DATA(A), \
                <const float *>cnp.PyArray_DATA(D)
            for i in range(m):
                _scale_row(o32 + i * n, a32 + i * n, d32[i], n)
            return out if _finite_bits(<const uint32_t *>o32, m * n) else None
    rows = d * a
    return rows if _all_finite(rows) else None


def all_finite(x):
    """True when the real float array x holds no inf or nan (the check the
    Jacobian's diagonal rules make before keeping a product diagonal)."""
    return _all_finite(x)


cdef inline Py_ssize_t _n_elements(cnp.ndarray a) noexcept:
    """PyArray_SIZE without its out-of-line call."""
    cdef Py_ssize_t n = 1
    cdef int k
    for k in range(cnp.PyArray_NDIM(a)):
        n *= cnp.PyArray_DIMS(a)[k]
    return n


cdef inline bint _is_unit(object g):
    """g is a broadcast view of one real 1.0 (every stride 0)."""
    if type(g) is not ndarray:
        return False
    cdef cnp.ndarray a = <cnp.ndarray>g
    cdef int k, nd = cnp.PyArray_NDIM(a)
    cdef int tn = cnp.PyArray_TYPE(a)
    if nd == 0 or not (tn == cnp.NPY_DOUBLE or tn == cnp.NPY_FLOAT):
        return False
    for k in range(nd):                # (first: most cotangents fail here, cheaply)
        if cnp.PyArray_STRIDES(a)[k] != 0:
            return False
    if _n_elements(a) == 0 or not cnp.PyArray_ISBEHAVED_RO(a):   # (aligned, native byte order: read below)
        return False
    if tn == cnp.NPY_DOUBLE:
        return (<double *>cnp.PyArray_DATA(a))[0] == 1.0
    return (<float *>cnp.PyArray_DATA(a))[0] == 1.0


cdef inline object _factor_of(Op op, Py_ssize_t i, object ans, tuple ins):
    cdef object fac = op.factors[i]
    if fac is None or type(fac) is float:
        return fac
    if op.calling == _CALL_UNARY:
        return fac(ans, ins[0])
    return fac(ans, ins[0], ins[1])


cdef int _call_rules_diag(Op op, int32_t *targets, Py_ssize_t n_in, _Diag g, object ans, tuple ins,
                          object params, PyObject **grads, Py_ssize_t batch_ndim) except -1:
    """WengertList._call_rules for a Jacobian's diagonal cotangents (raw values
    only, not a joint rule): each input keeps them diagonal where the op allows
    it, else gets the general rule applied to the dense batch (built once)."""
    cdef Py_ssize_t i
    cdef object gi, dense = None
    for i in range(n_in):
        if targets[i] < 0:
            continue
        gi = _diag_vjp(op, i, g, ans, ins, params)
        if gi is None:
            if dense is None:
                dense = _diag_dense(g)
            gi = _vjp_of(op, i, dense, ans, ins, params, batch_ndim)
            if gi is None:
                continue
        _accumulate(grads, targets[i], gi)
    return 0


cdef object _unit_vjp(Op op, Py_ssize_t i, object g, object ans, tuple ins, object params):
    """Input i's gradient for a broadcast-1 cotangent g: the factor itself when
    it is an array of g's shape and dtype (g * f would be f), else the rule."""
    cdef object f = _factor_of(op, i, ans, ins), shape
    if (type(f) is ndarray and cnp.PyArray_TYPE(<cnp.ndarray>f) == cnp.PyArray_TYPE(<cnp.ndarray>g)
            and _same_shape(f, g)):
        if params is not None:
            shape = (<tuple>params)[i]
            if shape is not None:
                return sum_to_shape(f, shape, 0)
        return f
    return _vjp_of(op, i, g, ans, ins, params, 0)


# Below this many elements an allocation is cheap (NumPy's cache, pymalloc)
# and asking for the factor first would only add a call per node (W1, W2).
cdef Py_ssize_t _FRESH_FACTOR_MIN = 4096


cdef inline bint _real_float(object g):
    cdef int tn = cnp.PyArray_TYPE(<cnp.ndarray>g)
    return tn == cnp.NPY_DOUBLE or tn == cnp.NPY_FLOAT


cdef object _factor_vjp(Op op, Py_ssize_t i, object g, object ans, tuple ins, object params,
                        Py_ssize_t batch_ndim):
    """Input i's gradient g * f (g a real float array) for an op with factors:
    when the factor is a fresh array of g's shape and dtype that nobody else
    holds (sin's cos(x), tanh's 1 - y*y), the product goes into it, one
    allocation and one pass over new memory fewer than the rule's g * f
    (the same bits: g * f and f * g are one IEEE product).  Else the rule."""
    cdef object f
    if op.calling == _CALL_BINARY and params is not None and (<tuple>params)[i] is not None:
        return _vjp_of(op, i, g, ans, ins, params, batch_ndim)     # a broadcast input: the rule sums it back
    f = _factor_of(op, i, ans, ins)
    if (type(f) is ndarray and Py_REFCNT(f) == 1 and cnp.PyArray_TYPE(<cnp.ndarray>f) == cnp.PyArray_TYPE(<cnp.ndarray>g)
            and _same_shape(f, g) and cnp.PyArray_BASE(<cnp.ndarray>f) == NULL
            and cnp.PyArray_CHKFLAGS(<cnp.ndarray>f, cnp.NPY_ARRAY_WRITEABLE | cnp.NPY_ARRAY_OWNDATA)):
        return _multiply(g, f, out=f)
    return _vjp_of(op, i, g, ans, ins, params, batch_ndim)


# The blocked product below works on slices of this many bytes: a block of
# the cotangent, the saved value(s) and the factor stay in the core's L2 cache
# (512 KB here) between computing the factor and multiplying it in.  Only for
# cotangents of at least four blocks: smaller ones take _factor_vjp.
cdef Py_ssize_t _FACTOR_BLOCK_BYTES = 1 << 18


cdef inline bint _nbytes_at_least(cnp.ndarray a, Py_ssize_t limit) noexcept:
    """a.nbytes >= limit, from the dimensions (no call into NumPy's API)."""
    cdef Py_ssize_t n = cnp.PyArray_ITEMSIZE(a), i
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(a)
    for i in range(cnp.PyArray_NDIM(a)):
        n *= dims[i]
        if n == 0:
            return False
    return n >= limit


cdef bint _blocked_factor_product(Op op, object g, object ans, tuple ins) except -1:
    """g *= f in place for an elementwise op with a factor (sin's cos(x),
    tanh's 1 - y*y, exp's y), computing f one block at a time: the factor of
    a large cotangent is never materialised whole (for 1e6 float64 elements,
    an 8 MB allocation, its page faults and two passes over memory fewer).
    g must be a fresh array only the sweep holds (the caller checks its
    references); it must also be a C-contiguous, writeable array owning its
    data, and the saved values the factor reads arrays of g's shape, also
    C-contiguous.  f is elementwise, so f of a block is the block of f, and
    g * f is one IEEE product per element: the bits of the rule's g * f.
    Blocks start at multiples of the block size (a multiple of 64 elements),
    so every slice has its array's alignment.  False (g untouched) where any
    of this does not hold or the factor is not an array of g's dtype."""
    cdef cnp.ndarray ga = <cnp.ndarray>g
    cdef int tn = cnp.PyArray_TYPE(ga)
    if not (tn == cnp.NPY_DOUBLE or tn == cnp.NPY_FLOAT):
        return False
    cdef Py_ssize_t n = cnp.PyArray_SIZE(ga), step = _FACTOR_BLOCK_BYTES // cnp.PyArray_ITEMSIZE(ga)
    if n < 4 * step or not cnp.PyArray_CHKFLAGS(ga, cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_WRITEABLE
                                                  | cnp.NPY_ARRAY_OWNDATA) or cnp.PyArray_BASE(ga) != NULL:
        return False
    cdef object x = ins[0], fac = op.factors[0], gf, af = None, xf = None, f, gb
    if ans is None and x is None:
        return False                   # a constant factor (negative's -1)
    for v in (ans, x):
        if v is not None and (type(v) is not ndarray or not _same_shape(v, g)
                              or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>v)):
            return False
    gf = cnp.PyArray_Ravel(ga, cnp.NPY_CORDER)    # views: every array is C-contiguous
    if ans is not None:
        af = cnp.PyArray_Ravel(<cnp.ndarray>ans, cnp.NPY_CORDER)
    if x is not None:
        xf = cnp.PyArray_Ravel(<cnp.ndarray>x, cnp.NPY_CORDER)
    cdef Py_ssize_t b0, b1
    for b0 in range(0, n, step):
        b1 = min(b0 + step, n)
        f = fac(None if af is None else af[b0:b1], None if xf is None else xf[b0:b1])
        if type(f) is not ndarray or cnp.PyArray_TYPE(<cnp.ndarray>f) != tn or cnp.PyArray_NDIM(<cnp.ndarray>f) != 1 \
                or cnp.PyArray_DIMS(<cnp.ndarray>f)[0] != b1 - b0:
            if b0 == 0:
                return False
            # f is elementwise: a later block cannot differ from the first
            raise RuntimeError(f"tapegrad: the factor of {op.name!r} changed kind between blocks")
        gb = gf[b0:b1]
        _multiply(gb, f, out=gb)
    return True


cdef object _rule_product(Op op, object g, object f):
    """g * f, the product an op's rule `g * f` makes, with NumPy's floating-point
    warnings naming op as the rule's would: the warning handler asks
    running_form() for the op when no rule frame is running (as for a form)."""
    global _form_op
    cdef PyObject *was = _form_op
    _form_op = <PyObject *>op
    try:
        r = _small_call(_multiply, <PyObject *>g, <PyObject *>f)
        return g * f if r is None else r
    finally:
        _form_op = was


cdef object _quiet_product(object d, object f):
    """d * f for two C-contiguous arrays of one shape and float dtype, made in
    C (NumPy's IEEE products, and no floating-point warning: the caller sees
    inf or nan in the result and falls back to the rule, which warns as the
    general path does), or None for any other pair."""
    cdef cnp.ndarray D, F, out
    cdef int tn
    cdef Py_ssize_t n
    if type(d) is not ndarray or type(f) is not ndarray:
        return None
    D, F = <cnp.ndarray>d, <cnp.ndarray>f
    tn = cnp.PyArray_TYPE(D)
    if (cnp.PyArray_TYPE(F) != tn or not (tn == cnp.NPY_DOUBLE or tn == cnp.NPY_FLOAT) or not _same_shape(d, f)
            or not (cnp.PyArray_IS_C_CONTIGUOUS(D) and cnp.PyArray_IS_C_CONTIGUOUS(F))
            or not (cnp.PyArray_ISBEHAVED_RO(D) and cnp.PyArray_ISBEHAVED_RO(F))):
        return None
    out = <cnp.ndarray>np.empty(d.shape, dtype=d.dtype)
    n = _n_elements(D)
    if tn == cnp.NPY_DOUBLE:
        _multiply64(<double *>cnp.PyArray_DATA(out), <const double *>cnp.PyArray_DATA(D),
                    <const double *>cnp.PyArray_DATA(F), n)
    else:
        _multiply32(<float *>cnp.PyArray_DATA(out), <const float *>cnp.PyArray_DATA(D),
                    <const float *>cnp.PyArray_DATA(F), n)
    return out


cdef inline void _multiply64(double *o, const double *a, const double *b, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(n):
        o[k] = a[k] * b[k]


cdef inline void _multiply32(float *o, const float *a, const float *b, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(n):
        o[k] = a[k] * b[k]


cdef object _diag_vjp(Op op, Py_ssize_t i, _Diag g, object ans, tuple ins, object params):
    """Input i's gradient for diagonal cotangents g: a _Diag, a dense batched
    gradient, or None (use the general rule on the dense batch)."""
    cdef object f, d2, r, d = g.d
    if op.factors is not None:
        if op.calling == _CALL_BINARY and params is not None and (<tuple>params)[i] is not None:
            return None                # input i was broadcast: not one-to-one
        f = _factor_of(op, i, ans, ins)
        if type(f) is float:
            if f == 1.0:
                return g
            if not f - f == 0.0:
                return None
        elif type(f) is not ndarray or not _same_shape(f, d):
            return None
        elif cnp.PyArray_TYPE(<cnp.ndarray>f) == cnp.PyArray_TYPE(<cnp.ndarray>d) and not _all_finite(f):
            # inf or nan in the factor: the dense batch times f is the rule's own product (g * f),
            # with its warnings; running the rule would compute the factor, and warn, a second time.
            return _rule_product(op, _diag_dense(g), f)
        d2 = _quiet_product(d, f) if type(f) is ndarray else None
        if d2 is None:
            d2 = d * f                 # (another layout or a float factor: NumPy's product, as before)
        if type(d2) is not ndarray or cnp.PyArray_TYPE(<cnp.ndarray>d2) != cnp.PyArray_TYPE(<cnp.ndarray>d):
            return None
        if not _all_finite(d2):
            # Products that overflow: the rule's own product on the dense batch, with its
            # warnings (d * f was made in C, where nothing warns).
            return _rule_product(op, _diag_dense(g), f)
        return _Diag(d2)
    if op.diag_vjps is not None and op.diag_vjps[i] is not None:
        r = op.diag_vjps[i](d, ans, *ins, *(params or ()))
        if r is None:
            return None
        return _Diag(r[1]) if r[0] else r[1]
    return None


# ---- rules in tensor mode that no recorder would see (nested tapes, forward over reverse)
# A rule runs on Tensors in tensor mode so that the recorders still active
# record its ops.  Where no active recorder tracks the cotangent, the saved
# inputs or the output, none of those ops would be recorded (a recorder
# records an op only when it tracks an input), so the rule runs on the raw
# values (the first-order path) and its results are wrapped: the same ops on
# the same values, without a Tensor and a recorder offer per op.  Where only
# the cotangent is untracked and is a broadcast 1, g * f is f (the factor, on
# Tensors and recorded): the multiply would be recorded, but its derivative
# through the untracked g is never asked for.  Both keep the general path's
# values (a float64 scalar op may take NumPy's kernel instead of the math
# module's: within 1 ulp); tests/test_structured_cotangents.py runs both.

cdef inline bint _would_record(object r, int64_t tid):
    """Whether recorder r would record an op reading the tensor with id tid:
    WengertList.tracks and Accumulator.tracks, inlined; a read log records
    nothing; any other recorder is assumed to record."""
    cdef type tp = type(r)
    if tp is WengertList:
        return not (<WengertList>r).released and tg_idmap_get(&(<WengertList>r).slots, tid) >= 0
    if tp is Accumulator:
        return tg_idmap_get(&(<Accumulator>r).index, tid) >= 0
    return tp is not ReadLog


cdef bint _recorded(list stack, object x):
    """Whether an active recorder would record an op that reads x (a Tensor,
    a tuple of them, a raw value or None); True when it cannot tell."""
    if x is None:
        return False
    if type(x) is Tensor:
        for r in stack:
            if _would_record(r, (<Tensor>x)._id):
                return True
        return False
    if type(x) is tuple:
        return _recorded_any(stack, <tuple>x)
    if type(x) is ndarray or type(x) is float or isinstance(x, number):
        return False
    return True                        # a Variable, a sparse gradient, anything else: assume so


cdef bint _recorded_any(list stack, tuple xs):
    for x in xs:
        if _recorded(stack, x):
            return True
    return False


cdef int _call_rules_unseen(Op op, int32_t *targets, Py_ssize_t n_in, object g, object ans, tuple ins,
                            object params, PyObject **grads, Py_ssize_t batch_ndim) except -1:
    """Tensor mode's shortcuts (kept out of WengertList._call_rules, which every
    first-order node runs): 1 if one of them applied the node's rules, else 0."""
    cdef list stack = _thread_stack()
    if _recorded(stack, g):
        return _call_rules_direct(op, targets, g, ins, params, grads)
    if not _recorded(stack, ans) and not _recorded_any(stack, ins):
        _call_rules_unrecorded(op, targets, n_in, g, ans, ins, params, grads, batch_ndim)
        return 1
    if batch_ndim == 0 and op.factors is not None and type(g) is Tensor and _is_unit((<Tensor>g)._value):
        _call_rules_unit_tensor(op, targets, n_in, <Tensor>g, ans, ins, params, grads, batch_ndim)
        return 1
    return _call_rules_direct(op, targets, g, ins, params, grads)


cdef int _call_rules_direct(Op op, int32_t *targets, object g, tuple ins, object params,
                            PyObject **grads) except -1:
    """Tensor mode: the rules whose ops the core knows, applied by calling
    those ops as the Python rule would, in its order: an add's rules return g
    (scalar_vjp "pass"), a multiply's give g * the other input ("scale"), a
    unary op's gives g * factor_op(x) (sin: g * cos(x)).  The same nodes are
    recorded and the same values computed, without the rule's Python frame and
    NumPy's dispatch of np.cos(x) on a Tensor.  For a real cotangent and no
    broadcast input (the complex rules conjugate; sum_to_shape): 1 if applied."""
    cdef Py_ssize_t i
    if type(g) is not Tensor or _complex_value((<Tensor>g)._value):
        return 0
    if op.factor_op is not None and op.calling == _CALL_UNARY:
        if ins[0] is None:
            return 0
        if targets[0] >= 0:
            _accumulate(grads, targets[0], _binary(_op_mul, g, _factor_tensor(op.factor_op, ins[0])))
        return 1
    if op is _op_matvec:
        # b's gradient is the op itself with the transpose flipped (its rule's one apply());
        # a's, if wanted, is left to the rule
        if (targets[0] >= 0 or targets[1] < 0 or not _matvec_params(params) or type(ins[0]) is not Tensor
                or _ndim((<Tensor>g)._value) != 1):
            return 0
        _accumulate(grads, targets[1], apply(op, (ins[0], g), (not (<tuple>params)[0],)))
        return 1
    if op.scalar_vjp == 0 or params is not None:
        return 0
    if op.scalar_vjp == _SCALAR_VJP_SCALE:
        for i in range(2):              # input i's rule reads the other input
            if targets[i] >= 0 and ins[1 - i] is None:
                return 0
    for i in range(2):
        if targets[i] >= 0:
            _accumulate(grads, targets[i], g if op.scalar_vjp == _SCALAR_VJP_PASS else _binary(_op_mul, g, ins[1 - i]))
    return 1


cdef int _call_rules_unrecorded(Op op, int32_t *targets, Py_ssize_t n_in, object g, object ans, tuple ins,
                                object params, PyObject **grads, Py_ssize_t batch_ndim) except -1:
    """WengertList._call_rules in tensor mode for a rule no active recorder
    would see (not a joint rule): the rule on raw values, its results wrapped."""
    cdef Py_ssize_t i
    cdef object gi
    # (the raw values written out, not by _unwrap: a third caller stops the C compiler
    # inlining it into the sweep's hot _run_rules, which costs every first-order node)
    cdef object rg = (<Tensor>g)._value if isinstance(g, Tensor) else \
        tuple([(<Tensor>x)._value if isinstance(x, Tensor) else x for x in <tuple>g]) if type(g) is tuple else g
    cdef object rans = (<Tensor>ans)._value if isinstance(ans, Tensor) else \
        tuple([(<Tensor>x)._value if isinstance(x, Tensor) else x for x in <tuple>ans]) if type(ans) is tuple else ans
    cdef tuple rins = tuple([(<Tensor>x)._value if isinstance(x, Tensor) else x for x in ins])
    cdef bint unit = op.factors is not None and _is_unit(rg)
    for i in range(n_in):
        if targets[i] < 0:
            continue
        if op is _op_reduce_sum and batch_ndim == 0 and _reduce_sum_params(params) and (<tuple>params)[0] is None \
                and (type(rg) is float64 or type(rg) is ndarray and cnp.PyArray_NDIM(<cnp.ndarray>rg) == 0):
            gi = _broadcast_scalar(rg, (<tuple>params)[2])     # the rule's own call, without its two frames
        elif unit:
            gi = _unit_vjp(op, i, rg, rans, rins, params)
        elif op.scalar_vjp == _SCALAR_VJP_PASS and params is None and not _complex_value(rg):
            gi = rg                        # an add's rule returns g itself (no broadcast: params None)
        else:
            gi = _vjp_of(op, i, rg, rans, rins, params, batch_ndim)
        if gi is None:
            continue
        if type(gi) is _sparse_type or not _kept_dtype(gi, rg):
            # A sparse gradient holds Tensors in tensor mode; a raw result of another dtype
            # than g's may be NumPy's promotion, which Tensors do not do: this input's rule
            # on Tensors.
            gi = _vjp_of(op, i, g, ans, ins, params, batch_ndim)
            if gi is None:
                continue
        if not isinstance(gi, Tensor) and type(gi) is not _sparse_type:
            gi = _rewrap(gi, g, rg, ins, rins)
        _accumulate(grads, targets[i], gi)
    return 0


cdef inline bint _kept_dtype(object gi, object rg):
    """A raw rule result of the cotangent's own dtype (a NumPy array or scalar)."""
    if isinstance(gi, Tensor):
        return True
    if not (isinstance(gi, ndarray) or isinstance(gi, generic)) or not (
            isinstance(rg, ndarray) or isinstance(rg, generic)):
        return False
    return _same_dtype(_np_dtype(gi), _np_dtype(rg))


cdef object _rewrap(object gi, object g, object rg, tuple ins, tuple rins):
    """A raw rule result as a Tensor: the cotangent or input it passes through
    (an add's gradient is g itself), else a new Tensor."""
    cdef Py_ssize_t k
    if gi is rg and isinstance(g, Tensor):
        return g
    for k in range(len(rins)):
        if gi is rins[k] and isinstance(ins[k], Tensor):
            return ins[k]
    return _wrap(_own(gi))


cdef int _call_rules_unit_tensor(Op op, int32_t *targets, Py_ssize_t n_in, Tensor g, object ans, tuple ins,
                                 object params, PyObject **grads, Py_ssize_t batch_ndim) except -1:
    """WengertList._call_rules in tensor mode for an untracked broadcast-1
    cotangent g and an op with factors: input i gets its factor (on Tensors,
    recorded) where it has g's shape and dtype, else the rule."""
    cdef Py_ssize_t i
    cdef object gi, f, fv, shape
    cdef object gv = g._value
    for i in range(n_in):
        if targets[i] < 0:
            continue
        gi = None
        if op.factor_op is not None and op.calling == _CALL_UNARY and ins[0] is not None:
            f = _factor_tensor(op.factor_op, ins[0])      # the factor's own op, without NumPy's dispatch
        else:
            f = _factor_of(op, i, ans, ins)
        fv = (<Tensor>f)._value if isinstance(f, Tensor) else f
        if (type(fv) is ndarray and cnp.PyArray_TYPE(<cnp.ndarray>fv) == cnp.PyArray_TYPE(<cnp.ndarray>gv)
                and _same_shape(fv, gv)):
            gi = f
            if params is not None:
                shape = (<tuple>params)[i]
                if shape is not None:
                    gi = sum_to_shape(f, shape, 0)
        else:
            gi = _vjp_of(op, i, g, ans, ins, params, batch_ndim)
        if gi is None:
            continue
        if not isinstance(gi, Tensor) and type(gi) is not _sparse_type:
            gi = _wrap(_own(gi))
        _accumulate(grads, targets[i], gi)
    return 0


cdef inline bint _owned_sum_target(PyObject *old, object g):
    """True if the gradient `old` may take `g` in place (``old += g`` gives the
    bits of ``old + g``): a plain writeable ndarray owning its data, referenced
    only by the gradient slot (so no saved value, tensor, seed, other slot or
    view can see it change), and `g` an ndarray of the same dtype and shape.
    Rules' results are fresh arrays nobody else holds; forward values are
    read-only and referenced by their tensors, so they never qualify."""
    if Py_REFCNT(<object>old) != 1 or type(<object>old) is not ndarray or type(g) is not ndarray:
        return False
    cdef cnp.ndarray a = <cnp.ndarray>old, b = <cnp.ndarray>g
    cdef int nd = cnp.PyArray_NDIM(a)
    if (nd == 0 or nd != cnp.PyArray_NDIM(b) or cnp.PyArray_TYPE(a) != cnp.PyArray_TYPE(b)
            or cnp.PyArray_BASE(a) != NULL
            or not cnp.PyArray_CHKFLAGS(a, cnp.NPY_ARRAY_WRITEABLE | cnp.NPY_ARRAY_OWNDATA)):
        return False
    return memcmp(cnp.PyArray_DIMS(a), cnp.PyArray_DIMS(b), nd * sizeof(cnp.npy_intp)) == 0


cdef inline int _accumulate(PyObject **grads, int32_t s, object g) except -1:
    """grads[s] += g.  The first contribution (the common case: a value used
    once) is stored as it is; a second one takes _accumulate_more, kept out
    of line so this stays small enough to inline."""
    if grads[s] == NULL:
        Py_INCREF(g)
        grads[s] = <PyObject *>g
        return 0
    return _accumulate_more(grads, s, g)


cdef int _accumulate_more(PyObject **grads, int32_t s, object g) except -1:
    cdef PyObject *old = grads[s]
    cdef object total
    if type(g) is _sparse_type or type(<object>old) is _sparse_type:
        total = _sparse_add(<object>old, g)
    elif type(g) is _Diag or type(<object>old) is _Diag:
        total = _diag_add(<object>old, g)
    elif _owned_sum_target(old, g):
        # In place: no new buffer (for 1e6 elements, no 8 MB allocation and
        # its page faults); IEEE addition gives the same bits either way.
        total = <object>old
        total += g                     # ndarray.__iadd__: np.add(old, g, out=old)
        return 0
    elif _owned_sum_target(<PyObject *>g, <object>old):
        # The new contribution is a fresh array only the caller holds: add
        # the old one into it (a + b and b + a have the same bits).
        total = g
        total += <object>old
    else:
        total = <object>old + g
    Py_INCREF(total)
    grads[s] = <PyObject *>total
    Py_XDECREF(old)
    return 0


# --------------------------------------------------------------------------
# Forward mode

# ---- values forward over reverse computes twice (W9) ----------------------
# Under a ForwardAccumulator around a tape, sin's JVP form computes cos(x)
# in the forward and the sweep applies the cos op to x again for sin's
# gradient, whose own JVP form computes sin(x), the forward's value (cosh and
# sinh likewise).  So while a recorder entered after it is on the stack
# (the inner tape), the accumulator keeps, per (ufunc, input Tensor), the
# forward values of ops with a factor_op and the values its JVP forms compute
# from an input by a one-input ufunc; its JVP forms and the sweep's factor
# (_factor_tensor) then take a kept value instead of calling the ufunc on
# the same array (the entry holds that array: a Tensor whose value changed, a
# variable's read after an assign, never matches).  Only float64 arrays whose
# input and result are all normal numbers are kept: the call they replace
# raised no floating-point flag NumPy could report (no inf or nan: invalid,
# overflow, division by zero; no zero or subnormal: underflow), so a kept
# value hides no warning and no np.errstate error.  The values belong to the
# inner recorder they were recorded under (_memo_owned_by drops them when
# another one records); structured_cotangents(False) keeps none.

cdef type _ufunc_type = np.ufunc
cdef Py_ssize_t _n_memos = 0          # accumulators holding kept values (the sweep looks only then)


cdef inline bint _normal_bits(const uint64_t *p, Py_ssize_t n) noexcept nogil:
    # A float64 is normal (not zero, subnormal, inf or nan) exactly when its
    # exponent bits are neither all ones (+ the lowest exponent bit carries
    # into the sign bit) nor all zeros (- it borrows into the sign bit): and,
    # add, subtract, or, no branch, so the loop vectorises (as _finite_bits).
    cdef uint64_t e, acc = 0
    cdef Py_ssize_t k
    for k in range(n):
        e = p[k] & 0x7ff0000000000000ULL
        acc |= (e + 0x0010000000000000ULL) | (e - 0x0010000000000000ULL)
    return (acc >> 63) == 0


cdef bint _memo_safe(object v):
    """A contiguous float64 array of at least one element, all normal numbers."""
    if type(v) is not ndarray:
        return False
    cdef cnp.ndarray a = <cnp.ndarray>v
    if (cnp.PyArray_TYPE(a) != cnp.NPY_DOUBLE or cnp.PyArray_NDIM(a) == 0 or not cnp.PyArray_ISBEHAVED_RO(a)
            or not cnp.PyArray_IS_C_CONTIGUOUS(a) or cnp.PyArray_SIZE(a) == 0):
        return False
    return _normal_bits(<const uint64_t *>cnp.PyArray_DATA(a), cnp.PyArray_SIZE(a))


cdef object _factor_tensor(Op fop, object x):
    """_unary(fop, x) for the sweep's factor (sin's cos(x)), from a value an
    active accumulator kept for fop's ufunc and x (recorded as _unary records
    it), else _unary."""
    cdef PyObject *ins[1]
    cdef Tensor out
    cdef Accumulator acc
    cdef object e = None
    if _n_memos and _structured and type(x) is Tensor and fop.differentiable:
        for r in _thread_stack():
            if type(r) is Accumulator and (<Accumulator>r).memo is not None:
                e = (<Accumulator>r).memo.get((fop.forward, (<Tensor>x)._id))
                if e is not None and (<tuple>e)[0] is (<Tensor>x)._value:
                    out = _wrap((<tuple>e)[1])
                    ins[0] = <PyObject *>x
                    _record_args(fop, ins, 1, out, None)
                    return out
    return _unary(fop, x)


cdef object _jvp_form(Op op, Py_ssize_t i, object t, object ans, tuple ins, Accumulator acc, tuple tensors):
    """Input i's JVP term on raw values from the op's VJP form, where the
    op's JVP rule for input i is its VJP rule (the same function: an
    elementwise op's rule, g * f, is also its JVP, t * f), so the form
    computes what the rule computes with the tangent for g, by the same
    ufunc calls (on float64 scalars in C doubles, as the sweep's forms).
    _NO_ARG to call the rule instead: no such form, a value the form
    cannot take (complex, integer, a Tensor), or a floating-point flag on a
    float64 scalar (the rule then runs and reports it)."""
    cdef PyObject *raw[2]
    cdef int32_t targets[2]
    cdef bint wanted[2]
    cdef bint passes[2]
    cdef double r[2]
    cdef Py_ssize_t k, n_in = op.n_in
    global _form_op
    if n_in > 2 or op._forms[i].len == 0 or op.jvps[i] is not op.vjps[i] or op.cjvps is not None \
            and _complex_value(t):
        return _NO_ARG
    for k in range(n_in):
        raw[k] = <PyObject *>ins[k]
        targets[k] = 0 if k == i else -1
        wanted[k] = k == i
    if type(t) is float64:
        if not scalar_form_values(op, wanted, n_in, t, ans, raw, r, passes):
            return _NO_ARG
        return t if passes[i] else tg_float64(r[i])
    if not _form_operands(op, targets, n_in, t, ans, raw):
        return _NO_ARG
    _form_op = <PyObject *>op           # for a floating-point warning's message
    try:
        return _form_value(op, <int>i, t, ans, raw, acc, tensors)
    finally:
        _form_op = NULL


cdef class Accumulator(Recorder):
    """Forward-mode recorder: holds a tangent per tensor id and, when an op is
    offered to it, computes the tangent of the op's output from its inputs'
    tangents with the op's JVP rules.

    Nesting (TensorFlow's rules): recorders are offered an op in entry order.
    The JVP computation of an accumulator is itself visible to the recorders
    entered *before* it (outer tapes and accumulators: reverse-over-forward,
    higher-order forward), so when there are any the rules run on Tensors
    under a stack cut down to them; recorders entered after it (inner tapes:
    forward-over-reverse) never see it.  Tangents live as long as the
    accumulator (TensorFlow drops them with their tensors)."""

    def __cinit__(self):
        tg_idmap_init(&self.index)
        self.tangents = []

    def __dealloc__(self):
        global _n_memos
        tg_idmap_free(&self.index)
        if self.memo is not None:
            _n_memos -= 1

    def watch(self, int64_t tid, tangent):
        """Give the tensor (or variable) with id `tid` a tangent."""
        self._set(tid, tangent)

    cdef bint tracks(self, int64_t tid):
        return tg_idmap_get(&self.index, tid) >= 0

    def tangent(self, int64_t tid):
        """The tangent of the tensor with id `tid` (a Tensor), or None."""
        cdef int32_t p = tg_idmap_get(&self.index, tid)
        if p < 0:
            return None
        t = self.tangents[p]
        if t is not None and not isinstance(t, Tensor):
            t = _wrap(_own(t))
            self.tangents[p] = t         # the same Tensor on every call
        return t

    def kept_values(self):
        """How many values forward over reverse keeps for reuse (see _memo_put)."""
        return 0 if self.memo is None else len(self.memo)

    cdef int _set(self, int64_t tid, object tangent) except -1:
        cdef int32_t p = tg_idmap_get(&self.index, tid)
        if p >= 0:
            self.tangents[p] = tangent
            return 0
        if len(self.tangents) >= INT32_MAX:
            raise OverflowError("tapegrad: an accumulator can hold at most 2**31-1 tangents")
        if tg_idmap_put(&self.index, tid, <int32_t>len(self.tangents)) < 0:
            raise MemoryError()
        self.tangents.append(tangent)
        return 0

    cdef int record(self, Op op, tuple inputs, object out, object params) except -1:
        cdef Py_ssize_t i, depth, n = len(inputs)
        cdef int32_t p
        cdef list tans = None
        cdef list stack, old
        for i in range(n):
            x = inputs[i]
            if isinstance(x, Tensor):
                p = tg_idmap_get(&self.index, (<Tensor>x)._id)
                if p >= 0:
                    if tans is None:
                        tans = [None] * n
                    tans[i] = self.tangents[p]
        if tans is None:
            return 0                                  # no input depends on the primals
        stack = _thread_stack()
        depth = 0
        while depth < len(stack) and stack[depth] is not self:
            depth += 1
        if depth == 0 and not op.joint:
            # Forward over reverse (a recorder entered after this one: the inner tape) keeps
            # the values of sin-like ops and of their JVP forms' factors for the sweep.
            self.memo_fill = len(stack) > 1 and _structured
            if self.memo_fill:
                self._memo_owned_by(stack[len(stack) - 1])
                if op.factor_op is not None and n == 1 and type(out) is Tensor:
                    self._memo_put(op.forward, inputs[0], (<Tensor>out)._value)
            result = self._jvp(op, inputs, out, params, tans, False)
        else:
            # Only recorders entered before this one see the JVP computation.
            old = _replace_stack(stack[:depth])
            try:
                result = self._jvp(op, inputs, out, params, tans, depth > 0)
            finally:
                _replace_stack(old)
        if op.n_out == 1:
            if result is not None:
                self._set((<Tensor>out)._id, result)
        else:
            for i in range(op.n_out):
                if result[i] is not None:
                    self._set((<Tensor>out[i])._id, result[i])
        return 0

    cdef int _memo_owned_by(self, object top) except -1:
        """Kept values belong to the inner recorder they were recorded under (the
        tape whose sweep reads them): when another one records, the old values go, so an
        accumulator around a loop of tapes holds one tape's worth, not every tape's.  A
        recorder that cannot be weakly referenced clears them at every op (none kept)."""
        if self.memo_owner is not None and PyWeakref_GetObject(self.memo_owner) == <PyObject *>top:
            return 0     # (the borrowed referent compared, no call per op; PyWeakref_GetObject is
                         # deprecated from CPython 3.13, removed in 3.15: PyWeakref_GetRef then)
        if self.memo:
            self.memo.clear()
        try:
            self.memo_owner = weakref.ref(top)
        except TypeError:
            self.memo_owner = None
        return 0

    cdef int _memo_put(self, object uf, object x, object value) except -1:
        global _n_memos
        """Keep `value` as uf(x) if uf is a ufunc, x a Tensor and both values
        float64 arrays of normal numbers only (see _memo_safe)."""
        if type(uf) is _ufunc_type and type(x) is Tensor and _memo_safe((<Tensor>x)._value) and _memo_safe(value):
            if self.memo is None:
                self.memo = {}
                _n_memos += 1
            cnp.PyArray_CLEARFLAGS(<cnp.ndarray>value, cnp.NPY_ARRAY_WRITEABLE)    # a Tensor's value later
            self.memo[(uf, (<Tensor>x)._id)] = ((<Tensor>x)._value, value)
        return 0

    cdef object _memo_call(self, object uf, object x, object raw):
        """uf(raw), where raw is x's value (x: an op's input as it was given):
        the value kept for (uf, x) if there is one, else the call (kept while
        memo_fill)."""
        cdef object e
        if self.memo is not None and type(x) is Tensor:
            e = self.memo.get((uf, (<Tensor>x)._id))
            if e is not None and (<tuple>e)[0] is raw:
                return (<tuple>e)[1]
        r = _small_call(uf, <PyObject *>raw, NULL)
        if r is None:
            r = uf(raw)
        if self.memo_fill:
            self._memo_put(uf, x, r)
        return r

    cdef object _jvp(self, Op op, tuple inputs, object out, object params, list tans, bint tensor_mode):
        """The output tangent(s): the sum over inputs of each JVP rule's term,
        broadcast to the output's shape."""
        cdef Py_ssize_t i, n = len(inputs)
        cdef tuple pars = params or ()
        if not op.jvps:
            raise LookupError(f"tapegrad: op {op.name!r} has no JVP rule, so forward mode "
                              f"(ForwardAccumulator) cannot differentiate it")
        if tensor_mode:
            for i in range(n):
                if tans[i] is not None and not isinstance(tans[i], Tensor):
                    tans[i] = _wrap(_own(tans[i]))
            ins, ans = inputs, out
        else:
            for i in range(n):
                if isinstance(tans[i], Tensor):
                    tans[i] = (<Tensor>tans[i])._value
            ins, ans = _unwrap_tuple(inputs), _unwrap(out)
        if op.calling == _CALL_JOINT:
            total = op.jvps[0](tuple(tans), ans, ins, *pars)
        else:
            total = None
            for i in range(n):
                if tans[i] is not None:
                    term = _NO_ARG
                    if not tensor_mode and op.vjp_forms is not None and _structured:
                        term = _jvp_form(op, i, tans[i], ans, ins, self, inputs)
                    if term is _NO_ARG:
                        term = _jvp_of(op, i, tans[i], ans, ins, params)
                    total = _add_tangents(total, term, op.n_out)
        if total is None:
            return None
        if op.n_out == 1:
            return _fit_tangent(total, ans, tensor_mode)
        return tuple([None if total[i] is None else _fit_tangent(total[i], ans[i], tensor_mode)
                      for i in range(op.n_out)])


cdef object _add_tangents(object total, object t, Py_ssize_t n_out):
    if t is None:
        return total
    if total is None:
        return t
    if n_out == 1:
        r = _small_call(_np_add, <PyObject *>total, <PyObject *>t)
        return total + t if r is None else r
    return tuple([a if b is None else b if a is None else a + b for a, b in zip(total, t)])


cdef object _fit_tangent(object t, object ans, bint tensor_mode):
    """A tangent with the output's shape (an input's term can be smaller when
    the op broadcast it) and, in tensor mode, as a Tensor."""
    cdef object a = (<Tensor>ans)._value if isinstance(ans, Tensor) else ans
    cdef object v = (<Tensor>t)._value if isinstance(t, Tensor) else t
    if not _same_shape(v, a):
        if tensor_mode:
            t = _binary(_op_add, t, np.zeros(np.shape(a), dtype=_np_dtype(a)))
        else:
            t = np.broadcast_to(v, np.shape(a))
    if tensor_mode and not isinstance(t, Tensor):
        t = _wrap(_own(t))
    return t


cdef class ReadLog(Recorder):
    """Records nothing; remembers which variables were read while it was on
    the stack (custom_gradient's captured variables), first read first."""

    def __cinit__(self):
        self.variables = []
        self._ids = set()

    cdef int on_variable_read(self, Variable v) except -1:
        cdef int64_t vid = v._state.id
        if vid not in self._ids:
            self._ids.add(vid)
            self.variables.append(_owner(v))
        return 0


# --------------------------------------------------------------------------
# For the other compiled front end (tapegrad._graph, graphs owned by tensors):
# the one rule call, exported through _core.pxd.

cdef object vjp_rule(Op op, Py_ssize_t i, object g, object ans, tuple ins, object params):
    """Input i's gradient by op's rule, exactly as the tape's sweep calls it
    (un-broadcast for BINARY ops when params holds the input shapes)."""
    return _vjp_of(op, i, g, ans, ins, params, 0)


cdef bint shortcuts_on() noexcept:
    """structured_cotangents()'s switch: _graph's scalar C rules follow it too."""
    return _structured
