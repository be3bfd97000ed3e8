/* Growable contiguous buffers for the tape's node storage: int32 indices
 * (CSR offsets and slots) and owned Python object references (ops, saved
 * values).  Growth is geometric; every size computation is checked for
 * overflow and every allocation for failure (callers raise MemoryError). */
#ifndef TG_BUFFERS_H
#define TG_BUFFERS_H

#include <Python.h>
#include <stdint.h>
#include <stdlib.h>

#include "tg_alloc.h"

typedef struct { int32_t *data; size_t len, cap; } tg_i32vec;
typedef struct { PyObject **data; size_t len, cap; } tg_objvec;

static inline int tg_reserve(void **data, size_t *cap, size_t need, size_t item) {
    if (need <= *cap) return 0;
    size_t new_cap = *cap ? *cap : 64;
    while (new_cap < need) {
        if (new_cap > SIZE_MAX / 2) return -1;
        new_cap *= 2;
    }
    if (new_cap > SIZE_MAX / item) return -1;
    void *p = tg_big_grow(*data, *cap * item, new_cap * item);
    if (!p) return -1;
    *data = p; *cap = new_cap;
    return 0;
}

static inline void tg_i32vec_init(tg_i32vec *v) { v->data = NULL; v->len = v->cap = 0; }
static inline void tg_i32vec_free(tg_i32vec *v) {
    tg_big_free(v->data, v->cap * sizeof(int32_t));
    tg_i32vec_init(v);
}
static inline int tg_i32vec_push(tg_i32vec *v, int32_t x) {
    if (v->len == v->cap && tg_reserve((void **)&v->data, &v->cap, v->len + 1, sizeof(int32_t)) < 0)
        return -1;
    v->data[v->len++] = x;
    return 0;
}

/* Room for `extra` more entries (no length change); 0, or -1 when memory
 * ran out (the vector unchanged).  A recorded node reserves its input slots
 * and its object entries at once, then stores them without a check each. */
static inline int tg_i32vec_reserve(tg_i32vec *v, size_t extra) {
    if (v->cap - v->len >= extra) return 0;
    if (extra > SIZE_MAX - v->len) return -1;
    return tg_reserve((void **)&v->data, &v->cap, v->len + extra, sizeof(int32_t));
}

static inline void tg_objvec_init(tg_objvec *v) { v->data = NULL; v->len = v->cap = 0; }
static inline int tg_objvec_reserve(tg_objvec *v, size_t extra) {
    if (v->cap - v->len >= extra) return 0;
    if (extra > SIZE_MAX - v->len) return -1;
    return tg_reserve((void **)&v->data, &v->cap, v->len + extra, sizeof(PyObject *));
}
/* Appends a new reference to x (which may be NULL). */
static inline int tg_objvec_push(tg_objvec *v, PyObject *x) {
    if (v->len == v->cap && tg_reserve((void **)&v->data, &v->cap, v->len + 1, sizeof(PyObject *)) < 0)
        return -1;
    Py_XINCREF(x);
    v->data[v->len++] = x;
    return 0;
}
/* Drops the reference at i (if any) and leaves NULL behind. */
static inline void tg_objvec_release(tg_objvec *v, size_t i) {
    PyObject *x = v->data[i];
    v->data[i] = NULL;
    Py_XDECREF(x);
}
/* Drops every reference and the storage.  Entries are detached before the
 * DECREF so a finalizer that re-enters the tape sees a consistent buffer. */
static inline void tg_objvec_free(tg_objvec *v) {
    PyObject **data = v->data;
    size_t len = v->len, cap = v->cap;
    tg_objvec_init(v);
    for (size_t i = 0; i < len; i++) Py_XDECREF(data[i]);
    tg_big_free(data, cap * sizeof(PyObject *));
}

#endif
