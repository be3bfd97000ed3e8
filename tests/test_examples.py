"""Every program in examples/ runs to the end (each checks its own numbers with asserts) and
saves the figures it promises (issue 13, part 3)."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FIGURES = {
    "autograd_style.py": [],
    "d2l_autograd.py": ["d2l_sin_and_derivative.png"],
    "d2l_forum_pitfalls.py": ["d2l_forum_sin_grad.png"],
    "hands_on_ml_autodiff.py": ["hands_on_ml_checkpointing.png"],
    "tensorflow_autodiff_guide.py": ["tf_guide_sigmoid.png"],
    "tensorflow_vs_pytorch.py": [],
}
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")) == sorted(FIGURES)


def run(args, cwd):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0")
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_example_runs_and_saves_its_figures(name, tmp_path):
    res = run([str(EXAMPLES / name), "--figures", str(tmp_path / "figs")], cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    assert "==" in res.stdout                        # it printed its sections
    made = sorted(p.name for p in (tmp_path / "figs").glob("*.png"))
    if HAVE_MATPLOTLIB:
        assert made == sorted(FIGURES[name])
        for png in made:
            assert (tmp_path / "figs" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert made == []


def test_examples_skip_figures_without_matplotlib(tmp_path):
    # matplotlib made unimportable: the example still runs and says what it skipped.
    code = ("import runpy, sys; sys.modules['matplotlib'] = None; "
            f"sys.path.insert(0, {str(EXAMPLES)!r}); "
            f"sys.argv = ['d2l_autograd.py', '--figures', {str(tmp_path)!r}]; "
            f"runpy.run_path({str(EXAMPLES / 'd2l_autograd.py')!r}, run_name='__main__')")
    res = run(["-c", code], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-4000:]
    assert "matplotlib is not installed: skipping the figure d2l_sin_and_derivative.png" in res.stdout
    assert list(tmp_path.glob("*.png")) == []
