/* Small elementwise ufunc calls made by the core itself (issue 15, W9).
 *
 * A ufunc call on a 100-element array costs NumPy some 4,000 instructions of
 * dispatch (argument parsing, type resolution, the iterator's set-up, the
 * error-state look-up) around a few hundred of arithmetic.  For the ufuncs
 * the core registers here (tg_small_register) and the simplest operands,
 * tg_small_call makes the call itself: it allocates the output as the ufunc
 * does and runs NumPy's own inner loop for the dtype (the function pointer
 * the ufunc holds for "d->d", "dd->d", "f->f", "ff->f") once over the whole
 * array, with the strides NumPy's trivial-loop path passes.  The bits are
 * therefore NumPy's by construction, SIMD bodies, tails and NaN payloads
 * included.
 *
 * It declines (returns Py_None, nothing touched, no error set) unless:
 *   - every array operand is an exact ndarray (no subclass: no
 *     __array_ufunc__, __array_wrap__ or __array_priority__), of dtype
 *     float64 or float32 with NumPy's builtin descriptor (native byte order,
 *     no metadata), aligned, C-contiguous, 1 <= ndim (a ufunc on 0-d arrays
 *     returns a NumPy scalar) and 1 <= size <= TG_SMALL_MAX (NumPy, too, runs
 *     one unbuffered inner loop over such an array);
 *   - two arrays have one dtype and one shape (no broadcasting);
 *   - a non-array operand is a Python float or a NumPy float64 scalar, with a
 *     float64 array (the result is float64 under both NEP 50 and the older
 *     value-based casting; the value is taken as it is, stride 0, as NumPy's
 *     trivial loop passes a 0-d operand);
 *   - no floating-point status flag (overflow, underflow, invalid, division
 *     by zero) is raised by the loop: then the result is dropped and the
 *     caller calls the ufunc, which computes it again and gives NumPy's
 *     warnings, np.errstate errors and seterrcall callbacks as before.
 * An allocation failure declines too (the ufunc call then reports it). */
#ifndef TG_SMALL_H
#define TG_SMALL_H

#include <Python.h>
#include "numpy/arrayobject.h"
#include "numpy/arrayscalars.h"
#include "numpy/ufuncobject.h"
#include "tg_forms.h"          /* tg_loop_fn, tg_fpe_clear, tg_fpe_test */

#define TG_SMALL_MAX 8192      /* elements */
#define TG_SMALL_SLOTS 32

#ifdef _PyUFuncObject_GET_ITEM_DATA    /* NumPy 2.5: the struct's fields through this macro only */
#define TG_SMALL_UF(u) _PyUFuncObject_GET_ITEM_DATA(u)
#else
#define TG_SMALL_UF(u) ((PyUFuncObject *)(u))
#endif

typedef struct {
    PyObject *key;             /* the ufunc, or a callable that is that ufunc on ndarrays
                                  (operator.mul for np.multiply); borrowed: the module keeps both */
    int nin;                   /* 1 or 2 */
    tg_loop_fn loop[2];        /* [0]: float64's loop, [1]: float32's; NULL: none */
    void *data[2];
} tg_small_entry;

static tg_small_entry tg_small_table[TG_SMALL_SLOTS];
static int tg_small_n = 0;
static PyArray_Descr *tg_small_descr[2] = {NULL, NULL};    /* the builtin float64 and float32 descriptors */

/* The ufunc's inner loop whose inputs and output all have type typenum. */
static int tg_small_find(PyObject *uf, int nin, int typenum, tg_loop_fn *loop, void **data) {
    int k, j, nargs = nin + 1;
    if (TG_SMALL_UF(uf)->nin != nin || TG_SMALL_UF(uf)->nout != 1
            || TG_SMALL_UF(uf)->functions == NULL || TG_SMALL_UF(uf)->types == NULL)
        return 0;
    for (k = 0; k < TG_SMALL_UF(uf)->ntypes; k++) {
        for (j = 0; j < nargs; j++)
            if (TG_SMALL_UF(uf)->types[nargs * k + j] != typenum)
                break;
        if (j == nargs) {
            if (TG_SMALL_UF(uf)->functions[k] == NULL)
                return 0;
            *loop = (tg_loop_fn)TG_SMALL_UF(uf)->functions[k];
            *data = TG_SMALL_UF(uf)->data != NULL ? TG_SMALL_UF(uf)->data[k] : NULL;
            return 1;
        }
    }
    return 0;
}

/* Let tg_small_call make `key`'s calls with ufunc uf's loops: 1 if
 * registered, 0 if uf (an np.ufunc: the caller checks, since the ufunc
 * API's type object needs NumPy's umath import) does not have one or two
 * inputs and a float64 loop, or the table is full; -1 with an error set on
 * failure. */
static int tg_small_register(PyObject *key, PyObject *uf) {
    tg_small_entry *e;
    int nin;
    if (tg_small_descr[0] == NULL) {
        tg_small_descr[0] = PyArray_DescrFromType(NPY_DOUBLE);
        tg_small_descr[1] = PyArray_DescrFromType(NPY_FLOAT);
        if (tg_small_descr[0] == NULL || tg_small_descr[1] == NULL)
            return -1;
    }
    if (tg_small_n == TG_SMALL_SLOTS)  /* uf: an np.ufunc, checked by the caller */
        return 0;
    nin = TG_SMALL_UF(uf)->nin;
    if (nin != 1 && nin != 2)
        return 0;
    e = &tg_small_table[tg_small_n];
    e->key = key;
    e->nin = nin;
    if (!tg_small_find(uf, nin, NPY_DOUBLE, &e->loop[0], &e->data[0]))
        return 0;
    if (!tg_small_find(uf, nin, NPY_FLOAT, &e->loop[1], &e->data[1]))
        e->loop[1] = NULL;
    tg_small_n++;
    return 1;
}

/* 0 or 1 (float64 or float32) for an array operand the kernel takes, with
 * its size in *size and the stride NumPy's trivial-loop path passes for it
 * in *step (a 1-d array's own stride, zero or positive; the item size for
 * a C-contiguous array of more dimensions, and for one element, which must
 * then have that stride); -1 otherwise.  (PyArray_SIZE
 * and PyArray_SAMESHAPE are calls into NumPy's API table: the products and
 * comparisons are made here.) */
static inline int tg_small_kind(PyObject *o, npy_intp *size, npy_intp *step) {
    PyArrayObject *a = (PyArrayObject *)o;
    PyArray_Descr *d;
    const npy_intp *dims;
    npy_intp n = 1;
    int k, nd, kind;
    if (Py_TYPE(o) != &PyArray_Type)
        return -1;
    d = PyArray_DESCR(a);
    kind = d == tg_small_descr[0] ? 0 : d == tg_small_descr[1] ? 1 : -1;
    nd = PyArray_NDIM(a);
    if (kind < 0 || nd < 1 || !(PyArray_FLAGS(a) & NPY_ARRAY_ALIGNED))
        return -1;
    dims = PyArray_DIMS(a);
    for (k = 0; k < nd; k++) {
        if (dims[k] < 1 || dims[k] > TG_SMALL_MAX)
            return -1;
        n *= dims[k];
        if (n > TG_SMALL_MAX)
            return -1;
    }
    if (nd == 1 && n > 1) {
        if (PyArray_STRIDES(a)[0] < 0)
            return -1;
        *step = PyArray_STRIDES(a)[0];
    } else if (nd == 1 ? PyArray_STRIDES(a)[0] == PyArray_ITEMSIZE(a) : (PyArray_FLAGS(a) & NPY_ARRAY_C_CONTIGUOUS) != 0) {
        *step = PyArray_ITEMSIZE(a);
    } else {
        return -1;
    }
    *size = n;
    return kind;
}

static inline int tg_small_same_shape(PyArrayObject *a, PyArrayObject *b) {
    int k, nd = PyArray_NDIM(a);
    if (PyArray_NDIM(b) != nd)
        return 0;
    for (k = 0; k < nd; k++)
        if (PyArray_DIMS(a)[k] != PyArray_DIMS(b)[k])
            return 0;
    return 1;
}

/* A scalar operand taken with a float64 array, into *v: 1, or 0 if none. */
static inline int tg_small_scalar(PyObject *o, double *v) {
    if (PyFloat_CheckExact(o)) {
        *v = PyFloat_AS_DOUBLE(o);
        return 1;
    }
    if (Py_TYPE(o) == &PyDoubleArrType_Type) {
        *v = PyArrayScalar_VAL(o, Double);
        return 1;
    }
    return 0;
}

/* Whether tg_small_call could take the call at all (an operand is an exact
 * ndarray): the inline test callers make first, so that scalar chains (W1,
 * W7) pay two comparisons, not the call and the table's scan. */
static inline int tg_small_maybe(PyObject *a, PyObject *b) {
    return Py_TYPE(a) == &PyArray_Type || (b != NULL && Py_TYPE(b) == &PyArray_Type);
}

/* key(a) (b NULL) or key(a, b) made here: a new array, or a new reference to
 * Py_None where it declines (see above). */
static PyObject *tg_small_call(PyObject *key, PyObject *a, PyObject *b) {
    const tg_small_entry *e = NULL;
    PyArrayObject *arr;
    PyArrayObject *out;
    PyArray_Descr *descr;
    tg_loop_fn loop;
    char *args[3];
    npy_intp steps[3], n = 0, nb = 0;
    double sa, sb;
    int i, kind, kb, nin = b == NULL ? 1 : 2;
    for (i = 0; i < tg_small_n; i++) {
        if (tg_small_table[i].key == key) {
            e = &tg_small_table[i];
            break;
        }
    }
    if (e == NULL || e->nin != nin)
        goto decline;
    if (nin == 1) {
        if ((kind = tg_small_kind(a, &n, &steps[0])) < 0)
            goto decline;
        arr = (PyArrayObject *)a;
        args[0] = PyArray_BYTES(arr);
    } else {
        kind = tg_small_kind(a, &n, &steps[0]);
        kb = tg_small_kind(b, &nb, &steps[1]);
        if (kind >= 0 && kb >= 0) {
            if (kind != kb || !tg_small_same_shape((PyArrayObject *)a, (PyArrayObject *)b))
                goto decline;
            arr = (PyArrayObject *)a;
            args[0] = PyArray_BYTES(arr);
            args[1] = PyArray_BYTES((PyArrayObject *)b);
        } else if (kind == 0 && kb < 0 && tg_small_scalar(b, &sb)) {
            arr = (PyArrayObject *)a;
            args[0] = PyArray_BYTES(arr);
            args[1] = (char *)&sb;
            steps[1] = 0;      /* NumPy's 0-d operand of a Python float */
        } else if (kb == 0 && kind < 0 && tg_small_scalar(a, &sa)) {
            kind = 0;
            n = nb;
            arr = (PyArrayObject *)b;
            args[0] = (char *)&sa;
            args[1] = PyArray_BYTES(arr);
            steps[0] = 0;
        } else {
            goto decline;
        }
    }
    steps[nin] = PyArray_ITEMSIZE(arr);   /* the new output: contiguous */
    loop = e->loop[kind];
    if (loop == NULL)
        goto decline;
    descr = tg_small_descr[kind];
    Py_INCREF(descr);          /* stolen by the constructor, as NumPy's own allocation of a ufunc's output */
    out = (PyArrayObject *)PyArray_NewFromDescr(&PyArray_Type, descr, PyArray_NDIM(arr), PyArray_DIMS(arr),
                                                NULL, NULL, 0, NULL);
    if (out == NULL) {
        PyErr_Clear();         /* the ufunc call reports it */
        goto decline;
    }
    args[nin] = PyArray_BYTES(out);
    tg_fpe_clear((volatile double *)args[0]);
    loop(args, &n, steps, e->data[kind]);
    if (tg_fpe_test((volatile double *)args[nin])) {
        Py_DECREF(out);        /* the ufunc runs again and reports what NumPy reports */
        goto decline;
    }
    return (PyObject *)out;
decline:
    Py_INCREF(Py_None);
    return Py_None;
}

#endif
