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


FAKE_CARGO = """#!/bin/sh
# A stand-in for cargo: builds a "library" where a cargo configuration would put it (here
# $FAKE_TARGET, which setup.py cannot guess) and reports it as cargo does, in JSON.
mkdir -p "$FAKE_TARGET/release"
echo "the library" > "$FAKE_TARGET/release/libmba.so"
echo "{\\"reason\\":\\"compiler-artifact\\",\\"target\\":{\\"kind\\":[\\"cdylib\\",\\"staticlib\\",\\"rlib\\"],\\"name\\":\\"mba\\"},\\"filenames\\":[\\"$FAKE_TARGET/release/libmba.so\\",\\"$FAKE_TARGET/release/libmba.a\\"]}"
echo '{"reason":"build-finished","success":true}'
"""


def test_the_package_takes_the_library_from_where_cargo_built_it(tmp_path):
    # setup.py looked for the library in CARGO_TARGET_DIR or the crate's target/, so a cargo
    # configuration's build.target-dir (or CARGO_BUILD_TARGET_DIR) made the build fail (or
    # bundle a stale library that happened to be in target/). It now asks cargo.
    crate = tmp_path / "crate"  # a source tree with no target/ of its own
    crate.mkdir()
    (crate / "Cargo.toml").write_text('[package]\nname = "mba"\n')
    cargo = tmp_path / "cargo"
    cargo.write_text(FAKE_CARGO)
    cargo.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("MBA_LIBRARY", "CARGO_TARGET_DIR")}
    env.update(CARGO=str(cargo), MBA_SOURCE_DIR=str(crate), FAKE_TARGET=str(tmp_path / "elsewhere"),
               MBA_CARGO_PROFILE="release")
    out = tmp_path / "build"
    r = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(out)], cwd=PACKAGE,
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert (out / "mba" / "libmba.so").read_text() == "the library\n"
