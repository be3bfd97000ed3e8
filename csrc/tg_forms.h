/* Rule forms: a VJP rule written as a short postfix program over the
 * cotangent g, the op's output and its inputs ("g * cos(x)" is
 * G, IN 0, CALL cos, CALL multiply), so the core can run the hottest rules
 * without a Python frame.  This header holds the program layout and the
 * evaluator on C doubles (float64 scalars); the evaluator on arrays calls the
 * ufunc objects and lives in _core.pyx.
 *
 * On doubles every step gives the bits NumPy gives: +, -, *, / and negation
 * are correctly rounded IEEE operations (what NumPy's scalar math and its
 * loops compute), and any other ufunc is run by calling NumPy's own float64
 * inner loop on one element.  Steps go through a volatile stack so a compiler
 * cannot fuse a product and a sum into one FMA (which would round once).
 * NumPy reports floating-point flags (overflow, invalid, division by zero,
 * underflow) as warnings or errors; the caller clears the flags before and
 * reads them after (tg_fpe_clear / tg_fpe_test) and lets the Python rule run
 * when any is raised, so warnings and np.errstate behave as before. */
#ifndef TG_FORMS_H
#define TG_FORMS_H

#include <fenv.h>
#include <Python.h>
#include "numpy/ndarraytypes.h"

#define TG_FORM_MAX 8          /* steps per form (and stack depth) */

enum { TG_F_G = 1, TG_F_ANS, TG_F_IN, TG_F_CONST, TG_F_CALL1, TG_F_CALL2 };
enum { TG_S_NONE = 0, TG_S_ADD, TG_S_SUB, TG_S_MUL, TG_S_DIV, TG_S_NEG, TG_S_LOOP };

typedef void (*tg_loop_fn)(char **, const npy_intp *, const npy_intp *, void *);

typedef struct {
    int code;                  /* TG_F_* */
    int arg;                   /* TG_F_IN: the input's index */
    int sop;                   /* TG_F_CALL*: the operation on doubles (TG_S_*) */
    double c;                  /* TG_F_CONST: the constant as a double */
    PyObject *obj;             /* TG_F_CONST: the constant; TG_F_CALL*: the ufunc (borrowed: the op keeps them) */
    tg_loop_fn loop;           /* TG_S_LOOP: NumPy's float64 -> float64 inner loop */
    void *data;                /* ... and its data pointer */
} tg_step;

typedef struct {
    int len;                   /* 0: no form */
    int scalar;                /* 1: every step runs on doubles */
    int reads;                 /* bit 0: the output; bit 1 + i: input i */
    int numpy_reads;           /* the inputs that must be NumPy values on arrays (see _core.pyx) */
    tg_step steps[TG_FORM_MAX];
} tg_form;

/* Barriers: the addresses escape into functions the compiler may not inline,
 * so the operands are read after the flags are cleared and the results are
 * stored before the flags are read. */
#if defined(__GNUC__)
#define TG_NOINLINE __attribute__((noinline))
#else
#define TG_NOINLINE
#endif

static TG_NOINLINE void tg_fpe_clear(volatile double *operands) {
    (void)operands;
    feclearexcept(FE_ALL_EXCEPT);
}

static TG_NOINLINE int tg_fpe_test(volatile double *results) {
    (void)results;
    return fetestexcept(FE_DIVBYZERO | FE_OVERFLOW | FE_UNDERFLOW | FE_INVALID) != 0;
}

/* Run form f on doubles: leaves[0] is g, leaves[1] the output, leaves[2 + i]
 * input i.  The result goes to *out. */
static void tg_form_eval_double(const tg_form *f, const double *leaves, volatile double *out) {
    volatile double st[TG_FORM_MAX];
    int sp = 0, k;
    double a, b, r;
    npy_intp one = 1, steps[2] = {0, 0};
    char *args[2];
    for (k = 0; k < f->len; k++) {
        const tg_step *s = &f->steps[k];
        switch (s->code) {
        case TG_F_G: st[sp++] = leaves[0]; break;
        case TG_F_ANS: st[sp++] = leaves[1]; break;
        case TG_F_IN: st[sp++] = leaves[2 + s->arg]; break;
        case TG_F_CONST: st[sp++] = s->c; break;
        case TG_F_CALL1:
            a = st[sp - 1];
            if (s->sop == TG_S_NEG) {
                r = -a;
            } else {
                args[0] = (char *)&a;
                args[1] = (char *)&r;
                s->loop(args, &one, steps, s->data);
            }
            st[sp - 1] = r;
            break;
        default:               /* TG_F_CALL2 */
            a = st[sp - 2];
            b = st[sp - 1];
            switch (s->sop) {
            case TG_S_ADD: r = a + b; break;
            case TG_S_SUB: r = a - b; break;
            case TG_S_MUL: r = a * b; break;
            default: r = a / b; break;
            }
            st[--sp - 1] = r;
            break;
        }
    }
    *out = st[0];
}

#endif
