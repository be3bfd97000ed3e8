/* float64 scalars made and multiplied in C: shared by the core's tape
   (_core.pyx) and the tensor-owned graphs (_graph.pyx), so both give the
   same bits and step aside in the same cases.  Needs NumPy's C API
   (import_array) in the including module. */
#ifndef TG_SCALAR_H
#define TG_SCALAR_H

#include <math.h>
#include <float.h>
#include "numpy/arrayscalars.h"

/* A NumPy float64 scalar holding d, made directly (calling the float64
   type goes through type_call and float.__new__: ~4x the instructions). */
static PyObject *tg_float64(double d) {
    PyObject *o = PyArrayScalar_New(Double);
    if (o != NULL) PyArrayScalar_ASSIGN(o, Double, d);
    return o;
}

/* r = a * b raised no floating-point flag NumPy would report (overflow,
   invalid, underflow): finite, and a normal number or an exact zero.  When
   it did, the caller leaves the product to NumPy, so warnings and
   np.errstate behave as with the Python rules. */
static int tg_plain_product(double a, double b, double r) {
    if (!isfinite(r))
        return 0;
    if (r == 0.0)
        return a == 0.0 || b == 0.0;
    return fabs(r) >= DBL_MIN;
}

#endif
