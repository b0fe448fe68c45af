"""Builds libmba from this repository's Rust sources (cargo) and ships it inside the package.

`pip install ./bindings/python` and `pip wheel ./bindings/python` run `cargo build --release --lib`
in the repository (two directories up, or MBA_SOURCE_DIR) and put target/release/libmba.so into
the package as mba/libmba.so, so `import mba` needs no environment variable. They also compile
mba/_speedups.c (optional, stable ABI): built by Python 3.11 or newer it targets the 3.11 stable
ABI (the buffer protocol's functions are in it from 3.11) and the wheel is tagged
cp311-abi3-<platform>, one wheel for every Python from 3.11; built by 3.10 it targets 3.10's,
without mba.array's buffer protocol, and the tag is cp310-abi3.

MBA_LIBRARY=system at build time builds no library: the package then uses the system's libmba
(found on the library path) at run time. MBA_CARGO_PROFILE names the cargo profile the library is
built with (default release; scripts/test.sh's wheel test sets dev, to reuse the tests' build
rather than make a release build for it alone). CARGO names the cargo program (default: cargo on PATH,
then ~/.cargo/bin/cargo); the library is taken from where cargo reports it built it
(CARGO_TARGET_DIR and build.target-dir honoured).
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Distribution, Extension, setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    try:
        from wheel.bdist_wheel import bdist_wheel
    except ImportError:  # neither: building in place (build_ext --inplace) needs no wheel
        bdist_wheel = None

HERE = os.path.dirname(os.path.abspath(__file__))
# The stable ABI the extension targets: 3.11's when the building Python has it (the buffer
# protocol is part of it from 3.11), else 3.10's (mba/_speedups.c then leaves BufferBase out).
ABI = (3, 11) if sys.version_info >= (3, 11) else (3, 10)


def crate_dir():
    d = os.environ.get("MBA_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
    toml = os.path.join(d, "Cargo.toml")
    if os.path.exists(toml):
        with open(toml) as f:
            if 'name = "mba"' in f.read():
                return d
    return None


def cargo_program():
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    if not cargo:
        home = os.path.join(os.path.expanduser("~"), ".cargo", "bin", "cargo")
        cargo = home if os.path.exists(home) else None
    return cargo


class build_with_library(build_py):
    """build_py, then the library beside the package's modules."""

    def run(self):
        super().run()
        if os.environ.get("MBA_LIBRARY") == "system":
            self.announce("MBA_LIBRARY=system: no libmba bundled; the system's is used at run time", 2)
            return
        crate = crate_dir()
        if crate is None:
            raise SystemExit("mba-array: the mba Rust sources are not two directories above setup.py; set "
                             "MBA_SOURCE_DIR to the repository, or MBA_LIBRARY=system to use an installed libmba")
        cargo = cargo_program()
        if cargo is None:
            raise SystemExit("mba-array: cargo is needed to build libmba (https://rustup.rs), or set "
                             "MBA_LIBRARY=system to use an installed libmba")
        profile = os.environ.get("MBA_CARGO_PROFILE") or "release"
        # Where cargo put the library, as cargo reports it (CARGO_TARGET_DIR, build.target-dir in a
        # cargo configuration, ...); its messages still reach the terminal.
        r = subprocess.run([cargo, "build", "--profile", profile, "--lib", "-p", "mba",
                            "--message-format=json-render-diagnostics"], cwd=crate, check=True,
                           stdout=subprocess.PIPE, text=True)
        built = None
        for line in r.stdout.splitlines():
            try:
                m = json.loads(line)
            except ValueError:
                continue
            if m.get("reason") == "compiler-artifact" and "cdylib" in m.get("target", {}).get("kind", ()):
                built = next((f for f in m.get("filenames", ()) if f.endswith(".so")), built)
        if built is None:
            raise SystemExit("mba-array: cargo built no libmba.so (its output: " + r.stdout[-2000:] + ")")
        dest = os.path.join(self.build_lib, "mba", "libmba.so")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(built, dest)
        os.chmod(dest, 0o755)


class platform_wheel(bdist_wheel or object):
    """A wheel for this platform (it carries a shared library) and every Python from ABI on (the
    optional extension uses the stable ABI)."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        return f"cp{ABI[0]}{ABI[1]}", "abi3", sysconfig.get_platform().replace("-", "_").replace(".", "_")


class BinaryDistribution(Distribution):
    """Files go to the platform-specific part of the wheel."""

    def has_ext_modules(self):
        return True


# The per-element call without ctypes; optional: without a C compiler or Python's headers the
# package works through ctypes alone.
speedups = Extension("mba._speedups", ["mba/_speedups.c"], py_limited_api=True,
                     define_macros=[("Py_LIMITED_API", "0x03%02X0000" % ABI[1])], optional=True)

commands = {"build_py": build_with_library}
if bdist_wheel is not None:
    commands["bdist_wheel"] = platform_wheel
setup(distclass=BinaryDistribution, ext_modules=[speedups], cmdclass=commands)
