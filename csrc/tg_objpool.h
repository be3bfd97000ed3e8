/* Object pools for the graph of tapegrad.torch (_graph.pyx): the nodes and
 * the public tensors of a recorded op, made and freed once per op.
 *
 * Both types are GC types only for CPython's trashcan (freeing a chain of any
 * length without recursing on the C stack); their instances are never
 * tracked by the cyclic GC (see _graph.pyx).  CPython's own allocation of a
 * GC object tracks it, counts it toward the next collection, and goes through
 * pymalloc; freeing does the reverse.  A pool keeps up to TG_POOL_CAP freed
 * objects of one exact type and hands them out again, zero-filled and
 * untracked, as tp_alloc must return them.
 *
 * Installed as the type's tp_alloc and tp_free (tg_pool_install).  What a
 * pool gives out was allocated by PyType_GenericAlloc, so PyObject_GC_Del
 * frees it: an object whose class was switched to a subclass (the grad_fn
 * classes of _graph.pyx) goes back through that subclass's tp_free, and a
 * full pool frees the same way.  Only objects of exactly the pool's type and
 * size enter it.  All of this runs with the GIL held.
 *
 * tg_heap_subtype_dealloc: the public tensor class is a Python subclass (a
 * heap type) of the compiled TensorBase that adds no fields, no __dict__, no
 * finalizer (checked in _graph.install).  For such a subclass CPython's
 * generic subtype_dealloc only untracks, runs the trashcan, calls the base's
 * dealloc and drops the instance's reference to its type; this does exactly
 * that without the searches for slots, dicts and finalizers. */
#ifndef TG_OBJPOOL_H
#define TG_OBJPOOL_H

#include <Python.h>
#include <string.h>

#define TG_POOL_CAP 4096

typedef struct {
    PyTypeObject *tp;          /* the exact type pooled (borrowed: the module keeps it) */
    int n;
    PyObject *items[TG_POOL_CAP];
} tg_pool;

static inline PyObject *tg_pool_take(tg_pool *p, PyTypeObject *t, Py_ssize_t nitems) {
    PyObject *o;
    if (p->n > 0 && t == p->tp && nitems == 0) {
        o = p->items[--p->n];
        memset(o, 0, (size_t)t->tp_basicsize);
        (void)PyObject_Init(o, t);            /* type (a reference for heap types) and refcount 1 */
        return o;
    }
    o = PyType_GenericAlloc(t, nitems);
    if (o != NULL)
        PyObject_GC_UnTrack(o);
    return o;
}

static inline void tg_pool_give(tg_pool *p, void *o) {
    if (p->n < TG_POOL_CAP && Py_TYPE((PyObject *)o) == p->tp) {
        p->items[p->n++] = (PyObject *)o;
        return;
    }
    PyObject_GC_Del(o);
}

static tg_pool tg_node_pool, tg_tensor_pool;

static PyObject *tg_node_alloc(PyTypeObject *t, Py_ssize_t nitems) { return tg_pool_take(&tg_node_pool, t, nitems); }
static void tg_node_free(void *o) { tg_pool_give(&tg_node_pool, o); }
static PyObject *tg_tensor_alloc(PyTypeObject *t, Py_ssize_t nitems) { return tg_pool_take(&tg_tensor_pool, t, nitems); }
static void tg_tensor_free(void *o) { tg_pool_give(&tg_tensor_pool, o); }

static destructor tg_tensor_base_dealloc = NULL;

static void tg_heap_subtype_dealloc(PyObject *o) {
    PyTypeObject *tp = Py_TYPE(o);
    PyObject_GC_UnTrack(o);
    Py_TRASHCAN_BEGIN(o, tg_heap_subtype_dealloc)
    tg_tensor_base_dealloc(o);               /* ends with tp->tp_free(o) */
    Py_DECREF(tp);
    Py_TRASHCAN_END
}

/* The compiled Node (a static type): its instances come from the node pool. */
static void tg_node_pool_install(PyObject *node_type) {
    PyTypeObject *n = (PyTypeObject *)node_type;
    if (tg_node_pool.tp != NULL)
        return;
    tg_node_pool.tp = n;
    n->tp_alloc = tg_node_alloc;
    n->tp_free = tg_node_free;
}

/* A subclass of Node (the grad_fn classes) frees as Node does: CPython lets
 * a node's __class__ change only between types with the same tp_free.  Its
 * instances are not of the pool's type, so tg_pool_give frees them. */
static void tg_node_subclass_install(PyObject *cls) {
    ((PyTypeObject *)cls)->tp_free = tg_node_free;
}

/* The public tensor class, a heap subclass of base (TensorBase) that adds
 * nothing (the caller checks): pooled, and freed by tg_heap_subtype_dealloc.
 * One class per process. */
static int tg_tensor_pool_install(PyObject *tensor_type, PyObject *base) {
    PyTypeObject *t = (PyTypeObject *)tensor_type;
    if (tg_tensor_pool.tp != NULL) {
        if (tg_tensor_pool.tp == t)
            return 0;
        PyErr_SetString(PyExc_RuntimeError, "tapegrad._graph: a tensor class is already installed");
        return -1;
    }
    Py_INCREF(t);                            /* the pool's type outlives every pooled tensor */
    tg_tensor_pool.tp = t;
    tg_tensor_base_dealloc = ((PyTypeObject *)base)->tp_dealloc;
    t->tp_alloc = tg_tensor_alloc;
    t->tp_free = tg_tensor_free;
    t->tp_dealloc = tg_heap_subtype_dealloc;
    return 0;
}

#endif /* TG_OBJPOOL_H */
