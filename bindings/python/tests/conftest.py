import importlib
import itertools
import os
import subprocess

import pytest

import mba

def need(module, package=None):
    """Imports a module the tests need: a missing one fails them (scripts/test.sh installs every
    one), never skips them."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        pytest.fail(f"{module} is missing ({e}): pip install {package or module}, or run scripts/test.sh",
                    pytrace=False)


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
_counter = itertools.count()


@pytest.fixture
def uri():
    """A unique shm name, deleted afterwards."""
    name = f"shm://mba-pytest-{os.getpid()}-{next(_counter)}"
    yield name
    try:
        mba.delete(name)
    except mba.NotFoundError:
        pass


@pytest.fixture(scope="session")
def c_program(tmp_path_factory):
    """Builds a C program of the repository against mba.h and the library under test."""
    libdir = os.path.dirname(os.path.abspath(os.environ["MBA_LIBRARY"]))
    out = tmp_path_factory.mktemp("c")

    def build(src):
        exe = str(out / os.path.basename(src).replace(".c", ""))
        if not os.path.exists(exe):
            soname = os.path.join(libdir, "libmba.so.0")
            if not os.path.lexists(soname):
                os.symlink("libmba.so", soname)
            subprocess.run(["cc", "-std=c11", "-D_DEFAULT_SOURCE", "-I", os.path.join(ROOT, "include"),
                            os.path.join(ROOT, src), "-o", exe, "-L", libdir, "-lmba",
                            f"-Wl,--disable-new-dtags,-rpath,{libdir}"], check=True)
        return exe

    return build


def isolated(code, *args, env=None):
    """Runs `code` in a new interpreter with this mba (and the same MBA_LIBRARY and
    MBA_NO_SPEEDUPS, unless env, a dict of variables to set, says otherwise) and returns its
    standard output; asserts it exited 0, so a crash (a signal) fails the test that ran it
    without taking the test runner down."""
    import sys

    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=os.path.dirname(mba.__path__[0]), **(env or {})))
    assert r.returncode == 0, f"exit status {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout
