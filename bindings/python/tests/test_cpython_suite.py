"""CPython's own Lib/test/test_array.py against mba.array (tests/cpython_suite.py): the number
of tests that pass never drops below the floor recorded for this interpreter."""

import os
import subprocess
import sys

import mba

HERE = os.path.dirname(os.path.abspath(__file__))


def test_cpython_test_array_passes_down_to_the_floor():
    env = dict(os.environ, PYTHONPATH=os.path.dirname(mba.__path__[0]))
    r = subprocess.run([sys.executable, os.path.join(HERE, "cpython_suite.py"), "--check-floor"], env=env,
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
