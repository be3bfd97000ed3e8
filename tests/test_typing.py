"""Typed API (issue 13, part 4): the stubs of the compiled core match the built module, a type
checker accepts the examples, and it rejects wrong code (so the types are not just Any)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy is in the test extra: pip install '.[test]'")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("mypy_cache"))


def mypy(args, cache, cwd):
    cmd = [sys.executable, "-m", "mypy", "--cache-dir", cache, "--config-file", str(ROOT / "pyproject.toml"), *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_installed_package_ships_its_types():
    import tapegrad
    pkg = Path(tapegrad.__file__).parent
    assert (pkg / "py.typed").is_file()
    assert (pkg / "_core.pyi").is_file()


def test_mypy_accepts_the_examples(mypy_cache, tmp_path):
    res = mypy([str(ROOT / "examples")], mypy_cache, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Success: no issues found in 7 source files" in res.stdout


def test_mypy_knows_the_types(mypy_cache, tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text(textwrap.dedent("""\
        import tapegrad as tg
        x = tg.Variable(1.0)
        with tg.GradientTape(persistent=True) as t:
            y = x * x
        reveal_type(y)
        reveal_type(t)
        reveal_type(x.shape)
        reveal_type(t.describe())
        y.numpyy()
        t.gradientt(y, x)
        tg.GradientTape(persistent="yes")
        """))
    res = mypy([str(prog)], mypy_cache, tmp_path)
    out = res.stdout
    assert res.returncode == 1, out
    assert 'Revealed type is "tapegrad._core.Tensor"' in out
    assert 'Revealed type is "tapegrad.tape.GradientTape"' in out
    assert 'Revealed type is "tapegrad.shapes.TensorShape"' in out
    assert 'Revealed type is "str"' in out
    assert '"Tensor" has no attribute "numpyy"' in out
    assert '"GradientTape" has no attribute "gradientt"' in out
    assert 'Argument "persistent" to "GradientTape" has incompatible type "str"; expected "bool"' in out
    assert "Found 3 errors" in out


def test_stubs_match_the_compiled_core(mypy_cache, tmp_path):
    # stubtest imports the built module and compares every public name and signature with
    # _core.pyi: a method added to the core without a stub (or removed) fails here.
    cmd = [sys.executable, "-m", "mypy.stubtest", "tapegrad._core", "--mypy-config-file", str(ROOT / "pyproject.toml"),
           "--allowlist", str(ROOT / "tests" / "stubtest_allowlist.txt")]
    env = dict(os.environ, MYPY_CACHE_DIR=mypy_cache)
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
