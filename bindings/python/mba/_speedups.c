/* mba._speedups: the one call mba.array makes per element, without ctypes.
 *
 * A ctypes call costs 250-300 ns whatever the function does (it prepares a libffi call every
 * time); mba.array.append makes one per element. This module makes the same call, to the same
 * function of the libmba that ctypes loaded (its address comes from ctypes), for about a tenth
 * of that. It is optional: mba falls back to ctypes when it is missing (or MBA_NO_SPEEDUPS is
 * set). Stable ABI (3.10+): one build serves every later Python.
 */
#define Py_LIMITED_API 0x030A0000
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

typedef int32_t (*elem_call)(void *array, const void *elem);

/* append(call, data) -> status
 *
 * call: a tuple (function address, handle address, item size, release the GIL), made once per
 *       handle by mba; data: bytes of exactly that item size, the element.
 * Calls function(handle, data) and returns its mba_status. With "release the GIL" true (handles
 * without MBA_EXCLUSIVE, which the library makes thread-safe), other threads run meanwhile;
 * data stays alive, as the caller holds it. */
static PyObject *append(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 2 || !PyTuple_Check(args[0]) || PyTuple_Size(args[0]) != 4 || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "append(call, data): call is a 4-tuple, data bytes");
        return NULL;
    }
    void *fn = PyLong_AsVoidPtr(PyTuple_GetItem(args[0], 0));
    void *handle = PyLong_AsVoidPtr(PyTuple_GetItem(args[0], 1));
    Py_ssize_t itemsize = PyLong_AsSsize_t(PyTuple_GetItem(args[0], 2));
    int release = PyObject_IsTrue(PyTuple_GetItem(args[0], 3));
    if (PyErr_Occurred() || release < 0) {
        return NULL;
    }
    if (fn == NULL || handle == NULL) {
        PyErr_SetString(PyExc_ValueError, "append: NULL function or handle");
        return NULL;
    }
    char *data;
    Py_ssize_t size;
    if (PyBytes_AsStringAndSize(args[1], &data, &size) < 0) {
        return NULL;
    }
    if (size != itemsize) {
        PyErr_SetString(PyExc_ValueError, "append: data is not one element");
        return NULL;
    }
    int32_t status;
    if (release) {
        Py_BEGIN_ALLOW_THREADS
        status = ((elem_call)fn)(handle, data);
        Py_END_ALLOW_THREADS
    } else {
        status = ((elem_call)fn)(handle, data);
    }
    return PyLong_FromLong(status);
}

static PyMethodDef methods[] = {
    {"append", (PyCFunction)(void (*)(void))append, METH_FASTCALL,
     "append(call, data) -> status: one libmba element call without ctypes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "mba._speedups", "The per-element call of mba.array, without ctypes.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    return PyModule_Create(&module);
}
