"""Instructions per step of one workload, counted by callgrind: deterministic where timings are not.

    OPENBLAS_NUM_THREADS=1 PYTHONHASHSEED=0 valgrind --tool=callgrind \\
        --toggle-collect=functools_reduce --callgrind-out-file=cg.out \\
        python -m benchmarks.instructions W1 10 [class] [impl] [variant]

runs the workload's step three times (warm-up), collects garbage, then runs it N times inside
``functools.reduce``; ``--toggle-collect`` counts only those N steps, so the total in
``cg.out`` (its ``summary:`` line) divided by N is the cost of one step.  ``class`` picks a
variant (``W4f32``, ``W8_64``; default: the workload's name), ``impl`` a row (``tapegrad``,
``tapegrad_torch``, ``floor``, ``closed``; default ``tapegrad``), ``variant`` one of the row's
steps (W3's ``plain``: the untaped twin of its ``taped`` step; default ``run``, else
``taped``).  The figures in the notes and docs/benchmarks.md ("instructions before -> after") were made this way.

``--between IMPL[,IMPL...] --rounds R`` asks what other implementations leave behind in the
process (docs/internals.md, "Why W3's figure depended on the process"): with either option,
every callable of each row (the row's own included) runs once first, as the runner's check
does; then in each of R
rounds the other rows' steps run three times each, uncounted, before the N counted steps, so
the total divided by R * N is still the cost of one step.

``--smoke`` runs the workload's smoke configuration instead of its full one (W4: batch 8,
32-16-16-10), where the NumPy work is small and the step is mostly the per-op cost of the
implementation (docs/internals.md, "W4 float32's time at equal instructions").
"""
import functools
import gc
import importlib
import sys

MODULES = {"W1": "w1_scalar_chain", "W2": "w2_vector_chain", "W3": "w3_recording", "W4": "w4_mlp",
           "W5": "w5_elementwise", "W7": "w7_second_derivative", "W8": "w8_jacobian", "W9": "w9_hvp"}


def _option(argv, flag, default):
    if flag not in argv:
        return default
    i = argv.index(flag)
    value = argv[i + 1]
    del argv[i:i + 2]
    return value


def main(argv):
    argv = list(argv)
    smoke = "--smoke" in argv
    if smoke:
        argv.remove("--smoke")
    between = [b for b in _option(argv, "--between", "").split(",") if b]
    rounds = int(_option(argv, "--rounds", "1"))
    name, n = argv[0], int(argv[1])
    module = importlib.import_module("benchmarks.workloads." + MODULES[name])
    workload = getattr(module, argv[2] if len(argv) > 2 else name)()
    workload.cfg = workload.config(smoke)
    impl = workload.factory(argv[3] if len(argv) > 3 else "tapegrad")
    if len(argv) > 4:
        step = impl[argv[4]]
    else:
        step = impl["run"] if "run" in impl else impl["taped"]
    others = [workload.factory(b) for b in between]
    if between or rounds > 1:
        for fns in [impl, *others]:
            for fn in fns.values():
                fn()
    for _ in range(3):
        step()
    for _ in range(rounds):
        for fns in others:
            for v in workload.variants:
                for _ in range(3):
                    fns[v]()
        gc.collect()
        functools.reduce(lambda _, __: step(), range(n), None)    # the only frames counted


if __name__ == "__main__":
    main(sys.argv[1:])
