"""The test suite on every supported CPython, against tapegrad installed from its sdist.

    nox                    # every version this machine has; the others are skipped, with a message
    nox -s tests-3.12      # one version
    nox -- -x -k tape      # arguments after -- go to pytest

One sdist is built per nox run (`python -m build --sdist`, as the release workflow does). Each
session makes a fresh virtual environment, installs the sdist into it (pip builds the wheel from
the sdist, as `pip install tapegrad` does where no wheel fits) and runs the tests from the
unpacked sdist, so a file the sdist lacks fails here and the source tree is never imported.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.sessions = ["tests"]
# nox makes a missing interpreter an error when $CI is set; a machine without one of these
# Pythons still tests the others, and nox prints which were skipped.
nox.options.error_on_missing_interpreters = False
# Never fetch an interpreter from the network: test the CPythons that are installed.
nox.options.download_python = "never"

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]  # keep in step with requires-python and the classifiers
ROOT = Path(__file__).resolve().parent
SDIST_DIR = ROOT / ".nox" / "_sdist"
LINK_DIR = ROOT / ".nox" / "_interpreters"


def _cpython_version(executable):
    """'3.X' if `executable` runs and is a CPython with the GIL, else None."""
    code = ("import sys, sysconfig; print(sys.implementation.name, '%d.%d' % sys.version_info[:2],"
            " sysconfig.get_config_var('Py_GIL_DISABLED') or 0)")
    try:
        out = subprocess.run([executable, "-c", code], capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    fields = out.stdout.split()
    if out.returncode != 0 or len(fields) != 3 or fields[0] != "cpython" or fields[2] != "0":
        return None
    return fields[1]


def _candidates(version):
    on_path = shutil.which(f"python{version}")
    if on_path:
        yield on_path
    # pyenv installs every version under $PYENV_ROOT/versions, but its shim `python3.10` only
    # answers for the versions pyenv has selected: look at the installs themselves, newest first.
    roots = {os.environ.get("PYENV_ROOT"), os.path.expanduser("~/.pyenv")} - {None}
    for root in roots:
        installs = []
        for path in Path(root, "versions").glob(f"{version}.*"):
            patch = path.name[len(version) + 1:]
            if patch.isdigit():
                installs.append((int(patch), path / "bin" / f"python{version}"))
        for _, exe in sorted(installs, reverse=True):
            yield str(exe)


def _link_interpreters():
    """Make each supported CPython this machine has findable as `python3.X` on PATH.

    nox finds `python3.X` on PATH; linking the interpreters found into one folder placed
    first on PATH lets it find pyenv's unselected versions too."""
    if LINK_DIR.exists():
        shutil.rmtree(LINK_DIR)
    LINK_DIR.mkdir(parents=True)
    for version in PYTHONS:
        for exe in _candidates(version):
            if _cpython_version(exe) == version:
                # The real binary, not a shim: a venv made from a link to a shim would not work.
                (LINK_DIR / f"python{version}").symlink_to(os.path.realpath(exe))
                break
        else:
            print(f"noxfile: no CPython {version} on this machine (PATH, pyenv): tests-{version} will be skipped",
                  file=sys.stderr)
    os.environ["PATH"] = str(LINK_DIR) + os.pathsep + os.environ.get("PATH", "")


_link_interpreters()
_built = {}


def _sdist(session):
    """Build the sdist once per nox run. It lands in a folder named by its hash so that pip's
    wheel cache (keyed by the file's URL) can never hand back a wheel built from older sources."""
    if "path" not in _built:
        if SDIST_DIR.exists():
            shutil.rmtree(SDIST_DIR)
        out = SDIST_DIR / "new"
        session.install("build>=1.0")
        session.run("python", "-m", "build", "--sdist", "--outdir", str(out), str(ROOT))
        (archive,) = out.glob("tapegrad-*.tar.gz")
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
        final = SDIST_DIR / digest / archive.name
        final.parent.mkdir()
        archive.rename(final)
        out.rmdir()
        _built["path"] = final
    return _built["path"]


@nox.session(python=PYTHONS)
def tests(session):
    sdist = _sdist(session)
    tree = Path(session.create_tmp()) / "sdist"
    if tree.exists():
        shutil.rmtree(tree)
    with tarfile.open(sdist) as tar:
        tar.extractall(tree, filter="data")
    (project,) = tree.iterdir()
    session.install(f"tapegrad[test] @ {sdist.as_uri()}")
    session.chdir(project)
    # The installed package, not the unpacked sources, is what the tests must import.
    session.run("python", "-c", "import sys, tapegrad; assert tapegrad.__file__.startswith(sys.prefix), "
                "tapegrad.__file__; print('testing', tapegrad.__file__)")
    session.run("python", "-m", "pytest", *session.posargs)

