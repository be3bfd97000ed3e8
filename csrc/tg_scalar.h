/* float64 scalars made in C: shared by the core's tape (_core.pyx) and the
   tensor-owned graphs (_graph.pyx).  Needs NumPy's C API (import_array) in
   the including module. */
#ifndef TG_SCALAR_H
#define TG_SCALAR_H

#include "numpy/arrayscalars.h"

/* A NumPy float64 scalar holding d, made directly (calling the float64
   type goes through type_call and float.__new__: ~4x the instructions). */
static PyObject *tg_float64(double d) {
    PyObject *o = PyArrayScalar_New(Double);
    if (o != NULL) PyArrayScalar_ASSIGN(o, Double, d);
    return o;
}

#endif
