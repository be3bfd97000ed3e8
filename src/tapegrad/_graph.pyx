# cython: language_level=3, c_api_binop_methods=True
# (boundscheck and wraparound are set by CMakeLists.txt: off, or on in the sanitizer build)
"""Graphs owned by tensors: the engine behind `tapegrad.torch` (PyTorch's style).

Terms.  A *node* is one recorded op application: the Op (the registry's, with
its rules), what its rules read (*saved*), its static params, and one *edge*
per input: the node that produced the input (a non-leaf), the leaf tensor
itself (a leaf that requires grad: PyTorch's AccumulateGrad), or None.  A
tensor that requires grad and is not a leaf holds its node (``_node``) and
which of the node's outputs it is (``_out``).  Nothing else references a node:
no context, no list.  Dropping the last tensor of a graph frees the graph by
reference counting; backward() drops what each node saved as it passes it,
unless the graph is retained.

Backward, without recursion: (1) a breadth-first walk over the edges from the
roots (the list of reached nodes is its own queue) counts for every reachable
node how many reachable consumers feed it a gradient (``deps``); (2) the sweep
starts from the roots and runs a node once every consumer has given it its
gradient (Kahn's order: a node's inputs are always run after it; the ready
nodes wait in a C array); (3) each node calls
its op's VJP rules through the core's one rule call (`_core.vjp_rule`, which
is `_vjp_of`), accumulates into the nodes or leaves of its inputs, and drops
its saved values.  The same rules run on raw arrays (first order) or, for
``create_graph=True``, on core Tensors while a `Capture` recorder on the core's
recorder stack turns each op the rules run into a node of a new graph.

The same `Capture` recorder runs the op library's public functions (reduce_sum,
matmul, getitem, softmax, ...) for the front end: the function runs on core
Tensors that stand for the front end's tensors, and every op it applies is
offered to the recorder, which builds the nodes.  The hot operators (+, *, /,
unary math) skip that and call the op's forward directly (`binary`, `unary`).
"""
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free
from cpython.ref cimport PyObject
from cpython.float cimport PyFloat_AS_DOUBLE
cimport cython
cimport numpy as cnp

cdef extern from "Python.h":
    void PyObject_GC_UnTrack(void *op)
    void PyObject_GC_Track(void *op)
    int PyObject_GC_IsTracked(object op)

cdef extern from "tg_scalar.h":        # the core's: the same bits on both engines
    object tg_float64(double d)

cdef extern from "tg_objpool.h":       # pools of nodes and tensors (allocation without the GC's bookkeeping)
    void tg_node_pool_install(object node_type)
    void tg_node_subclass_install(object cls)
    int tg_tensor_pool_install(object tensor_type, object base) except -1

import numpy as np
import weakref

from tapegrad._core cimport Op, Recorder, Tensor as CoreTensor, vjp_rule, shortcuts_on, scalar_form_values
from tapegrad import _core

cnp.import_array()

cdef type ndarray = np.ndarray
cdef type float64 = np.float64
cdef type inexact = np.inexact
cdef type generic = np.generic
cdef int _CALL_JOINT = _core.CALL_JOINT
cdef int _BINARY = _core.BINARY
cdef int _SAVE_INPUTS = _core.SAVE_INPUTS
cdef int _SAVE_ANS = _core.SAVE_ANS

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they "
    "have already been freed). Saved intermediate values of the graph are freed when you call .backward() "
    "or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time "
    "or if you need to access saved tensors after calling backward.")

# --------------------------------------------------------------------------
# Grad mode, per thread as in PyTorch: a C thread-local flag (each Python
# thread is an OS thread).  `_n_grad_off` counts the threads whose grad mode
# is off, so while it is 0 (the usual case) the recording paths read one
# module variable instead of the thread-local.

cdef extern from *:
    """
    #include "tg_compat.h"
    static TG_THREAD_LOCAL int tg_grad_disabled = 0;
    """
    int tg_grad_disabled      # 0 in a new thread: grad mode starts enabled

cdef Py_ssize_t _n_grad_off = 0


cdef inline bint _grad_on():
    return _n_grad_off == 0 or not tg_grad_disabled


def is_grad_enabled():
    return not tg_grad_disabled


def set_grad_enabled_flag(bint mode):
    """Set this thread's grad mode; returns its previous one."""
    global tg_grad_disabled, _n_grad_off
    cdef bint old = not tg_grad_disabled
    if old != mode:
        _n_grad_off += -1 if mode else 1
        tg_grad_disabled = not mode
    return old


# --------------------------------------------------------------------------
# Version counters: shared by a tensor and its views, bumped by in-place ops.

cdef class Version:
    cdef public int64_t v


cdef int64_t _sweep_id = 0


# --------------------------------------------------------------------------
# Tensors

cdef object _tensor_class = None       # the public Tensor (a Python subclass of TensorBase)
cdef object _names = {}                # op name -> grad_fn class name ("mul" -> "MulBackward0")
cdef type _tensor_type = None         # the same class, typed for the exact-type test of _is_tb


cdef inline bint _is_tb(object x):
    """isinstance(x, TensorBase), without walking the MRO for the public
    Tensor class or for the raw values (floats, NumPy scalars, arrays) that
    sit beside tensors in inputs and saved values."""
    cdef type tp = type(x)
    if tp is _tensor_type:
        return True
    if tp is float64 or tp is ndarray or tp is float:
        return False
    return isinstance(x, TensorBase)


cdef inline bint _is_float_value(object v):
    if type(v) is float64:
        return True
    if type(v) is ndarray:
        return cnp.PyArray_ISFLOAT(<cnp.ndarray>v) or cnp.PyArray_ISCOMPLEX(<cnp.ndarray>v)
    return isinstance(v, inexact)


cdef inline object _own(object value):
    """An op's raw result as a tensor holds it: 0-d results become NumPy
    scalars (cheap to compute with), arrays stay writable (in-place ops)."""
    if type(value) is float64:
        return value
    if type(value) is ndarray:
        if cnp.PyArray_NDIM(<cnp.ndarray>value) == 0:
            return (<cnp.ndarray>value)[()]
        return value
    if isinstance(value, generic):
        return value
    return _own(np.asarray(value))


# Tensors and nodes are untracked by the cyclic GC as they are made (a graph
# of a million nodes would otherwise be traversed by every collection): the
# graph is a DAG of references from results to inputs, freed by reference
# counting.  The one cycle PyTorch also documents -- a leaf's .grad made with
# create_graph=True references a graph that references the leaf -- is broken
# by `x.grad = None`.  trashcan: freeing a long chain does not recurse on the
# C stack (CPython's trashcan needs the GC header, hence untracked, not no_gc).
@cython.trashcan(True)
cdef class TensorBase:
    """The fields of a tensor and its hot operators; the public API is the
    Python subclass `tapegrad.torch.Tensor`."""
    cdef public object _value          # ndarray (writable unless shared read-only) or NumPy scalar (0-d)
    cdef public object _node           # Node that produced it (non-leaf), else None
    cdef public Py_ssize_t _out        # which output of _node
    cdef public bint _requires_grad
    cdef public object _grad
    cdef public Version _version
    cdef public bint _retains_grad
    cdef public bint _is_view
    cdef public object _view           # tapegrad.torch's view bookkeeping: None unless a view or a viewed base
    cdef object _hooks                 # a leaf's hooks: [pre-hooks, post-accumulate hooks], or None
    cdef object __weakref__

    @property
    def requires_grad(self):
        return self._requires_grad or self._node is not None

    @property
    def grad_fn(self):
        return _named(self._node)

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def _version_number(self):
        return 0 if self._version is None else self._version.v

    def _bump_version(self):
        """An in-place change: saved copies of this tensor are now stale."""
        if self._version is None:
            self._version = Version.__new__(Version)
        if self._node is not None:
            _guard_saved_output(<Node>self._node, self)
        self._version.v += 1

    def _guard_saved_output(self):
        """The memory of this tensor is about to be shared (a view, detach()):
        if its node saved this output, check the shared version at backward."""
        if self._node is not None:
            if self._version is None:
                self._version = Version.__new__(Version)
            _guard_saved_output(<Node>self._node, self)

    def _share_version(self, TensorBase other):
        """self is a view of other's storage (detach): one counter for both."""
        if other._version is None:
            other._version = Version.__new__(Version)
        self._version = other._version

    # C-API binary slots (c_api_binop_methods): one function for both operand
    # orders, so the public Python subclass inherits the C slot itself rather
    # than a slot wrapper that looks __mul__ / __rmul__ up in the MRO per call.
    def __add__(a, b): return binary(_op_add, a, b, None)
    def __sub__(a, b): return binary(_op_sub, a, b, None if isinstance(a, TensorBase) else "RsubBackward1")
    def __mul__(a, b): return binary(_op_mul, a, b, None)
    def __neg__(self): return unary(_ops["negative"], self)
    # Elementwise math (torch.sin is TensorBase.sin): float-only ops take an
    # integer tensor in the default float dtype, as PyTorch does.
    def exp(self): return _float_unary("exp", self)
    def log(self): return _float_unary("log", self)
    def sin(self): return _float_unary("sin", self)
    def cos(self): return _float_unary("cos", self)
    def tan(self): return _float_unary("tan", self)
    def tanh(self): return _float_unary("tanh", self)
    def sigmoid(self): return _float_unary("sigmoid", self)
    def sqrt(self): return _float_unary("sqrt", self)
    def relu(self): return unary(_ops["relu"], self)
    def abs(self): return unary(_ops["abs"], self)


cdef dict _ops = {}
cdef Op _op_add = None, _op_sub = None, _op_mul = None
cdef object _to_float_hook = None      # Python: x -> x in the default float dtype


cdef object _float_unary(str name, TensorBase x):
    if not _is_float_value(x._value):
        x = _to_float_hook(x)
    return unary(_ops[name], x)


cdef extern from *:
    """
    /* TensorBase.__new__(cls) without the Python call: Cython spells it as a
       method call (tp_new_wrapper: an attribute lookup and argument tuples,
       ~850 instructions) when cls is not known at compile time.  This is the
       same tp_new with the same arguments. */
    static PyObject *tg_new_of(PyObject *base, PyObject *cls, PyObject *empty) {
        return ((PyTypeObject *)base)->tp_new((PyTypeObject *)cls, empty, NULL);
    }
    """
    object tg_new_of(object base, object cls, object empty)


cdef tuple _no_args = ()


cdef inline TensorBase _new(object value):
    if _tensor_type is None:
        raise RuntimeError("tapegrad._graph: no tensor class installed (import tapegrad.torch)")
    cdef TensorBase t = <TensorBase>tg_new_of(TensorBase, _tensor_type, _no_args)   # untracked (its pool)
    t._value = value
    return t


def new_tensor(value, bint requires_grad=False):
    """A leaf around a raw value (owned by the tensor from now on)."""
    cdef TensorBase t = _new(_own(value))
    t._requires_grad = requires_grad
    return t


cdef extern from *:
    """
    /* A Python subclass of a compiled class gets generic number slots (each
       call looks __mul__ up in the MRO) when the base exposes the methods as
       method descriptors, as Cython does.  The public Tensor class defines
       none of these itself, so it can use the base's C slots directly. */
    static void tg_inherit_number_slots(PyObject *sub, PyObject *base) {
        PyTypeObject *s = (PyTypeObject *)sub, *b = (PyTypeObject *)base;
        if (s->tp_as_number != NULL && b->tp_as_number != NULL) {
            s->tp_as_number->nb_add = b->tp_as_number->nb_add;
            s->tp_as_number->nb_subtract = b->tp_as_number->nb_subtract;
            s->tp_as_number->nb_multiply = b->tp_as_number->nb_multiply;
            s->tp_as_number->nb_negative = b->tp_as_number->nb_negative;
            PyType_Modified(s);
        }
    }
    """
    void tg_inherit_number_slots(object sub, object base)


def install(tensor_class, dict ops, dict names, to_float):
    """The front end gives the engine its Tensor class, the op registry, the
    grad_fn names of ops and its conversion to the default float dtype."""
    global _tensor_class, _tensor_type, _names, _to_float_hook
    global _op_add, _op_sub, _op_mul
    if not issubclass(tensor_class, TensorBase) or tensor_class.__base__ is not TensorBase or any(
            name in tensor_class.__dict__ for name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__",
                                                      "__rmul__", "__neg__")):
        raise TypeError("the tensor class must subclass TensorBase directly and keep its arithmetic operators")
    if (tensor_class.__basicsize__ != TensorBase.__basicsize__ or tensor_class.__dictoffset__
            or "__del__" in tensor_class.__dict__):
        # Its instances are pooled and freed by tg_heap_subtype_dealloc, which
        # knows no fields, __dict__ or finalizer of the subclass.
        raise TypeError("the tensor class must add no fields (__slots__ = ()) and no __del__")
    tg_inherit_number_slots(tensor_class, TensorBase)
    tg_tensor_pool_install(tensor_class, TensorBase)
    _tensor_class = tensor_class
    _tensor_type = tensor_class
    _ops.update(ops)
    _op_add, _op_sub, _op_mul = ops["add"], ops["subtract"], ops["multiply"]
    _names = names
    _to_float_hook = to_float


cdef inline int64_t _version_of(TensorBase t):
    return 0 if t._version is None else t._version.v


cdef inline bint _needs(object x):
    return _is_tb(x) and ((<TensorBase>x)._requires_grad or (<TensorBase>x)._node is not None)


cdef inline object _edge(TensorBase t):
    """Where gradients for t go: its node, the leaf itself, or None."""
    if t._node is not None:
        return t._node
    if t._requires_grad:
        return t
    return None


# --------------------------------------------------------------------------
# Nodes

# A pool of 4,096 nodes (csrc/tg_objpool.h; at most ~1 MB kept after a big
# graph is freed, 240 bytes a node with its GC header): a reused node skips the allocator and, being a GC type, the
# tracking and the allocation count that triggers collections -- W1's
# 3,000-node graph, rebuilt each step, ran 16.9 M -> 15.7 M instructions with
# Cython's free list, which the pool replaced because it tracks each node it
# hands out.  Only exact Node instances enter it.
@cython.trashcan(True)
cdef class Node:
    """One recorded op (PyTorch's grad_fn)."""
    cdef readonly Op op
    # Per input i: its edge (Node, leaf TensorBase or None) and, while the
    # node holds what its rules read (SAVE_INPUTS, `saves`), the input itself
    # (TensorBase or raw value).  Inputs 0 and 1 sit in C fields (e0, e1, s0,
    # s1): no tuple to allocate, untrack and free per node (W1: ~300
    # instructions per op); ops of more inputs keep tuples (`edges`, `saved`).
    # Read them through _edge_at / _saved_at.
    cdef Py_ssize_t n_in
    cdef object e0, e1
    cdef tuple edges             # n_in > 2: every input's edge, else None
    cdef object s0, s1
    cdef tuple saved             # n_in > 2 and saves: every saved input, else None
    cdef bint saves              # holds the inputs its rules read (until a backward frees them)
    cdef object saved_ans        # the output's raw value (SAVE_ANS), or None
    cdef object versions         # tuple of the saved tensors' versions to check, or None (all 0)
    cdef readonly object params
    cdef tuple edge_out          # per input: the output index of the edge's node (None: all 0)
    cdef readonly int n_out
    cdef bint had_saved
    cdef bint freed
    cdef object label            # grad_fn class name if not the op's default
    cdef Py_ssize_t deps
    cdef int64_t mark            # the sweep that last reached this node
    cdef object grad0            # during a sweep: the gradient of a single-output node
    cdef list grads              # during a sweep: one gradient per output (multi-output nodes)
    cdef list retained           # (output index, weakref to a tensor that retains its grad)
    cdef object __weakref__

    cdef str _name(self):
        if self.label is not None:
            return self.label
        n = _names.get(self.op.name)
        return n if n is not None else self.op.name.title().replace("_", "") + "Backward0"

    def name(self):
        return self._name()

    @property
    def next_functions(self):
        out = []
        for k in range(self.n_in):
            e = _edge_at(self, k)
            i = self.edge_out[k] if self.edge_out is not None else 0
            if e is None:
                out.append((None, 0))
            elif isinstance(e, Node):
                out.append((_named(e), i))
            else:
                out.append((_accumulate_grad(e), 0))
        return tuple(out)

    @property
    def _saved_tensors(self):
        if self.freed and self.had_saved:
            raise RuntimeError(FREED_MESSAGE)
        return _saved_tuple(self)

    def __repr__(self):
        return f"<{self._name()} object at {hex(id(self))}>"

    def __getattr__(self, name):
        if name.startswith("_saved_"):
            if self.freed and self.had_saved:
                raise RuntimeError(FREED_MESSAGE)
        raise AttributeError(f"'{self._name()}' object has no attribute '{name}'")


class AccumulateGrad:
    """The node that adds gradients into a leaf's .grad (PyTorch shows it in
    next_functions)."""
    __slots__ = ("variable", "__weakref__")

    def __init__(self, variable):
        self.variable = variable

    next_functions = ()

    def name(self):
        return "torch::autograd::AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"


# AccumulateGrad objects are cached per leaf while someone holds them.
_acc_cache = weakref.WeakValueDictionary()


cdef object _accumulate_grad(TensorBase leaf):
    key = id(leaf)
    a = _acc_cache.get(key)
    if a is None or a.variable is not leaf:
        a = AccumulateGrad(leaf)
        _acc_cache[key] = a
    return a


# grad_fn classes named as PyTorch's (``type(y.grad_fn).__name__ == "MulBackward0"``).
# Nodes are made as plain `Node`s (nothing added to the hot path); the first
# time one is shown to the user (`grad_fn`, `next_functions`) its class is
# switched to a subclass named after its grad_fn name, created once per name
# (with no fields of its own, so the layout is Node's).  The first switch lets
# Node's instances change class, which CPython allows only for mutable types.

cdef extern from *:
    """
    static void tg_allow_class_assignment(PyObject *tp) {
    #ifdef Py_TPFLAGS_IMMUTABLETYPE
        ((PyTypeObject *)tp)->tp_flags &= ~Py_TPFLAGS_IMMUTABLETYPE;
        PyType_Modified((PyTypeObject *)tp);
    #endif
    }
    """
    void tg_allow_class_assignment(object tp)

cdef dict _node_classes = None


cdef object _node_class(str name):
    global _node_classes
    if _node_classes is None:
        # On the first node shown, not at import: a program that never looks
        # at grad_fn types keeps Node untouched (callgrind showed ~1% more
        # instructions on W1 when this ran at install).
        tg_allow_class_assignment(Node)
        _node_classes = {}
    cls = _node_classes.get(name)
    if cls is None:
        cls = type(name, (Node,), {"__slots__": (), "__module__": "tapegrad.torch.autograd"})
        tg_node_subclass_install(cls)
        _node_classes[name] = cls
    return cls


cdef object _named(object node):
    """node with the class of its grad_fn name (None stays None)."""
    if node is None:
        return None
    cls = _node_class((<Node>node)._name())
    if type(node) is not cls:
        node.__class__ = cls
    return node


tg_node_pool_install(Node)


cdef inline object _edge_of(object x):
    return _edge(<TensorBase>x) if _is_tb(x) else None


cdef inline Py_ssize_t _out_of(object x):
    return (<TensorBase>x)._out if _is_tb(x) else 0


cdef inline int64_t _version_or_zero(object x):
    return _version_of(<TensorBase>x) if _is_tb(x) else 0


cdef object _versions(tuple saved):
    """The versions of the saved tensors, or None when all are 0 (the usual case)."""
    cdef object x
    for x in saved:
        if _version_or_zero(x):
            return tuple([_version_or_zero(y) for y in saved])
    return None


cdef inline Node _new_node():
    """Node.__new__(Node) by Node's tp_new (its pool) without a Python
    call, untracked by the cyclic GC (see TensorBase)."""
    return <Node>tg_new_of(Node, Node, _no_args)


cdef inline object _edge_at(Node node, Py_ssize_t i):
    if node.edges is not None:
        return node.edges[i]
    return node.e0 if i == 0 else node.e1


cdef inline object _saved_at(Node node, Py_ssize_t i):
    if node.saved is not None:
        return node.saved[i]
    return node.s0 if i == 0 else node.s1


cdef tuple _saved_tuple(Node node):
    """The saved inputs as a tuple (None when the node holds none)."""
    if not node.saves:
        return None
    if node.saved is not None:
        return node.saved
    return (node.s0,) if node.n_in == 1 else (node.s0, node.s1)


cdef Node _make_node2(Op op, Py_ssize_t n, object x0, object x1, object out_value, object params, object name,
                      Py_ssize_t n_out):
    """A node for op applied to one (n=1: x0) or two inputs (TensorBase or raw
    values), with no tuple: the hot path of the operators."""
    cdef Node node = _new_node()
    cdef int64_t v0 = 0, v1 = 0
    cdef Py_ssize_t o0 = 0, o1 = 0
    cdef bint t0 = _is_tb(x0), t1 = n == 2 and _is_tb(x1)
    node.op = op
    node.params = params
    node.label = name
    node.n_out = n_out
    node.n_in = n
    if t0:
        node.e0 = _edge(<TensorBase>x0)
        o0 = (<TensorBase>x0)._out
    if t1:
        node.e1 = _edge(<TensorBase>x1)
        o1 = (<TensorBase>x1)._out
    if o0 or o1:
        if n == 2:
            node.edge_out = (o0, o1)
        else:
            node.edge_out = (o0,)
    if op.save & _SAVE_INPUTS:
        # The inputs themselves (PyTorch keeps saved tensors alive too) and
        # their versions, checked before the rules read them.
        node.s0 = x0
        node.saves = True
        node.had_saved = True
        if t0:
            v0 = _version_of(<TensorBase>x0)
        if n == 2:
            node.s1 = x1
            if t1:
                v1 = _version_of(<TensorBase>x1)
        if v0 or v1:
            if n == 1:
                node.versions = (v0,)
            else:
                node.versions = (v0, v1)
    if op.save & _SAVE_ANS:
        node.saved_ans = out_value
        node.had_saved = True
    return node


cdef Node _make_node(Op op, tuple inputs, object out_value, object params, object name, Py_ssize_t n_out):
    """A node for op applied to inputs (TensorBase or raw values).  The
    tuples are untracked by the cyclic GC: they hold tensors, nodes and
    numbers, which are not GC-tracked either."""
    cdef Py_ssize_t n = len(inputs)
    if n == 1:
        return _make_node2(op, 1, inputs[0], None, out_value, params, name, n_out)
    if n == 2:
        return _make_node2(op, 2, inputs[0], inputs[1], out_value, params, name, n_out)
    cdef Node node = _new_node()
    node.op = op
    node.params = params
    node.label = name
    node.n_out = n_out
    node.n_in = n
    node.edges = tuple([_edge_of(x) for x in inputs])
    node.edge_out = tuple([_out_of(x) for x in inputs])
    PyObject_GC_UnTrack(<PyObject *>node.edges)
    if op.save & _SAVE_INPUTS:
        node.saved = inputs
        PyObject_GC_UnTrack(<PyObject *>inputs)
        node.saves = True
        node.had_saved = True
        node.versions = _versions(inputs)
    if op.save & _SAVE_ANS:
        node.saved_ans = out_value
        node.had_saved = True
    return node


cdef inline int _attach(TensorBase out, Node node, Py_ssize_t i) except -1:
    out._node = node
    out._out = i
    return 0


# --------------------------------------------------------------------------
# The hot path: binary operators and unary math on the front end's tensors.

cdef object _promote_hook = None      # Python: (op, a, b) -> (a, b) converted by PyTorch's promotion


def install_promotion(hook):
    global _promote_hook
    _promote_hook = hook


cdef inline object _dtype_of(object v):
    if type(v) is ndarray:
        return (<cnp.ndarray>v).dtype
    return v.dtype


cdef inline bint _same_shape(object a, object b):
    cdef int nd
    cdef bint a_arr = type(a) is ndarray, b_arr = type(b) is ndarray
    if not a_arr and not b_arr and type(a) is not float and type(b) is not float:
        return True                    # two NumPy scalars
    if a_arr and b_arr:
        nd = cnp.PyArray_NDIM(<cnp.ndarray>a)
        if nd != cnp.PyArray_NDIM(<cnp.ndarray>b):
            return False
        for i in range(nd):
            if cnp.PyArray_DIMS(<cnp.ndarray>a)[i] != cnp.PyArray_DIMS(<cnp.ndarray>b)[i]:
                return False
        return True
    return np.shape(a) == np.shape(b)


cpdef object binary(Op op, object a, object b, object name):
    """a (op) b where a or b is a front-end tensor; Python numbers next to a
    tensor of their kind keep the tensor's dtype (PyTorch's and NumPy 2's weak
    scalars); anything else goes through the front end's promotion."""
    cdef object ra, rb, value, params = None
    cdef bint ta = _is_tb(a), tb = _is_tb(b), na, nb, bx, by
    cdef TensorBase out
    cdef Node node
    if ta and tb:
        ra = (<TensorBase>a)._value
        rb = (<TensorBase>b)._value
        if _dtype_of(ra) is not _dtype_of(rb) and _dtype_of(ra) != _dtype_of(rb):
            a, b = _promote_hook(op, a, b)
            return binary(op, a, b, name)
    elif ta:
        ra = (<TensorBase>a)._value
        if type(b) is float and _is_float_value(ra):
            rb = b
        else:
            a, b = _promote_hook(op, a, b)
            return binary(op, a, b, name)
    elif tb:
        rb = (<TensorBase>b)._value
        if type(a) is float and _is_float_value(rb):
            ra = a
        else:
            a, b = _promote_hook(op, a, b)
            return binary(op, a, b, name)
    else:
        return NotImplemented
    value = op.forward(ra, rb)
    out = _new(_own(value))
    if not (_grad_on() and op.differentiable):
        return out
    na = _needs(a)
    nb = _needs(b)
    if (na or nb) and _is_float_value(out._value):
        bx = na and not _same_shape(ra, out._value)
        by = nb and not _same_shape(rb, out._value)
        if bx or by:
            params = (np.shape(ra) if bx else None, np.shape(rb) if by else None)
        node = _make_node2(op, 2, a, b, out._value, params, name, 1)
        _attach(out, node, 0)
    return out


cpdef object unary(Op op, object x):
    """op(x) for an elementwise op of one tensor."""
    cdef TensorBase t = <TensorBase?>x
    cdef object v = t._value, r
    cdef double d
    if op.scalar is not None and type(v) is float64:
        try:
            d = op.scalar(v)
            r = tg_float64(d)
        except (ValueError, OverflowError):       # domain edge: let NumPy give nan/inf
            r = _own(op.forward(v))
    else:
        r = _own(op.forward(v))
    cdef TensorBase out = _new(r)
    if _grad_on() and op.differentiable and _needs(t) and _is_float_value(r):
        _attach(out, _make_node2(op, 1, t, None, r, None, None, 1), 0)
    return out


def record_op(Op op, tuple inputs, outs, params=None, name=None):
    """Record an op the front end computed itself (its outputs are new
    tensors): the node for outs (a tensor or a tuple of tensors)."""
    if not _grad_on() or not op.differentiable:
        return
    cdef bint any_needs = False
    for x in inputs:
        if _needs(x):
            any_needs = True
    if not any_needs:
        return
    cdef Py_ssize_t i
    if isinstance(outs, tuple):
        node = _make_node(op, inputs, tuple([(<TensorBase>o)._value for o in outs]), params, name, len(outs))
        for i in range(len(outs)):
            if _is_float_value((<TensorBase>outs[i])._value):
                _attach(outs[i], node, i)
    else:
        node = _make_node(op, inputs, (<TensorBase>outs)._value, params, name, 1)
        _attach(outs, node, 0)


def set_node_name(TensorBase t, name):
    if t._node is not None:
        (<Node>t._node).label = name


# --------------------------------------------------------------------------
# Capture: the op library's functions (and create_graph sweeps) on core Tensors

cdef class Capture(Recorder):
    """A core recorder that turns each op applied to the tensors it knows into
    a node.  `known` maps a core Tensor's id to (edge, output index, front-end
    tensor or None): where that tensor's gradient goes."""
    cdef dict known
    cdef bint active

    def __cinit__(self):
        self.known = {}

    cdef int record(self, Op op, tuple inputs, object out, object params) except -1:
        cdef Py_ssize_t i, n = len(inputs)
        cdef list edges = None
        cdef list edge_out = None
        cdef list saved = None
        cdef tuple info
        cdef object x
        if not self.active or not op.differentiable:
            return 0
        for i in range(n):
            x = inputs[i]
            if isinstance(x, CoreTensor):
                info = self.known.get((<CoreTensor>x)._id)
                if info is not None and info[0] is not None:
                    if edges is None:
                        edges = [None] * n
                        edge_out = [0] * n
                    edges[i] = info[0]
                    edge_out[i] = info[1]
        if edges is None:
            return 0
        cdef Node node = _new_node()
        node.op = op
        node.params = params
        node.n_out = op.n_out
        node.n_in = n
        if n <= 2:
            node.e0 = edges[0]
            if n == 2:
                node.e1 = edges[1]
        else:
            node.edges = tuple(edges)
        node.edge_out = tuple(edge_out)
        if op.save & _SAVE_INPUTS:
            # Keep the front end's tensor where the input stands for one (its
            # version is checked at backward), else the core Tensor.
            saved = []
            for i in range(n):
                x = inputs[i]
                info = self.known.get((<CoreTensor>x)._id) if isinstance(x, CoreTensor) else None
                saved.append(info[2] if info is not None and info[2] is not None else x)
            if n <= 2:
                node.s0 = saved[0]
                if n == 2:
                    node.s1 = saved[1]
            else:
                node.saved = tuple(saved)
            node.versions = _versions(tuple(saved))
            node.saves = True
            node.had_saved = True
        if op.save & _SAVE_ANS:
            node.saved_ans = (<CoreTensor>out)._value if op.n_out == 1 else tuple([(<CoreTensor>o)._value for o in out])
            node.had_saved = True
        if op.n_out == 1:
            self.known[(<CoreTensor>out)._id] = (node, 0, None)
        else:
            for i in range(op.n_out):
                self.known[(<CoreTensor>out[i])._id] = (node, i, None)
        return 0


cdef object _read_only_view(object v):
    if type(v) is ndarray:
        v = (<cnp.ndarray>v).view()
        cnp.PyArray_CLEARFLAGS(<cnp.ndarray>v, cnp.NPY_ARRAY_WRITEABLE)
    return v


cdef object _core_for(Capture cap, object x):
    """The core Tensor standing for front-end tensor x inside a capture."""
    cdef TensorBase t
    if not isinstance(x, TensorBase):
        return x
    t = <TensorBase>x
    c = _core.wrap(_read_only_view(t._value))
    cap.known[(<CoreTensor>c)._id] = (_edge(t), t._out, t)
    return c


def _map_args(Capture cap, x):
    if isinstance(x, TensorBase):
        return _core_for(cap, x)
    if type(x) is list or type(x) is tuple:
        return type(x)([_map_args(cap, e) for e in x])
    return x


cdef object _from_core(Capture cap, object c):
    """A front-end tensor for a core result, holding its node if captured."""
    cdef TensorBase t
    cdef tuple info
    if isinstance(c, CoreTensor):
        t = _new((<CoreTensor>c)._value)
        info = cap.known.get((<CoreTensor>c)._id)
        if info is not None and info[0] is not None:
            if isinstance(info[0], Node):
                _attach(t, <Node>info[0], info[1])
            elif info[2] is not None:
                return info[2]                 # the function returned its input unchanged
        return t
    if type(c) is tuple or type(c) is list:
        return type(c)([_from_core(cap, e) for e in c])
    return c


def call_captured(f, args, kwargs, name=None):
    """f(*args, **kwargs) of the op library, on core Tensors standing for the
    front-end tensors in args; the ops f applies become nodes (grad mode on
    and an input requiring grad).  Returns f's result with front-end tensors.
    name: the grad_fn name of the result's node."""
    cdef Capture cap = Capture.__new__(Capture)
    cdef bint record = _grad_on()
    if record:
        for x in (list(args) + list(kwargs.values()) if kwargs else args):
            if _needs(x) or (type(x) in (list, tuple) and any(_needs(e) for e in x)):
                break
        else:
            record = False
    cargs = _map_args(cap, args)
    ckw = {k: _map_args(cap, v) for k, v in kwargs.items()} if kwargs else {}
    if not record:
        return _from_core(cap, f(*cargs, **ckw))
    cap.active = True
    _core.push_recorder(cap)
    try:
        r = f(*cargs, **ckw)
    finally:
        _core.pop_recorder(cap)
        cap.active = False
    out = _from_core(cap, r)
    if name is not None and isinstance(out, TensorBase) and (<TensorBase>out)._node is not None:
        (<Node>(<TensorBase>out)._node).label = name
    return out


# --------------------------------------------------------------------------
# Backward

cdef class _Targets:
    """What a sweep delivers: into leaves' .grad (backward) or into a list
    (autograd.grad: `where` maps a leaf or (node, output) to its position)."""
    cdef dict where
    cdef list results
    cdef bint accumulate          # backward(): add into .grad
    cdef object only              # backward(inputs=...): set of leaf ids, or None


cdef class OutputGuard:
    """In a node's `retained` list: the version its saved output had when its
    memory could first change (checked before the node runs)."""
    cdef Version version
    cdef int64_t v


cdef int _guard_saved_output(Node node, TensorBase t) except -1:
    cdef OutputGuard guard
    if node.saved_ans is None or t._version is None:
        return 0
    if node.retained is None:
        node.retained = []
    for i, x in node.retained:
        if type(x) is OutputGuard and i == t._out:
            return 0
    guard = OutputGuard.__new__(OutputGuard)
    guard.version = t._version
    guard.v = t._version.v
    node.retained.append((t._out, guard))
    return 0


cdef int _check_saved_output(Node node, Py_ssize_t i, OutputGuard guard) except -1:
    cdef int64_t v = guard.v
    version = guard.version
    if node.saved_ans is not None and (<Version>version).v != v:
        ans = node.saved_ans[i] if type(node.saved_ans) is tuple else node.saved_ans
        n = node._name()
        if n.endswith("Backward0") or n.endswith("Backward1"):
            n = n[:len(n) - 9]
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an inplace "
            f"operation: [{_legacy_type(ans)} {list(np.shape(ans))}], which is output {i} of {n}, is at version "
            f"{(<Version>version).v}; expected version {v} instead. Hint: enable anomaly detection to find the "
            "operation that failed to compute its gradient, with torch.autograd.set_detect_anomaly(True, "
            "check_nan=False).")
    return 0


cdef inline bint _never_changed(object x):
    """x (a saved input) is a raw value or a tensor still at version 0."""
    return not _is_tb(x) or (<TensorBase>x)._version is None


cdef int _check_versions(Node node) except -1:
    cdef object vs = node.versions
    cdef Py_ssize_t i
    cdef TensorBase t
    cdef int64_t v
    if not node.saves:
        return 0
    if node.saved is None and _never_changed(node.s0) and (node.n_in == 1 or _never_changed(node.s1)):
        return 0                           # the usual case: nothing saved was changed in place
    for i in range(node.n_in):
        x = _saved_at(node, i)
        if not _is_tb(x):
            continue
        t = <TensorBase>x
        if t._version is None:
            continue                       # never changed in place: still version 0
        v = 0 if vs is None else (<tuple>vs)[i]
        if t._version.v != v:
            _version_error(t, v)
    return 0


cdef int _version_error(TensorBase t, int64_t v) except -1:
    shape = list(np.shape(t._value))
    what = ""
    if t._node is not None:
        n = (<Node>t._node)._name()
        if n.endswith("Backward0") or n.endswith("Backward1"):
            n = n[:len(n) - 9]
        what = f", which is output {t._out} of {n},"
    raise RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [{_legacy_type(t._value)} {shape}]{what} is at version {_version_of(t)}; expected "
        f"version {v} instead. Hint: enable anomaly detection to find the operation that failed to "
        "compute its gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).")


cdef str _legacy_type(object v):
    k = np.result_type(v).name
    return {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor", "float16": "torch.HalfTensor",
            "int64": "torch.LongTensor", "int32": "torch.IntTensor"}.get(k, "torch.Tensor")


cdef inline object _raw(object x):
    cdef type tp = type(x)
    if tp is float64 or tp is ndarray or tp is float:
        return x
    if _is_tb(x):
        return (<TensorBase>x)._value
    if isinstance(x, CoreTensor):
        return (<CoreTensor>x)._value
    return x


cdef tuple _raw_tuple(tuple xs):
    cdef Py_ssize_t n = len(xs)
    if n == 1:
        return (_raw(xs[0]),)
    if n == 2:
        return (_raw(xs[0]), _raw(xs[1]))
    return tuple([_raw(x) for x in xs])


cdef object _as_core(Capture cap, object x):
    """Tensor mode (create_graph): a saved value as a core Tensor the capture knows."""
    if isinstance(x, TensorBase):
        return _core_for(cap, x)
    return x


cdef object _add(object a, object b):
    """a + b, a being None before a gradient's first term (then b)."""
    if a is None:
        return b
    return a + b


cdef inline void _free_saved(Node node):
    """What a backward without retain_graph does to a node it ran."""
    node.saves = False
    node.s0 = None
    node.s1 = None
    node.saved = None
    node.saved_ans = None
    node.versions = None
    node.freed = True


def run_backward(list roots, list seeds, bint retain_graph, bint create_graph, inputs, bint accumulate,
                 bint allow_unused=True):
    """The sweep.  roots: tensors; seeds: raw values (or front-end tensors when
    create_graph).  accumulate: add into leaves' .grad (backward(); `inputs`
    restricts it to those leaves); else return the gradients of `inputs`
    (autograd.grad), None where unused."""
    cdef Node node, nxt
    cdef TensorBase t, leaf
    cdef Py_ssize_t i, n
    cdef object e, g, gi, g0
    cdef dict leaf_grads = {}            # id(leaf) -> gradient (raw or core Tensor)
    cdef dict leaf_obj = {}
    cdef dict wanted_nodes = {}          # (id(node), out) -> position in inputs, for non-leaf inputs
    cdef list results = None
    cdef Capture cap = None
    cdef list visited = []            # the reachable nodes (owned references)
    cdef _ReadyStack ready
    global _sweep_id
    _sweep_id += 1
    cdef int64_t mark = _sweep_id
    cdef object only = None
    global _pending_leaves, _pending_objs
    cdef object old_pending = (_pending_leaves, _pending_objs)
    if inputs is not None:
        results = [None] * len(inputs)
        if accumulate:
            only = set()
        for i in range(len(inputs)):
            t = inputs[i]
            if t._node is not None:
                wanted_nodes[(id(t._node), t._out)] = i
            elif accumulate:
                only.add(id(t))
    if create_graph:
        cap = Capture.__new__(Capture)
    # (1) reachable nodes and their dependency counts, iteratively.  With
    # inputs, also whether every leaf reached is an input: then every node
    # leads to an input (each node has an edge toward a leaf that requires
    # grad) and none is to be left out.
    cdef set input_leaves = None
    cdef bint other_leaves = False
    if inputs is not None:
        input_leaves = set([id(t) for t in inputs if (<TensorBase>t)._node is None])
    try:
        _count_deps(roots, visited, mark, inputs is None,
                    input_leaves if not wanted_nodes else None, &other_leaves)
    except BaseException:
        _reset_counts(visited)            # a failed backward leaves no counts behind
        raise
    cdef bint pruned = False             # with inputs: only nodes marked -mark run
    if inputs is not None and (wanted_nodes or other_leaves):
        pruned = _mark_nodes_to_inputs(visited, inputs, wanted_nodes, mark)
    # (2) seeds.
    ready = _ReadyStack.__new__(_ReadyStack, len(visited))
    for i in range(len(roots)):
        t = roots[i]
        g = seeds[i]
        if create_graph:
            g = _as_core(cap, g) if isinstance(g, TensorBase) else _core.wrap(g)
        if t._node is None:
            leaf_grads[id(t)] = _add(leaf_grads.get(id(t)), g)
            leaf_obj[id(t)] = t
            continue
        node = <Node>t._node
        if node.n_out == 1:
            node.grad0 = _add(node.grad0, g)
        else:
            if node.grads is None:
                node.grads = [None] * node.n_out
            node.grads[t._out] = _add(node.grads[t._out], g)
    for t in roots:
        if t._node is not None and (<Node>t._node).deps == 0 and not ready.has(<Node>t._node):
            if not pruned or (<Node>t._node).mark == -mark or _is_target(<Node>t._node, wanted_nodes):
                ready.push(<Node>t._node)
    # (3) the sweep.
    _pending_leaves, _pending_objs = leaf_grads, leaf_obj
    cdef bint all_ran = False
    if create_graph:
        cap.active = True
        _core.push_recorder(cap)
    try:
        while ready.n:
            node = ready.pop()
            if pruned and node.mark != -mark and not _is_target(node, wanted_nodes):
                continue                  # reached, but leads to no input: not run, its hooks not called
            if node.n_out == 1:
                grads = [node.grad0] if (node.retained is not None or wanted_nodes) else None
                g0 = node.grad0
                node.grad0 = None
            else:
                grads = node.grads
                node.grads = None
                g0 = None
            if node.retained is not None:
                _deliver_retained(node, grads, create_graph, cap)
                if node.n_out == 1:
                    g0 = grads[0]                 # a hook may have replaced it
            if wanted_nodes:
                for i in range(node.n_out):
                    k = (id(node), i)
                    if k in wanted_nodes and grads[i] is not None:
                        results[wanted_nodes[k]] = grads[i]
            if pruned and node.mark != -mark:
                # Not between the outputs and the inputs: PyTorch does not run
                # it.  A non-leaf input's own node counts as run by backward()
                # (its saved values are freed), not by autograd.grad.
                if accumulate and not retain_graph and _is_target(node, wanted_nodes):
                    _free_saved(node)
                continue
            _run_node(node, g0, grads, create_graph, cap, retain_graph)
            if node.edges is None:
                _release(node.e0, ready)
                if node.n_in == 2:
                    _release(node.e1, ready)
            else:
                for e in node.edges:
                    _release(e, ready)
            if not retain_graph and node.had_saved:
                _free_saved(node)
        # Without pruning every reached node ran once, and running it left its
        # count at 0 and its gradient cleared: nothing to reset.
        all_ran = not pruned
    finally:
        _pending_leaves, _pending_objs = old_pending
        if create_graph:
            _core.pop_recorder(cap)
            cap.active = False
        if not all_ran:
            _reset_counts(visited)    # a failed or pruned sweep leaves no counts behind
    # (4) deliver.
    if not accumulate:
        for i in range(len(inputs)):
            t = inputs[i]
            if t._node is None and id(t) in leaf_grads:
                results[i] = leaf_grads[id(t)]
                if t._hooks is not None:
                    results[i] = _leaf_pre_hooks(t, results[i], cap, create_graph)
        out = []
        for i in range(len(results)):
            g = results[i]
            if g is None:
                if not allow_unused:
                    raise RuntimeError(
                        f"The differentiated Tensor at index {i} appears to not have been used in the graph. "
                        "Set allow_unused=True if this is the desired behavior.")
                out.append(None)
            else:
                out.append(_grad_tensor(cap, g, inputs[i], create_graph))
        return out
    for k, g in leaf_grads.items():
        leaf = leaf_obj[k]
        if only is not None and k not in only:
            continue
        if leaf._hooks is not None:
            g = _leaf_pre_hooks(leaf, g, cap, create_graph)
        _accumulate_into(leaf, _grad_tensor(cap, g, leaf, create_graph), create_graph)
        if leaf._hooks is not None:
            _leaf_post_hooks(leaf)
    if wanted_nodes:                     # backward(inputs=[non-leaf]): into its .grad, as PyTorch
        _accumulate_non_leaves(inputs, results, cap, create_graph)
    return None


cdef inline int _release(object e, _ReadyStack ready) except -1:
    """The sweep ran a consumer of e: e is ready once all its consumers ran."""
    cdef Node nxt
    if type(e) is Node or isinstance(e, Node):
        nxt = <Node>e
        nxt.deps -= 1
        if nxt.deps == 0:
            ready.push(nxt)
    return 0


cdef int _count_deps(list roots, list visited, int64_t mark, bint check_freed, set input_leaves,
                     bint *other_leaves) except -1:
    """Collect in `visited` the nodes reachable from the roots, breadth first
    (`visited` is its own queue: no stack that grows and shrinks per node),
    and count each node's reachable consumers in `deps`.  check_freed: raise
    at a node whose saved values a backward freed (with `inputs`, only the
    nodes between the outputs and the inputs must still hold theirs).
    input_leaves (a set of ids, or None): set *other_leaves when a reached
    leaf is not among them."""
    cdef TensorBase t
    cdef Node node, nxt
    cdef Py_ssize_t k = 0, i
    cdef object e
    for t in roots:
        if t._node is not None:
            node = <Node>t._node
            if node.mark != mark:
                node.mark = mark
                visited.append(node)
    while k < len(visited):
        node = <Node>visited[k]
        k += 1
        if check_freed and node.freed and node.had_saved:
            raise RuntimeError(FREED_MESSAGE)
        if node.edges is None:             # one or two inputs: their C fields
            _count_edge(node.e0, visited, mark, input_leaves, other_leaves)
            if node.n_in == 2:
                _count_edge(node.e1, visited, mark, input_leaves, other_leaves)
        else:
            for e in node.edges:
                _count_edge(e, visited, mark, input_leaves, other_leaves)
    return 0


cdef inline int _count_edge(object e, list visited, int64_t mark, set input_leaves, bint *other_leaves) except -1:
    """One edge of a reached node: a node's consumer count, or a leaf."""
    cdef Node nxt
    if e is None:
        return 0
    if type(e) is Node or isinstance(e, Node):
        nxt = <Node>e
        nxt.deps += 1
        if nxt.mark != mark:
            nxt.mark = mark
            visited.append(nxt)
    elif input_leaves is not None and not other_leaves[0] and id(e) not in input_leaves:
        other_leaves[0] = True
    return 0


cdef int _reset_counts(list visited) except -1:
    cdef Node node
    for node in visited:
        node.deps = 0
        node.grad0 = None
        node.grads = None
    return 0


@cython.final
cdef class _ReadyStack:
    """The sweep's nodes whose consumers have all run: a C array of borrowed
    references (the sweep's `visited` list owns them).  A Python list would
    reallocate on each push and pop while it holds one node, as in a chain.
    Each reachable node is pushed at most once, so `size` slots suffice."""
    cdef PyObject **data
    cdef Py_ssize_t n, size

    def __cinit__(self, Py_ssize_t size):
        self.data = <PyObject **>malloc((size + 1) * sizeof(PyObject *))
        if self.data == NULL:
            raise MemoryError()
        self.size = size + 1

    def __dealloc__(self):
        free(self.data)

    cdef inline int push(self, Node node) except -1:
        if self.n >= self.size:
            raise RuntimeError("tapegrad._graph: a node was made ready twice")
        self.data[self.n] = <PyObject *>node
        self.n += 1
        return 0

    cdef inline Node pop(self):
        self.n -= 1
        return <Node>self.data[self.n]

    cdef bint has(self, Node node):
        cdef Py_ssize_t i
        for i in range(self.n):
            if self.data[i] == <PyObject *>node:
                return True
        return False


cdef int _accumulate_non_leaves(list inputs, list results, Capture cap, bint create_graph) except -1:
    cdef TensorBase t
    for i in range(len(inputs)):
        t = inputs[i]
        if t._node is not None and results[i] is not None and not _retained_by(<Node>t._node, t):
            _accumulate_into(t, _grad_tensor(cap, results[i], t, create_graph), create_graph)
    return 0


cdef bint _retained_by(Node node, TensorBase t):
    """Whether t retains its grad (then the sweep has delivered it already)."""
    if node.retained is None:
        return False
    for i, ref in node.retained:
        if type(ref) is not Hook and type(ref) is not OutputGuard and ref() is t:
            return True
    return False


cdef bint _is_target(Node node, dict wanted_nodes):
    for i in range(node.n_out):
        if (id(node), i) in wanted_nodes:
            return True
    return False


cdef bint _mark_nodes_to_inputs(list visited, list inputs, dict wanted_nodes, int64_t mark) except -1:
    """backward(inputs=...) / autograd.grad: mark (mark = -mark) the nodes that
    lie between the outputs and the inputs, the ones PyTorch runs, and redo the
    dependency counts over them.  Returns whether some reached node is not
    marked (else the sweep runs them all, as without inputs)."""
    cdef Node node, nxt
    cdef list order = [], ready = []
    cdef set leaves = None
    cdef Py_ssize_t i, n_run = 0
    cdef object e
    for t in inputs:
        if (<TensorBase>t)._node is None:
            if leaves is None:
                leaves = set()
            leaves.add(id(t))
    for node in visited:
        if node.deps == 0:
            ready.append(node)
    while ready:                         # a topological order, consumers first (uses up deps)
        node = <Node>ready.pop()
        order.append(node)
        for i in range(node.n_in):
            e = _edge_at(node, i)
            if isinstance(e, Node):
                nxt = <Node>e
                nxt.deps -= 1
                if nxt.deps == 0:
                    ready.append(nxt)
    for k in range(len(order) - 1, -1, -1):   # producers first: run if an edge leads to an input
        node = <Node>order[k]
        for i in range(node.n_in):
            e = _edge_at(node, i)
            if e is None:
                continue
            if isinstance(e, Node):
                if (<Node>e).mark == -mark or (wanted_nodes and (
                        id(e), node.edge_out[i] if node.edge_out is not None else 0) in wanted_nodes):
                    node.mark = -mark
                    n_run += 1
                    break
            elif leaves is not None and id(e) in leaves:
                node.mark = -mark
                n_run += 1
                break
    for node in visited:
        node.deps = 0
    for node in visited:
        if node.mark == -mark:
            for i in range(node.n_in):
                e = _edge_at(node, i)
                if isinstance(e, Node):
                    (<Node>e).deps += 1
    return n_run != len(visited)


cdef object _grad_tensor(Capture cap, object g, TensorBase like, bint create_graph):
    """A gradient as a front-end tensor in like's dtype and shape (fresh, writable)."""
    cdef TensorBase t
    if create_graph:
        if isinstance(g, CoreTensor):
            t = _from_core(cap, g)
            if t._node is None:
                t = _new(np.array(t._value, dtype=_dtype_of(like._value)))
            return t
        g = _raw(g)
    dt = _dtype_of(like._value)
    arr = np.array(g, dtype=dt)
    if np.shape(arr) != np.shape(like._value):
        arr = np.array(np.broadcast_to(arr, np.shape(like._value)))
    return _new(_own(arr))


cdef int _accumulate_into(TensorBase leaf, TensorBase g, bint create_graph) except -1:
    cdef TensorBase old = leaf._grad
    if old is None:
        leaf._grad = _copy_of_grad(g) if create_graph and g._node is not None else g
    elif create_graph or g._node is not None:
        leaf._grad = old + g
    elif old._node is not None:          # in place, keeping its grad_fn, as PyTorch
        old._value = _own(old._value + g._value)
    elif type(old._value) is ndarray and (<cnp.ndarray>old._value).flags.writeable:
        np.add(old._value, g._value, out=old._value)
    else:
        old._value = _own(old._value + g._value)
    return 0


cdef TensorBase _copy_of_grad(TensorBase g):
    """What a first accumulation with create_graph=True stores in .grad, as
    PyTorch does: a copy of the gradient whose grad_fn is `CopyBackwards`, with
    PyTorch's two edges (none for the zeros copied into, then the gradient's
    node); its backward passes the gradient through."""
    cdef TensorBase out = _new(_own(np.array(g._value)))
    zeros = np.zeros_like(g._value)
    _attach(out, _make_node2(_op_add, 2, zeros, g, out._value, None, "CopyBackwards", 1), 0)
    return out


cdef int _deliver_retained(Node node, list grads, bint create_graph, Capture cap) except -1:
    """The hooks registered on node's outputs, in order (each may replace the
    gradient), then retain_grad's delivery (last, as in PyTorch 2)."""
    cdef TensorBase t
    for i, ref in node.retained:
        if type(ref) is OutputGuard:
            _check_saved_output(node, i, <OutputGuard>ref)
    for i, ref in node.retained:
        if type(ref) is Hook and grads[i] is not None:
            grads[i] = _call_hook(<Hook>ref, grads[i], cap, create_graph)
    for i, ref in node.retained:
        if type(ref) is Hook or type(ref) is OutputGuard:
            continue
        t = ref()
        if t is not None and grads[i] is not None:
            g = _grad_tensor(None, grads[i], t, False) if not create_graph else None
            if g is not None:
                _accumulate_into(t, g, False)
    return 0


# --------------------------------------------------------------------------
# Hooks (Tensor.register_hook, register_post_accumulate_grad_hook).  A
# non-leaf's hooks sit in its node's `retained` list beside retain_grad's
# entries; a leaf's in its `_hooks` field, so unused hooks cost one test per
# node and per leaf.  A hook often refers to its own tensor (a closure over
# it), a cycle the tensor's graph is otherwise never part of: registering a
# hook puts the tensor (and a non-leaf's node) under the cyclic GC, which the
# rest of the graph stays out of (see TensorBase), so such a cycle is
# collected as PyTorch's is.

cdef class Hook:
    cdef readonly object fn
    cdef list where


class RemovableHandle:
    """What register_hook returns: `remove()` unregisters the hook."""
    __slots__ = ("_hook",)

    def __init__(self, hook):
        self._hook = hook

    def remove(self):
        cdef Hook h = self._hook
        if h.where is not None:
            for i in range(len(h.where)):
                e = h.where[i]
                if (type(e) is tuple and e[1] is h) or e is h:
                    del h.where[i]
                    break
            h.where = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


cdef inline void _gc_track(object o):
    if not PyObject_GC_IsTracked(o):
        PyObject_GC_Track(<PyObject *>o)


cdef object _call_hook(Hook h, object g, Capture cap, bint create_graph):
    if create_graph:
        ft = _from_core(cap, g) if isinstance(g, CoreTensor) else _new(_own(np.array(_raw(g))))
    else:
        ft = _new(_own(np.array(g)))
    r = h.fn(ft)
    if r is None:
        return g
    if not isinstance(r, TensorBase):
        raise TypeError(f"hook '{getattr(h.fn, '__name__', h.fn)}' returned a {type(r).__name__}, not a Tensor")
    if np.shape((<TensorBase>r)._value) != np.shape(_raw(g)):
        raise RuntimeError(f"hook '{getattr(h.fn, '__name__', h.fn)}' has changed the size of value")
    if create_graph:
        return _core_for(cap, r)
    return (<TensorBase>r)._value


cdef object _leaf_pre_hooks(TensorBase leaf, object g, Capture cap, bint create_graph):
    for h in list(leaf._hooks[0]):
        g = _call_hook(<Hook>h, g, cap, create_graph)
    return g


cdef int _leaf_post_hooks(TensorBase leaf) except -1:
    for h in list(leaf._hooks[1]):
        (<Hook>h).fn(leaf)
    return 0


def register_hook(TensorBase t, fn, bint post_accumulate=False):
    """Register fn on t: a gradient hook (fn(grad) -> None or a replacement)
    or, for a leaf, a post-accumulate hook (fn(t) after t.grad is updated)."""
    cdef Hook h = Hook.__new__(Hook)
    cdef Node node
    h.fn = fn
    _gc_track(t)
    if t._node is not None:
        node = <Node>t._node
        _gc_track(node)
        if node.retained is None:
            node.retained = []
        h.where = node.retained
        node.retained.append((t._out, h))
        return RemovableHandle(h)
    if t._hooks is None:
        t._hooks = [[], []]
    h.where = t._hooks[1 if post_accumulate else 0]
    h.where.append(h)
    return RemovableHandle(h)


def retain_grad(TensorBase t):
    cdef Node node = <Node>t._node
    if node.retained is None:
        node.retained = []
    node.retained.append((t._out, weakref.ref(t)))
    t._retains_grad = True


cdef int _run_node(Node node, object g0, list grads, bint create_graph, Capture cap, bint retain_graph) except -1:
    cdef Op op = node.op
    cdef Py_ssize_t i, n = node.n_in
    cdef object g, ans, gi, e
    cdef tuple ins, saved
    if node.freed and node.had_saved:
        raise RuntimeError(FREED_MESSAGE)
    _check_versions(node)
    if node.n_out == 1:
        g = g0
        if g is None:
            return 0
    else:
        if all(x is None for x in grads):
            return 0
        g = tuple(grads)
    ans = node.saved_ans
    if not create_graph and node.n_out == 1:
        g = _raw(g)
        if (op.vjp_forms is not None and type(g) is float64 and node.params is None and shortcuts_on()
                and _scalar_rules(node, op, g)):
            return 0
    if not node.saves:
        ins = op._nones if op.n_in >= 0 else (None,) * n
        if create_graph and ans is not None:
            ans = _core_for_out(cap, node, ans)
        elif not create_graph and node.n_out != 1:
            g = _raw_tuple(g)
    elif create_graph:
        ins = tuple([_as_core(cap, x) for x in _saved_tuple(node)])
        if ans is not None:
            ans = _core_for_out(cap, node, ans)
    else:
        if n == 1:
            ins = (_raw(node.s0),)
        elif n == 2:
            ins = (_raw(node.s0), _raw(node.s1))
        else:
            ins = _raw_tuple(node.saved)
        if node.n_out != 1:
            g = _raw_tuple(g)
    if op.calling == _CALL_JOINT:
        needs = tuple([_edge_at(node, i) is not None for i in range(n)])
        gs = op.vjps[0](g, ans, needs, ins, *(node.params or ()))
    else:
        gs = None
    for i in range(n):
        e = _edge_at(node, i)
        if e is None:
            continue
        gi = gs[i] if gs is not None else vjp_rule(op, i, g, ans, ins, node.params)
        if gi is None:
            continue
        if create_graph and not isinstance(gi, CoreTensor):
            gi = _core.wrap(gi)
        _deliver(node, i, e, gi)
    return 0


cdef inline int _deliver(Node node, Py_ssize_t i, object e, object gi) except -1:
    """Add gi, the gradient node's rules gave for input i, where input i's
    gradients go: e, its edge (a node's output, or a leaf)."""
    cdef Node nxt
    if type(e) is Node or isinstance(e, Node):
        nxt = <Node>e
        if nxt.n_out == 1:
            nxt.grad0 = _add(nxt.grad0, gi)
            return 0
        if nxt.grads is None:
            nxt.grads = [None] * nxt.n_out
        j = node.edge_out[i] if node.edge_out is not None else 0
        nxt.grads[j] = _add(nxt.grads[j], gi)
    else:
        _leaf_add(<TensorBase>e, gi)
    return 0


cdef int _scalar_rules(Node node, Op op, object g) except -1:
    """A unary or binary op's VJP forms in C (the core's scalar_form_values,
    as the core's sweep runs them) for a float64 scalar cotangent g: 1 when
    done, 0 to leave it to the Python rules (no form, an operand that is not
    a float or float64, or a result NumPy would flag), before delivering
    anything: the same bits as the rules."""
    cdef double r[2]
    cdef bint wanted[2]
    cdef bint passes[2]
    cdef PyObject *ins[2]
    cdef object s0 = None, s1 = None, e
    cdef Py_ssize_t i, n = node.n_in
    if n > 2 or node.edges is not None:
        return 0
    if node.saves:                      # raw values; held by s0/s1 while ins points at them
        s0 = _raw(node.s0)              # (n <= 2: the inputs sit in s0, s1 and e0, e1)
        if n == 2:
            s1 = _raw(node.s1)
    ins[0] = <PyObject *>s0
    ins[1] = <PyObject *>s1
    wanted[0] = node.e0 is not None
    wanted[1] = n == 2 and node.e1 is not None
    if not scalar_form_values(op, wanted, n, g, node.saved_ans, ins, r, passes):
        return 0
    if wanted[0]:
        _deliver(node, 0, node.e0, g if passes[0] else tg_float64(r[0]))
    if wanted[1]:
        _deliver(node, 1, node.e1, g if passes[1] else tg_float64(r[1]))
    return 1


cdef dict _pending_leaves = None


cdef object _core_for_out(Capture cap, Node node, object ans):
    if type(ans) is tuple:
        out = []
        for i in range(len(ans)):
            c = _core.wrap(_read_only_view(ans[i]))
            cap.known[(<CoreTensor>c)._id] = (node, i, None)
            out.append(c)
        return tuple(out)
    c = _core.wrap(_read_only_view(ans))
    cap.known[(<CoreTensor>c)._id] = (node, 0, None)
    return c


cdef int _leaf_add(TensorBase leaf, object gi) except -1:
    _pending_leaves[id(leaf)] = _add(_pending_leaves.get(id(leaf)), gi)
    _pending_objs[id(leaf)] = leaf
    return 0


cdef dict _pending_objs = None
