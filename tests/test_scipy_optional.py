"""tapegrad.scipy is optional: `import tapegrad` never loads SciPy, and importing
tapegrad.scipy without SciPy says how to install it.  Runs with or without SciPy."""
import subprocess
import sys

import pytest


def test_import_tapegrad_does_not_load_scipy():
    code = "import sys, tapegrad; assert 'scipy' not in sys.modules, sorted(m for m in sys.modules if 'scipy' in m)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tapegrad_scipy_without_scipy_says_how_to_install_it(monkeypatch):
    for name in [m for m in sys.modules if m == "tapegrad.scipy" or m.startswith("tapegrad.scipy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "scipy", None)         # what `import scipy` sees when it is not installed
    with pytest.raises(ImportError, match=r'pip install "tapegrad\[scipy\]"'):
        import tapegrad.scipy  # noqa: F401
