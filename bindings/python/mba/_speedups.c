/* mba._speedups: what mba.array cannot do well (or at all) in Python.
 *
 * 1. append(): the one call mba.array makes per element, without ctypes. A ctypes call costs
 *    250-300 ns whatever the function does (it prepares a libffi call every time); this makes
 *    the same call, to the same function of the libmba that ctypes loaded (its address comes
 *    from ctypes), for about a tenth of that.
 * 2. BufferBase: the base type of mba.array, with the buffer protocol (bf_getbuffer and
 *    bf_releasebuffer), which a class written in Python can have only from Python 3.12. The
 *    buffer is the array's shared memory itself (zero-copy); what it covers comes from the
 *    array's _acquire_buffer() (mba_data, the length mba_len vouches for, the typecode,
 *    read-only or not), which also counts the export so that close() and resizes refuse while
 *    it lasts; bf_releasebuffer calls _release_buffer(). BufferBase also answers len(a) and
 *    a[i] for an int i in C (sq_length, mp_subscript): from the address of the header's length
 *    word, the length the library last vouched for (`_known`), the data address, the item size
 *    and the typecode, which mba.array sets with _fast_set(). Anything else (a length past
 *    `_known`, slices, other keys, a closed array) goes to the array's _len_slow() and
 *    _getitem(), which decide as they did before.
 * 3. Span(address, nbytes, owner[, free, handle[, readonly]]): a buffer over nbytes of memory
 *    at address that keeps owner alive, weak-referenceable and hashed by identity, which counts
 *    the buffers exported from it (`exports`: numpy views of an array are counted this way, for
 *    close() to refuse while they live). mba makes its
 *    mapping, its header and each view's keeper of these instead of ctypes arrays, whose first
 *    use of each size creates a new type (tens of microseconds in a new process, on every
 *    attach). The mapping's Span also frees the handle behind it: free (mba_free's address) is
 *    called with handle when the Span goes, which is when nothing can use the mapping any more.
 *
 * The module is optional: mba falls back to ctypes and to __buffer__ (3.12+) when it is missing
 * (or MBA_NO_SPEEDUPS is set). Stable ABI: built with Py_LIMITED_API 0x030B0000 (the buffer
 * protocol is in the limited API from 3.11) one build serves every Python from 3.11; built for
 * 3.10 (0x030A0000, setup.py decides) it has append() only.
 */
#ifndef Py_LIMITED_API
#define Py_LIMITED_API 0x030B0000
#endif
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <structmember.h>

typedef int32_t (*elem_call)(void *array, const void *elem);

/* append(call, data) -> status
 *
 * call: a tuple (function address, handle address, item size, release the GIL, owner), made
 *       once per handle by mba; owner is the object whose deallocation frees the handle (the
 *       mapping's Span); data: bytes of exactly that item size, the element.
 * Calls function(handle, data) and returns its mba_status. With "release the GIL" true (handles
 * without MBA_EXCLUSIVE, which the library makes thread-safe), other threads run meanwhile: one
 * of them may close the array, dropping the array's own reference to owner; the reference this
 * call holds to the tuple, and so to owner, keeps the handle alive until the call returns. data
 * stays alive, as the caller holds it. */
static PyObject *append(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 2 || !PyTuple_Check(args[0]) || PyTuple_Size(args[0]) != 5 || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "append(call, data): call is a 5-tuple, data bytes");
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
        PyObject *call = args[0];
        Py_INCREF(call);  /* the owner, and so the handle, outlive the call */
        Py_BEGIN_ALLOW_THREADS
        status = ((elem_call)fn)(handle, data);
        Py_END_ALLOW_THREADS
        Py_DECREF(call);
    } else {
        status = ((elem_call)fn)(handle, data);
    }
    return PyLong_FromLong(status);
}

typedef uint64_t (*u64_getter)(const void *array);
typedef uint32_t (*u32_getter)(const void *array);
typedef const void *(*ptr_getter)(const void *array);

/* The six functions of getters (a 6-tuple of non-NULL addresses) into fn; -1 with an exception
 * set if it is not one. */
static int getters_of(PyObject *getters, void *fn[6]) {
    if (!PyTuple_Check(getters) || PyTuple_Size(getters) != 6) {
        PyErr_SetString(PyExc_TypeError, "getters is a 6-tuple");
        return -1;
    }
    for (Py_ssize_t i = 0; i < 6; i++) {
        fn[i] = PyLong_AsVoidPtr(PyTuple_GetItem(getters, i));
        if (fn[i] == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "getters: a NULL function");
            }
            return -1;
        }
    }
    return 0;
}

static PyObject *info_from(void *fn[6], void *handle) {
    uint32_t dtype = ((u32_getter)fn[0])(handle);
    uint32_t typecode = ((u32_getter)fn[1])(handle);
    const void *data = ((ptr_getter)fn[2])(handle);
    uint64_t max_capacity = ((u64_getter)fn[3])(handle);
    const void *header = ((ptr_getter)fn[4])(handle);
    uint64_t len = ((u64_getter)fn[5])(handle);
    return Py_BuildValue("(kkKKKK)", (unsigned long)dtype, (unsigned long)typecode,
                         (unsigned long long)(uintptr_t)data, (unsigned long long)max_capacity,
                         (unsigned long long)(uintptr_t)header, (unsigned long long)len);
}

/* info(getters, handle) -> (dtype, typecode, data, max_capacity, header, len)
 *
 * getters: the addresses of mba_dtype, mba_typecode, mba_data, mba_max_capacity, mba_header_ptr
 * and mba_len (a 6-tuple made once by mba); handle: a live handle's address. What mba.array
 * asks of every new handle, in one call: through ctypes that is six calls, each of which costs
 * a few microseconds the first time a process makes it. Addresses are ints (0 for NULL). */
static PyObject *info(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    void *fn[6];
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "info(getters, handle): getters is a 6-tuple");
        return NULL;
    }
    if (getters_of(args[0], fn) < 0) {
        return NULL;
    }
    void *handle = PyLong_AsVoidPtr(args[1]);
    if (handle == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "info: a NULL handle");
        }
        return NULL;
    }
    return info_from(fn, handle);
}

/* What attach() and create() return: (status, handle address or 0, info or None). With getters
 * (fn not NULL) and a new handle, info is what info(getters, handle) returns: a new array's
 * first questions, answered in the same call. It is None if that tuple cannot be made (no
 * memory): the handle's address is never lost, and the caller asks info() itself. */
static PyObject *opened(int32_t status, void *handle, void **fn) {
    PyObject *i = NULL;
    if (status == 0 && fn != NULL) {
        i = info_from(fn, handle);
        if (i == NULL) {
            PyErr_Clear();
        }
    }
    if (i == NULL) {
        i = Py_None;
        Py_INCREF(i);
    }
    return Py_BuildValue("(lKN)", (long)status, (unsigned long long)(uintptr_t)(status == 0 ? handle : NULL), i);
}

typedef int32_t (*attach_call)(const char *uri, uint32_t flags, void **out);

/* attach(function, uri, flags[, getters]) -> (status, handle, info)
 *
 * function: the address of mba_attach; uri: bytes (mba refused a NUL byte in it already).
 * Calls it with the GIL released (an attach may wait for a lock) and returns its status, the
 * new handle's address (0 unless the status is 0) and, given getters, its info() (see opened).
 * The same call as through ctypes, less the conversions ctypes prepares on its first call in a
 * process. */
static PyObject *attach(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    void *getters[6];
    if ((nargs != 3 && nargs != 4) || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "attach(function, uri, flags[, getters]): uri is bytes");
        return NULL;
    }
    if (nargs == 4 && args[3] != Py_None && getters_of(args[3], getters) < 0) {
        return NULL;
    }
    void *fn = PyLong_AsVoidPtr(args[0]);
    unsigned long flags = PyLong_AsUnsignedLong(args[2]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (fn == NULL || flags > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "attach: a NULL function, or flags past 32 bits");
        return NULL;
    }
    const char *uri = PyBytes_AsString(args[1]);
    if (uri == NULL) {
        return NULL;
    }
    void *handle = NULL;
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = ((attach_call)fn)(uri, (uint32_t)flags, &handle);
    Py_END_ALLOW_THREADS
    return opened(status, handle, nargs == 4 && args[3] != Py_None ? getters : NULL);
}

/* mba_options as include/mba.h declares it (the binding's ctypes _Options says the same). */
typedef struct {
    uint32_t struct_size, flags, dtype, mode;
    uint64_t capacity, max_capacity;
    uint32_t ndim, typecode;
    uint64_t shape[8];
    uint64_t timeout_ms, offset, length;
} options;
typedef void (*options_init_call)(options *o);
typedef int32_t (*create_call)(const char *uri, const options *o, void **out);

/* create(functions, uri, flags, dtype, mode, capacity, max_capacity, typecode[, getters])
 *   -> (status, handle, info)
 *
 * functions: the addresses of mba_options_init and mba_create_ex; uri: bytes. Fills an
 * mba_options with mba_options_init, sets the six fields and calls mba_create_ex with the GIL
 * released; returns its status, the new handle's address (0 unless the status is 0) and, given
 * getters, its info() (see opened). */
static PyObject *create(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    void *getters[6];
    if ((nargs != 8 && nargs != 9) || !PyTuple_Check(args[0]) || PyTuple_Size(args[0]) != 2
        || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError,
                        "create(functions, uri, flags, dtype, mode, capacity, max_capacity, typecode[, getters])");
        return NULL;
    }
    if (nargs == 9 && args[8] != Py_None && getters_of(args[8], getters) < 0) {
        return NULL;
    }
    void *init = PyLong_AsVoidPtr(PyTuple_GetItem(args[0], 0));
    void *fn = PyLong_AsVoidPtr(PyTuple_GetItem(args[0], 1));
    unsigned long flags = PyLong_AsUnsignedLong(args[2]);
    unsigned long dtype = PyLong_AsUnsignedLong(args[3]);
    unsigned long mode = PyLong_AsUnsignedLong(args[4]);
    unsigned long long capacity = PyLong_AsUnsignedLongLong(args[5]);
    unsigned long long max_capacity = PyLong_AsUnsignedLongLong(args[6]);
    unsigned long typecode = PyLong_AsUnsignedLong(args[7]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (init == NULL || fn == NULL || flags > UINT32_MAX || dtype > UINT32_MAX || mode > UINT32_MAX
        || typecode > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "create: a NULL function, or a field past 32 bits");
        return NULL;
    }
    const char *uri = PyBytes_AsString(args[1]);
    if (uri == NULL) {
        return NULL;
    }
    options o;
    ((options_init_call)init)(&o);
    if (o.struct_size != sizeof o) {
        PyErr_SetString(PyExc_SystemError, "create: libmba's mba_options is not the one this module knows");
        return NULL;
    }
    o.flags = (uint32_t)flags;
    o.dtype = (uint32_t)dtype;
    o.mode = (uint32_t)mode;
    o.capacity = capacity;
    o.max_capacity = max_capacity;
    o.typecode = (uint32_t)typecode;
    void *handle = NULL;
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = ((create_call)fn)(uri, &o, &handle);
    Py_END_ALLOW_THREADS
    return opened(status, handle, nargs == 9 && args[8] != Py_None ? getters : NULL);
}

#if Py_LIMITED_API + 0 >= 0x030B0000
#define MBA_BUFFER_BASE 1

/* One NUL-terminated format string per typecode, as array.array exports them (the typecode;
 * 'w' for a 4-byte 'u'; the array says which). Static: views may outlive anything else. */
static const char FORMATS[] = "b\0B\0u\0w\0h\0H\0i\0I\0l\0L\0q\0Q\0f\0d";

static const char *format_of(int typecode) {
    for (size_t i = 0; i + 1 < sizeof FORMATS; i += 2) {
        if (FORMATS[i] == typecode) {
            return FORMATS + i;
        }
    }
    return NULL;
}

static char empty[1];  /* the address of an empty view with no mapping behind it */

static void release_export(PyObject *self) {
    PyObject *r = PyObject_CallMethod(self, "_release_buffer", NULL);
    if (r == NULL) {
        PyErr_WriteUnraisable(self);  /* bf_releasebuffer cannot fail */
    }
    Py_XDECREF(r);
}

/* bf_getbuffer: self._acquire_buffer(writable) -> (address, count, itemsize, format, readonly)
 * checks that the array is open (and writable when a writable buffer is asked for), counts the
 * export and returns what the view covers: `count` elements at `address`, a length the library
 * vouched for, inside this process's mapping, which stays while the export is counted. */
static int buffer_get(PyObject *self, Py_buffer *view, int flags) {
    if (view == NULL) {  /* as array.array answers PyObject_GetBuffer(obj, NULL, flags) */
        PyErr_SetString(PyExc_BufferError, "mba.array: view==NULL argument is obsolete");
        return -1;
    }
    PyObject *info = PyObject_CallMethod(self, "_acquire_buffer", "i", (flags & PyBUF_WRITABLE) ? 1 : 0);
    if (info == NULL) {
        return -1;
    }
    /* From here on the export is counted: every failure gives it back. */
    Py_ssize_t *dims = NULL;
    void *address = NULL;
    Py_ssize_t count = 0, itemsize = 0;
    const char *format = NULL;
    int readonly = 0;
    if (!PyTuple_Check(info) || PyTuple_Size(info) != 5) {
        PyErr_SetString(PyExc_SystemError, "mba.array._acquire_buffer returned something else than a 5-tuple");
        goto fail;
    }
    PyObject *addr = PyTuple_GetItem(info, 0);
    address = addr == Py_None ? NULL : PyLong_AsVoidPtr(addr);
    count = PyLong_AsSsize_t(PyTuple_GetItem(info, 1));
    itemsize = PyLong_AsSsize_t(PyTuple_GetItem(info, 2));
    readonly = PyObject_IsTrue(PyTuple_GetItem(info, 4));
    if (PyErr_Occurred() || readonly < 0) {
        goto fail;
    }
    PyObject *tc = PyTuple_GetItem(info, 3);
    Py_UCS4 c = PyUnicode_Check(tc) && PyUnicode_GetLength(tc) == 1 ? PyUnicode_ReadChar(tc, 0) : 0;
    format = c < 128 ? format_of((int)c) : NULL;
    if (format == NULL || itemsize <= 0 || count < 0 || (count > 0 && address == NULL)
        || count > PY_SSIZE_T_MAX / itemsize) {
        PyErr_SetString(PyExc_SystemError, "mba.array._acquire_buffer returned an impossible view");
        goto fail;
    }
    if (readonly && (flags & PyBUF_WRITABLE)) {
        PyErr_SetString(PyExc_BufferError, "the mba array is read-only");
        goto fail;
    }
    dims = PyMem_Malloc(2 * sizeof(Py_ssize_t));  /* shape and strides of this view */
    if (dims == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    dims[0] = count;
    dims[1] = itemsize;
    Py_DECREF(info);
    Py_INCREF(self);
    view->obj = self;
    view->buf = address != NULL ? address : (void *)empty;
    view->len = count * itemsize;
    view->readonly = readonly;
    view->itemsize = itemsize;
    view->format = (flags & PyBUF_FORMAT) == PyBUF_FORMAT ? (char *)format : NULL;
    view->ndim = 1;
    view->shape = (flags & PyBUF_ND) == PyBUF_ND ? &dims[0] : NULL;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? &dims[1] : NULL;
    view->suboffsets = NULL;
    view->internal = dims;
    return 0;
fail:
    Py_DECREF(info);
    {
        PyObject *type, *value, *trace;
        PyErr_Fetch(&type, &value, &trace);
        release_export(self);
        PyErr_Restore(type, value, trace);
    }
    return -1;
}

static void buffer_release(PyObject *self, Py_buffer *view) {
    PyMem_Free(view->internal);
    view->internal = NULL;
    PyObject *type, *value, *trace;
    PyErr_Fetch(&type, &value, &trace);
    release_export(self);
    PyErr_Restore(type, value, trace);
}

/* Span: see the top of the file. The caller (mba) vouches that address .. address + nbytes is
 * mapped for as long as owner (or, for the mapping itself, the span) lives. */
typedef int32_t (*free_call)(void *array);

typedef struct {
    PyObject_HEAD
    void *address;
    Py_ssize_t nbytes;
    PyObject *owner;
    PyObject *weakrefs;
    free_call free;
    void *handle;
    Py_ssize_t exports;
    int readonly;
} Span;

static PyObject *span_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *addr, *owner, *free_addr = NULL, *handle_addr = NULL;
    Py_ssize_t nbytes;
    int readonly = 0;
    if (kwargs != NULL && PyDict_Size(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "Span() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "OnO|OOp:Span", &addr, &nbytes, &owner, &free_addr, &handle_addr, &readonly)) {
        return NULL;
    }
    void *address = PyLong_AsVoidPtr(addr);
    void *free_fn = free_addr != NULL && free_addr != Py_None ? PyLong_AsVoidPtr(free_addr) : NULL;
    void *handle = handle_addr != NULL && handle_addr != Py_None ? PyLong_AsVoidPtr(handle_addr) : NULL;
    if (PyErr_Occurred()) {
        return NULL;
    }
    if ((free_fn == NULL) != (handle == NULL)) {
        PyErr_SetString(PyExc_ValueError, "Span: free and handle go together");
        return NULL;
    }
    if (nbytes < 0 || (address == NULL && nbytes > 0)) {
        PyErr_SetString(PyExc_ValueError, "Span: a negative size, or bytes at NULL");
        return NULL;
    }
    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    Span *self = (Span *)alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->address = address != NULL ? address : (void *)empty;
    self->nbytes = nbytes;
    Py_INCREF(owner);
    self->owner = owner;
    self->weakrefs = NULL;
    self->free = (free_call)free_fn;
    self->handle = handle;
    self->exports = 0;
    self->readonly = readonly;
    return (PyObject *)self;
}

static void span_dealloc(PyObject *obj) {
    Span *self = (Span *)obj;
    PyTypeObject *type = Py_TYPE(obj);
    if (self->weakrefs != NULL) {
        PyObject_ClearWeakRefs(obj);
    }
    Py_CLEAR(self->owner);
    if (self->free != NULL) {  /* the mapping's Span: nothing refers to the mapping any more */
        self->free(self->handle);
        self->free = NULL;
    }
    freefunc free = (freefunc)PyType_GetSlot(type, Py_tp_free);
    free(obj);
    Py_DECREF(type);
}

static int span_get(PyObject *obj, Py_buffer *view, int flags) {
    Span *self = (Span *)obj;
    if (PyBuffer_FillInfo(view, obj, self->address, self->nbytes, self->readonly, flags) < 0) {
        return -1;
    }
    self->exports++;
    return 0;
}

static void span_release(PyObject *obj, Py_buffer *view) {
    (void)view;
    ((Span *)obj)->exports--;
}

static PyMemberDef span_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(Span, weakrefs), READONLY, NULL},
    {"exports", T_PYSSIZET, offsetof(Span, exports), READONLY, "buffers exported from this span and not released"},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot span_slots[] = {
    {Py_tp_new, (void *)span_new},
    {Py_tp_dealloc, (void *)span_dealloc},
    {Py_bf_getbuffer, (void *)span_get},
    {Py_bf_releasebuffer, (void *)span_release},
    {Py_tp_members, (void *)span_members},
    {Py_tp_doc, (void *)"Span(address, nbytes, owner[, free, handle[, readonly]]): a buffer over mapped memory."},
    {0, NULL},
};

static PyType_Spec span_spec = {
    "mba._speedups.Span", sizeof(Span), 0, Py_TPFLAGS_DEFAULT, span_slots,
};

typedef struct {
    PyObject_HEAD
    const uint64_t *len_word;  /* the header's length word in the mapping; NULL: always slow */
    long long known;           /* `_known`: lengths up to this one are readable */
    const char *data;          /* element 0 */
    Py_ssize_t itemsize;
    int typecode;
} Base;

static PyObject *len_slow_name, *getitem_name;
static PyTypeObject *buffer_base_type;

/* The length, if the fast path can vouch for it; -1 (no exception) if it cannot. */
static long long fast_len(Base *b) {
    if (b->len_word == NULL) {
        return -1;
    }
    uint64_t n = __atomic_load_n(b->len_word, __ATOMIC_ACQUIRE);
    return b->known >= 0 && n <= (uint64_t)b->known ? (long long)n : -1;
}

static Py_ssize_t base_len(PyObject *self) {
    long long n = fast_len((Base *)self);
    if (n >= 0) {
        return (Py_ssize_t)n;
    }
    PyObject *r = PyObject_CallMethodObjArgs(self, len_slow_name, NULL);
    if (r == NULL) {
        return -1;
    }
    Py_ssize_t v = PyLong_AsSsize_t(r);
    Py_DECREF(r);
    return v;
}

/* Element i (below a vouched length) as mba.array returns it; NULL without an exception when
 * the slow path should answer (a code point past U+10FFFF, say, whose error it words). */
static PyObject *element(Base *b, Py_ssize_t i) {
    const char *p = b->data + i * b->itemsize;
    switch (b->typecode) {
    case 'b': return PyLong_FromLong(__atomic_load_n((const int8_t *)p, __ATOMIC_RELAXED));
    case 'B': return PyLong_FromLong(__atomic_load_n((const uint8_t *)p, __ATOMIC_RELAXED));
    case 'h': return PyLong_FromLong(__atomic_load_n((const int16_t *)p, __ATOMIC_RELAXED));
    case 'H': return PyLong_FromLong(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
    case 'i': return PyLong_FromLong(__atomic_load_n((const int32_t *)p, __ATOMIC_RELAXED));
    case 'I': return PyLong_FromUnsignedLong(__atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED));
    case 'l':
    case 'q': return PyLong_FromLongLong(__atomic_load_n((const int64_t *)p, __ATOMIC_RELAXED));
    case 'L':
    case 'Q': return PyLong_FromUnsignedLongLong(__atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED));
    case 'f': {
        uint32_t bits = __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
        float f;
        memcpy(&f, &bits, sizeof f);
        return PyFloat_FromDouble(f);
    }
    case 'd': {
        uint64_t bits = __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
        double d;
        memcpy(&d, &bits, sizeof d);
        return PyFloat_FromDouble(d);
    }
    case 'u':
    case 'w': {
        if (b->itemsize != 4) {
            return NULL;
        }
        uint32_t c = __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
        return c <= 0x10FFFF ? PyUnicode_FromOrdinal((int)c) : NULL;
    }
    default: return NULL;
    }
}

static PyObject *base_subscript(PyObject *self, PyObject *key) {
    Base *b = (Base *)self;
    if (PyLong_CheckExact(key)) {
        long long n = fast_len(b);
        Py_ssize_t i = PyLong_AsSsize_t(key);
        if (i == -1 && PyErr_Occurred()) {
            PyErr_Clear();  /* too large for an index: the slow path words the error */
        } else if (n >= 0) {
            if (i < 0) {
                i += (Py_ssize_t)n;
            }
            if (i >= 0 && (long long)i < n) {
                PyObject *v = element(b, i);
                if (v != NULL || PyErr_Occurred()) {
                    return v;
                }
            }
        }
    }
    return PyObject_CallMethodObjArgs(self, getitem_name, key, NULL);
}

/* self._getitem(i): element i as the Python path answers it. */
static PyObject *item_slow(PyObject *self, Py_ssize_t i) {
    PyObject *key = PyLong_FromSsize_t(i);
    if (key == NULL) {
        return NULL;
    }
    PyObject *r = PyObject_CallMethodObjArgs(self, getitem_name, key, NULL);
    Py_DECREF(key);
    return r;
}

/* sq_item (reversed(), the sequence protocol): i is already made non-negative by the caller
 * where it could be. */
static PyObject *base_item(PyObject *self, Py_ssize_t i) {
    long long n = fast_len((Base *)self);
    if (n >= 0 && i >= 0 && (long long)i < n) {
        PyObject *v = element((Base *)self, i);
        if (v != NULL || PyErr_Occurred()) {
            return v;
        }
    }
    return item_slow(self, i);
}

/* _fast_set(len_address, data_address, itemsize, typecode): what the fast paths read; a zero
 * len_address sends every call to the slow path (closed arrays, no header to read). */
static PyObject *base_fast_set(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Base *b = (Base *)self;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "_fast_set(len_address, data_address, itemsize, typecode)");
        return NULL;
    }
    void *len_word = PyLong_AsVoidPtr(args[0]);
    void *data = PyLong_AsVoidPtr(args[1]);
    Py_ssize_t itemsize = PyLong_AsSsize_t(args[2]);
    long typecode = PyLong_AsLong(args[3]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (len_word != NULL && (data == NULL || itemsize <= 0 || ((uintptr_t)len_word & 7) != 0)) {
        PyErr_SetString(PyExc_ValueError, "_fast_set: no data, or a bad item size or length address");
        return NULL;
    }
    b->len_word = (const uint64_t *)len_word;
    b->data = (const char *)data;
    b->itemsize = itemsize;
    b->typecode = (int)typecode;
    Py_RETURN_NONE;
}

/* Iter(array, pos): the iterator of an mba.array, in C. Each step reads the length as len(a)
 * does (so appends made meanwhile are seen, and a shrink ends it), then element pos as a[pos]
 * does; once past the end it lets go of the array and stays exhausted. `array` is None for an
 * exhausted iterator; `pos` is where it stands (both for pickling). */
typedef struct {
    PyObject_HEAD
    PyObject *array;  /* an mba.array (a BufferBase), or NULL once exhausted */
    Py_ssize_t pos;
} Iter;

static PyObject *iter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *array;
    Py_ssize_t pos;
    if (kwargs != NULL && PyDict_Size(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "Iter() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "On:Iter", &array, &pos)) {
        return NULL;
    }
    if (pos < 0) {
        PyErr_SetString(PyExc_ValueError, "Iter: a negative position");
        return NULL;
    }
    if (array != Py_None && !PyObject_TypeCheck(array, buffer_base_type)) {
        PyErr_SetString(PyExc_TypeError, "Iter: not an mba.array");
        return NULL;
    }
    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    Iter *self = (Iter *)alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    if (array != Py_None) {
        Py_INCREF(array);
        self->array = array;
    }
    self->pos = pos;
    return (PyObject *)self;
}

static int iter_traverse(PyObject *obj, visitproc visit, void *arg) {
    Py_VISIT(((Iter *)obj)->array);
    Py_VISIT(Py_TYPE(obj));
    return 0;
}

static int iter_clear(PyObject *obj) {
    Py_CLEAR(((Iter *)obj)->array);
    return 0;
}

static void iter_dealloc(PyObject *obj) {
    PyTypeObject *type = Py_TYPE(obj);
    PyObject_GC_UnTrack(obj);
    iter_clear(obj);
    freefunc free = (freefunc)PyType_GetSlot(type, Py_tp_free);
    free(obj);
    Py_DECREF(type);
}

static PyObject *iter_next(PyObject *obj) {
    Iter *it = (Iter *)obj;
    PyObject *array = it->array;
    if (array == NULL) {
        return NULL;
    }
    Base *b = (Base *)array;
    Py_ssize_t n = base_len(array); /* the fast path's length, else _len_slow()'s */
    if (n < 0) {
        return NULL;
    }
    if (it->pos >= n) {
        Py_CLEAR(it->array);
        return NULL;
    }
    /* i is below a length the library vouched for (n, from the fast path or from _len_slow,
     * which raised _known to it): element i is mapped, whatever a peer writes meanwhile. */
    Py_ssize_t i = it->pos++;
    if (b->len_word != NULL) {
        PyObject *v = element(b, i);
        if (v != NULL || PyErr_Occurred()) {
            return v;
        }
    }
    PyObject *r = item_slow(array, i);
    if (r == NULL && PyErr_ExceptionMatches(PyExc_IndexError)) {
        PyErr_Clear();  /* it shrank meanwhile: the end, as for array.array's iterator */
        Py_CLEAR(it->array);
    }
    return r;
}

static PyObject *iter_state(PyObject *obj, void *closure) {
    (void)closure;
    Iter *it = (Iter *)obj;
    return Py_BuildValue("(On)", it->array != NULL ? it->array : Py_None, it->pos);
}

static PyGetSetDef iter_getset[] = {
    {"_state", iter_state, NULL, "(array or None once exhausted, position)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot iter_slots[] = {
    {Py_tp_new, (void *)iter_new},
    {Py_tp_dealloc, (void *)iter_dealloc},
    {Py_tp_traverse, (void *)iter_traverse},
    {Py_tp_clear, (void *)iter_clear},
    {Py_tp_iter, (void *)PyObject_SelfIter},
    {Py_tp_iternext, (void *)iter_next},
    {Py_tp_getset, (void *)iter_getset},
    {Py_tp_doc, (void *)"The iterator of an mba.array, in C."},
    {0, NULL},
};

static PyType_Spec iter_spec = {
    "mba._speedups.Iter", sizeof(Iter), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, iter_slots,
};

static PyMethodDef base_methods[] = {
    {"_fast_set", (PyCFunction)(void (*)(void))base_fast_set, METH_FASTCALL,
     "_fast_set(len_address, data_address, itemsize, typecode): what len(a) and a[i] read in C."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef base_members[] = {
    {"_known", T_LONGLONG, offsetof(Base, known), 0, "the length the library last vouched for"},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot buffer_base_slots[] = {
    {Py_bf_getbuffer, (void *)buffer_get},
    {Py_bf_releasebuffer, (void *)buffer_release},
    {Py_sq_length, (void *)base_len},
    {Py_mp_length, (void *)base_len},
    {Py_mp_subscript, (void *)base_subscript},
    {Py_sq_item, (void *)base_item},
    {Py_tp_methods, (void *)base_methods},
    {Py_tp_members, (void *)base_members},
    {Py_tp_doc, (void *)"The buffer protocol, len() and a[i] of mba.array, in C (its base type)."},
    {0, NULL},
};

static PyType_Spec buffer_base_spec = {
    "mba._speedups.BufferBase", sizeof(Base), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, buffer_base_slots,
};
#endif

static PyMethodDef methods[] = {
    {"append", (PyCFunction)(void (*)(void))append, METH_FASTCALL,
     "append(call, data) -> status: one libmba element call without ctypes."},
    {"attach", (PyCFunction)(void (*)(void))attach, METH_FASTCALL,
     "attach(function, uri, flags[, getters]) -> (status, handle, info): mba_attach without ctypes."},
    {"create", (PyCFunction)(void (*)(void))create, METH_FASTCALL,
     "create(functions, uri, flags, dtype, mode, capacity, max_capacity, typecode[, getters]) -> (status, handle, info)."},
    {"info", (PyCFunction)(void (*)(void))info, METH_FASTCALL,
     "info(getters, handle) -> (dtype, typecode, data, max_capacity, header, len) in one call."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "mba._speedups", "The per-element call of mba.array, without ctypes.", -1, methods,
    NULL, NULL, NULL, NULL,
};

#ifdef MBA_BUFFER_BASE
/* Makes the type of `spec` and adds it to module m as `name`; the type (which m keeps), or NULL
 * with an exception. */
static PyTypeObject *add_type(PyObject *m, PyType_Spec *spec, const char *name) {
    PyObject *type = PyType_FromSpec(spec);
    if (type == NULL || PyModule_AddObject(m, name, type) < 0) {
        Py_XDECREF(type);
        return NULL;
    }
    return (PyTypeObject *)type;
}
#endif

PyMODINIT_FUNC PyInit__speedups(void) {
    PyObject *m = PyModule_Create(&module);
#ifdef MBA_BUFFER_BASE
    if (m != NULL) {
        len_slow_name = PyUnicode_InternFromString("_len_slow");
        getitem_name = PyUnicode_InternFromString("_getitem");
        if (len_slow_name == NULL || getitem_name == NULL
            || (buffer_base_type = add_type(m, &buffer_base_spec, "BufferBase")) == NULL
            || add_type(m, &iter_spec, "Iter") == NULL || add_type(m, &span_spec, "Span") == NULL) {
            Py_DECREF(m);
            return NULL;
        }
    }
#endif
    return m;
}
