# The compiled core: tensors, variables, ops and the tape.  Declared here so
# other Cython modules could cimport the types; the Python layer only sees
# the def/cpdef surface.
cimport cython
from libc.stdint cimport int32_t, int64_t
from cpython.ref cimport PyObject

cdef extern from "tg_idmap.h":
    ctypedef struct tg_idmap:
        int64_t *keys
        size_t cap
        size_t len
    void tg_idmap_init(tg_idmap *m)
    void tg_idmap_free(tg_idmap *m)
    void tg_idmap_clear(tg_idmap *m)
    int32_t tg_idmap_get(const tg_idmap *m, int64_t key)
    int tg_idmap_put(tg_idmap *m, int64_t key, int32_t val)

cdef extern from "tg_buffers.h":
    ctypedef struct tg_i32vec:
        int32_t *data
        size_t len
        size_t cap
    ctypedef struct tg_objvec:
        PyObject **data
        size_t len
        size_t cap
    void tg_i32vec_init(tg_i32vec *v)
    void tg_i32vec_free(tg_i32vec *v)
    int tg_i32vec_push(tg_i32vec *v, int32_t x)
    int tg_i32vec_reserve(tg_i32vec *v, size_t extra)
    int tg_objvec_reserve(tg_objvec *v, size_t extra)
    void tg_objvec_init(tg_objvec *v)
    int tg_objvec_push(tg_objvec *v, PyObject *x)
    void tg_objvec_release(tg_objvec *v, size_t i)
    void tg_objvec_free(tg_objvec *v)

cdef extern from "tg_forms.h":
    ctypedef void (*tg_loop_fn)(char **, const Py_ssize_t *, const Py_ssize_t *, void *)
    ctypedef struct tg_step:
        int code
        int arg
        int sop
        double c
        PyObject *obj
        tg_loop_fn loop
        void *data
    ctypedef struct tg_form:
        int len
        int scalar
        int reads
        int numpy_reads
        tg_step steps[8]


cdef class _Operand:
    pass


cdef class Tensor(_Operand):
    cdef object __weakref__         # caches and frameworks hold tensors weakly (as TensorFlow's allow)
    cdef readonly object _value     # read-only ndarray, or a NumPy scalar for 0-d
    cdef readonly int64_t _id


cdef class _VarState:
    cdef object value
    cdef int64_t id
    cdef Tensor read_tensor          # cached read of the current value
    cdef object name
    cdef bint trainable
    cdef object owner_ref            # weakref to the Variable the user created


cdef class Variable(_Operand):
    cdef object __weakref__
    cdef readonly _VarState _state
    cdef bint _unread
    @staticmethod
    cdef Variable _unread_view(_VarState s)


cdef enum:
    _SCALAR_VJP_PASS = 1     # Op.scalar_vjp codes (see Op.__init__)
    _SCALAR_VJP_SCALE = 2


cdef class Op:
    cdef readonly str name
    cdef readonly object forward
    cdef readonly tuple vjps
    cdef readonly tuple jvps
    cdef readonly bint batching
    cdef readonly tuple reads
    cdef readonly object scalar
    cdef readonly int save
    cdef readonly int kind
    cdef readonly int calling       # CALL_*: how _vjp_of / _jvp_of call the rules
    cdef readonly int n_in
    cdef readonly int n_out
    cdef readonly bint differentiable
    cdef readonly bint joint
    cdef readonly bint linear       # JVP = forward applied to the tangent
    cdef readonly tuple cvjps       # rules for complex cotangents (None: the real ones)
    cdef readonly tuple cjvps       # rules for complex tangents (None: the real ones)
    cdef readonly tuple factors     # per input: factor(ans, *inputs) with vjp == g * factor, or None
    cdef readonly tuple diag_vjps   # per input: rule for a diagonal batched cotangent, or None
    cdef bint _constant_factors     # every factor is a number (add, subtract): data, not a call
    cdef tuple _nones
    cdef unsigned long _read_bits[8]   # reads as C bits (ops of up to 8 inputs)
    cdef int _n_read_bits               # how many of _read_bits are set (0: use reads)
    cdef readonly int scalar_vjp        # SCALAR_VJP_*: the rules in C for float64 scalars (0: none)
    cdef public Op factor_op            # a unary op whose rule is g * factor_op(x), or None
    cdef public object forward_factor   # a unary op's forward that also gives its factor, or None
    cdef readonly tuple vjp_forms       # per input (unary/binary ops): the rule as a form, or None
    cdef tuple _form_refs               # what the compiled forms point to (ufuncs, constants)
    cdef tg_form _forms[2]              # the forms compiled (len 0: none)
    # Public ops are Op instances (tg.sin): their docstring, signature and
    # names live here, so help() and inspect.signature() describe the op.
    cdef dict __dict__
    cdef int _check_rule_call(self, Py_ssize_t i, tuple inputs, object params) except -1


cdef class Recorder:
    cdef int record(self, Op op, tuple inputs, object out, object params) except -1
    cdef int on_variable_read(self, Variable v) except -1
    cdef bint tracks(self, int64_t tid)


@cython.final                       # no subclasses: its methods are called directly (recording's hot path)
cdef class WengertList(Recorder):
    cdef object __weakref__
    cdef tg_idmap slots
    cdef int32_t n_slots
    cdef tg_i32vec node_start       # CSR offsets into node_objs, one more than nodes
    cdef tg_objvec node_objs        # per node: op, saved inputs, saved output, params (see _core.pyx)
    cdef tg_i32vec in_start
    cdef tg_i32vec in_slot
    cdef tg_i32vec out_start
    cdef tg_i32vec out_slot
    cdef readonly bint persistent
    cdef readonly bint watch_accessed_variables
    cdef readonly bint released
    cdef dict _watched_vars
    cdef int64_t generation
    cdef int _record(self, Op op, PyObject **ins, Py_ssize_t n, object out, object params) except -1
    cdef int32_t _new_slot(self, int64_t tid) except -2
    cdef Py_ssize_t _n_nodes(self)
    cdef void _free_nodes(self)
    cdef int _watch_var(self, Variable v) except -1
    cdef void _propagate_reach(self, char *reach, Py_ssize_t n_nodes)
    cdef int _path_batches(self, char *reach, char *need, Py_ssize_t n_nodes) except -1
    cdef int _sweep(self, PyObject **grads, char *reach, char *keep, Py_ssize_t n_nodes,
                    bint tensor_mode, int64_t gen, object batch, bint free_saved) except -1
    cdef bint _owned_factor_rule(self, Py_ssize_t k, PyObject **grads, char *reach, object batch) except -1
    cdef int _run_rules(self, Py_ssize_t k, PyObject **grads, char *reach, bint tensor_mode,
                        object batch) except -1
    cdef int _call_rules(self, Op op, int32_t *targets, Py_ssize_t n_in, object g, object ans, tuple ins,
                         object params, PyObject **grads, bint tensor_mode, object batch) except -1


cdef class Accumulator(Recorder):
    cdef object __weakref__
    cdef tg_idmap index              # tensor id -> position in `tangents`
    cdef list tangents
    cdef dict memo                   # (ufunc, tensor id) -> (its value, the ufunc's value), or None
    cdef bint memo_fill              # this record() keeps values in memo (forward over reverse)
    cdef object memo_owner           # weakref to the inner recorder memo's values were recorded under
    cdef object _memo_call(self, object uf, object x, object raw)
    cdef int _memo_put(self, object uf, object x, object value) except -1
    cdef int _memo_owned_by(self, object top) except -1
    cdef int _set(self, int64_t tid, object tangent) except -1
    cdef object _jvp(self, Op op, tuple inputs, object out, object params, list tans, bint tensor_mode)


cdef class ReadLog(Recorder):
    cdef readonly list variables
    cdef set _ids


# The one rule call, for tapegrad._graph (graphs owned by tensors).
cdef object vjp_rule(Op op, Py_ssize_t i, object g, object ans, tuple ins, object params)
# Whether the shortcuts of structured_cotangents() are on (tapegrad._graph's C rules follow it).
cdef bint shortcuts_on() noexcept
# An op's VJP forms on float64 scalars in C doubles (the core's raw sweep and _graph's share it).
cdef int scalar_form_values(Op op, const bint *wanted, Py_ssize_t n_in, object g, object ans,
                            PyObject **ins, double *r, bint *passes) except -1
