"""The package as users get it: a wheel built from bindings/python (which builds libmba with
cargo and ships it inside), installed into a fresh virtualenv outside the source tree, used
by two processes with no environment variable pointing at the library."""

import glob
import os
import subprocess
import sys
import venv

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(HERE)

EXAMPLE = """
import os, subprocess, sys
import mba
assert "MBA_LIBRARY" not in os.environ
assert mba._lib._name == os.path.join(os.path.dirname(mba.__file__), "libmba.so"), mba._lib._name
assert mba._fast_append is not None, "the wheel carries mba/_speedups"
uri = f"shm://mba-wheel-{os.getpid()}"
a = mba.array("u", "hello", uri=uri)
child = "import mba, sys; b = mba.array.attach(sys.argv[1]); b.fromunicode(', world'); print(b.typecode)"
out = subprocess.run([sys.executable, "-c", child, uri], capture_output=True, text=True, check=True).stdout
assert out.strip() == "u" and a.tounicode() == "hello, world", (out, a.tounicode())
if sys.version_info >= (3, 11):  # the buffer protocol through mba/_speedups' BufferBase
    m = memoryview(a)
    assert m.format == "w" and m.nbytes == len(a) * a.itemsize
    m.release()
mba.delete(uri)
print("two processes ok")
"""


@pytest.mark.skipif(not os.path.exists(os.path.join(PACKAGE, "..", "..", "Cargo.toml")), reason="needs the sources")
def test_wheel_installs_and_works_in_a_fresh_venv(tmp_path):
    dist = tmp_path / "dist"
    env = {k: v for k, v in os.environ.items() if k != "MBA_LIBRARY"}
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), PACKAGE], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    wheels = glob.glob(str(dist / "mba_array-*.whl"))
    tag = "-cp311-abi3-linux" if sys.version_info >= (3, 11) else "-cp310-abi3-linux"  # setup.py's ABI
    assert len(wheels) == 1 and tag in wheels[0], wheels
    env_dir = tmp_path / "venv"
    # A venv without pip of its own (ensurepip would cost more than the rest of the test): this
    # interpreter's pip installs into it (pip's --python, pip 22.3 and later).
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = str(env_dir / "bin" / "python")
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
                    wheels[0]], env=env, check=True, capture_output=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    r = subprocess.run([python, "-c", EXAMPLE], cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode == 0 and "two processes ok" in r.stdout, r.stdout + r.stderr
