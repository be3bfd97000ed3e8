/* sin and cos of one float64 array in one pass (glibc's sincos), for an op
   that computes its forward and its factor together (sin's cos(x), cos's
   -sin(x); see the core's paired_forward and docs/internals.md).

   glibc's sincos gives the bits of its sin and cos, which NumPy's float64
   sin and cos call on x86-64 without AVX-512.  The Python layer checks that
   on this machine at first use (ops/math_ops.py) before it lets the core
   use this kernel; elsewhere (no glibc) there is no kernel and
   TG_HAVE_SINCOS is 0: the op then runs NumPy's sin as always. */
#ifndef TG_SINCOS_H
#define TG_SINCOS_H

#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stddef.h>

#if defined(__GLIBC__)
#define TG_HAVE_SINCOS 1
/* Declared here too: <math.h> declares it only under _GNU_SOURCE. */
extern void sincos(double x, double *s, double *c);
#else
#define TG_HAVE_SINCOS 0
#endif

/* a[i], b[i] = sin(x[i]), cos(x[i]) (negated = 0) or cos(x[i]), -sin(x[i])
   (negated = 1) for i < n.  Stops at the first x[i] that is not finite or is
   subnormal and returns 0 (a and b then partly written): there sin and cos
   raise floating-point flags (invalid, underflow) that NumPy turns into
   warnings under the error state in force, so the caller runs NumPy's own
   loop instead.  For every other x neither function raises anything but
   inexact, which NumPy ignores.  Returns 1 when all n are done, and 0
   always where there is no kernel.  Runs without the GIL: the caller keeps
   x alive and a, b are its own new arrays. */
static int tg_sincos_f64(const double *x, double *a, double *b, ptrdiff_t n, int negated) {
#if TG_HAVE_SINCOS
    ptrdiff_t i;
    double s, c, v, m;
    for (i = 0; i < n; i++) {
        v = x[i];
        m = fabs(v);
        if (!(m <= DBL_MAX) || (m < DBL_MIN && v != 0.0))
            return 0;
        sincos(v, &s, &c);
        if (negated) {
            a[i] = c;
            b[i] = -s;
        } else {
            a[i] = s;
            b[i] = c;
        }
    }
    return 1;
#else
    (void)x; (void)a; (void)b; (void)n; (void)negated;
    return 0;
#endif
}

/* The kernel without the domain check, for the first-use probe, which
   compares every element (inf, nan and subnormals included) with NumPy's
   sin and cos; the flags those raise are cleared after it.  Returns 0 where
   there is no kernel. */
static int tg_sincos_f64_all(const double *x, double *a, double *b, ptrdiff_t n) {
#if TG_HAVE_SINCOS
    ptrdiff_t i;
    for (i = 0; i < n; i++)
        sincos(x[i], &a[i], &b[i]);
    feclearexcept(FE_ALL_EXCEPT);
    return 1;
#else
    (void)x; (void)a; (void)b; (void)n;
    return 0;
#endif
}

#endif
