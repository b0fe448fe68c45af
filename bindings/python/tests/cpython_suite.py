"""Runs CPython's own test suite for the array module, Lib/test/test_array.py of the running
interpreter, against mba.array.

The test file does `import array`; for the time of that import only, sys.modules["array"] is a
shim module whose `array` and `ArrayType` are mba.array, `typecodes` are mba.typecodes and
`_array_reconstructor` is mba's (what mba.array.__reduce_ex__ names, the counterpart of the
standard library's). Everything else in the process keeps the real array module.

Usage: python cpython_suite.py [--floor N | --check-floor] [--installed] [--verbose] [--json PATH]
  --floor N        exit 1 when fewer than N tests pass
  --check-floor    the same, with N read from cpython_floor.json for this interpreter (major.minor);
                   an interpreter missing from that file is an error, never a skip
Prints the counts, then every test that did not pass with the first line of its reason.
mba is imported from this source tree (bindings/python), or with --installed from wherever the
interpreter finds it; it must find its library (MBA_LIBRARY, or the one installed with it).
"""

import argparse
import importlib
import json
import os
import sys
import types
import unittest
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
FLOORS = os.path.join(HERE, "cpython_floor.json")


def load_suite():
    import array as real_array

    import mba

    shim = types.ModuleType("array")
    shim.array = mba.array
    shim.ArrayType = mba.array
    shim.typecodes = mba.typecodes
    shim._array_reconstructor = mba._array_reconstructor
    shim.__doc__ = "mba.array standing in for the array module (bindings/python/tests/cpython_suite.py)"
    sys.modules.pop("test.test_array", None)
    sys.modules["array"] = shim
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # array('u') at import, on 3.13
            module = importlib.import_module("test.test_array")
    finally:
        sys.modules["array"] = real_array
    assert module.array is shim, "the test module must have imported the shim"
    return unittest.defaultTestLoader.loadTestsFromModule(module)


# Tests that would end the interpreter: they fail without running, with the reason.
CRASHES = {
    # _testcapi.getbuffer_with_null_view(a) calls PyObject_GetBuffer(a, NULL, flags); for any
    # class that defines __buffer__, CPython (3.12, 3.13) writes through that NULL view and dies
    # of SIGSEGV (reproduced with a five-line class that is not mba's).
    "test_obsolete_write_lock": (sys.version_info >= (3, 12),
                                 "not run: CPython's __buffer__ slot crashes on the NULL view this test passes"),
}


def disarm(suite):
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            disarm(test)
            continue
        crash = CRASHES.get(getattr(test, "_testMethodName", ""))
        if crash and crash[0]:
            setattr(test, test._testMethodName, lambda t=test, why=crash[1]: t.fail(why))


class Result(unittest.TestResult):
    def __init__(self, verbose):
        super().__init__()
        self.verbose = verbose
        self.passed = []

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed.append(test)
        if self.verbose:
            print("ok  ", test.id(), flush=True)

    def startTest(self, test):
        super().startTest(test)
        if self.verbose:
            print("run ", test.id(), flush=True)


def first_line(trace):
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else "?"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--floor", type=int)
    parser.add_argument("--check-floor", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--installed", action="store_true")
    args = parser.parse_args()
    if not args.installed:
        sys.path.insert(0, os.path.dirname(HERE))
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    floor = args.floor
    if args.check_floor:
        floors = json.load(open(FLOORS))
        if version not in floors:
            print(f"cpython_suite: no floor for Python {version} in {FLOORS}", file=sys.stderr)
            return 2
        floor = floors[version]

    suite = load_suite()
    disarm(suite)
    total = suite.countTestCases()
    result = Result(args.verbose)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        suite.run(result)
    bad = [(t, "FAIL", tr) for t, tr in result.failures] + [(t, "ERROR", tr) for t, tr in result.errors]
    bad += [(t, "UNEXPECTED SUCCESS", "") for t in result.unexpectedSuccesses]
    bad += [(t, "SKIP", reason) for t, reason in result.skipped]
    bad += [(t, "EXPECTED FAILURE", tr) for t, tr in result.expectedFailures]
    passed = len(result.passed)
    print(f"Python {sys.version.split()[0]}: CPython test_array against mba.array: "
          f"{passed} passed, {total - passed} not passed, of {total}")
    for test, kind, why in sorted(bad, key=lambda b: b[0].id()):
        print(f"  {kind:6} {test.id()}: {first_line(why)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"python": sys.version.split()[0], "total": total, "passed": passed,
                       "not_passed": {t.id(): [k, first_line(w)] for t, k, w in bad}}, f, indent=1)
    if floor is not None and passed < floor:
        print(f"cpython_suite: {passed} passed, below the floor of {floor} for Python {version}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
