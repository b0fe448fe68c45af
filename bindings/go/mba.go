// Package mba gives Go typed, growable arrays in shared memory, shared with zero copies by
// every process and language on one machine, over the C library libmba.
//
// cgo finds libmba and mba.h through pkg-config (`#cgo pkg-config: mba`): an installed libmba
// (`sudo make install`) is found as it is; for a build tree, `make` writes a pkg-config file
// with an rpath, so point pkg-config at it:
//
//	PKG_CONFIG_PATH=$REPO/target/release/pkgconfig go build
//
// README.md beside this file shows how to use the package from another module.
//
// An Array must be closed with Close; slices from View point into its mapping and must not be
// used after Close. Errors are *Error values carrying the mba status and the library's message,
// which is read in the same C call that failed (a goroutine may change OS threads between calls).
package mba

/*
#cgo pkg-config: mba
#include <string.h>
#include <stdlib.h>
#include "mba.h"

// Each wrapper returns its status with a copy of the last error (malloc'd, only on failure),
// taken in the same C call on the same OS thread. Single elements pass by value as their bits
// in a uint64 (native byte order), so the success path allocates nothing on the Go side.
typedef struct { mba_status status; char *msg; uint64_t bits; } go_res;
static go_res res(mba_status s) { go_res r = {s, NULL, 0}; if (s != MBA_OK) r.msg = strdup(mba_last_error()); return r; }
static go_res go_create(const char *u, uint32_t d, uint64_t c, uint32_t f, mba_array **o) { return res(mba_create(u, d, c, f, o)); }
static go_res go_attach(const char *u, uint32_t f, mba_array **o) { return res(mba_attach(u, f, o)); }
static go_res go_append(mba_array *a, uint64_t bits) { return res(mba_append(a, &bits)); }
static go_res go_extend(mba_array *a, const void *e, uint64_t k) { return res(mba_extend(a, e, k)); }
static go_res go_get(const mba_array *a, uint64_t i) { uint64_t b = 0; go_res r = res(mba_get(a, i, &b)); r.bits = b; return r; }
static go_res go_set(mba_array *a, uint64_t i, uint64_t bits) { return res(mba_set(a, i, &bits)); }
static go_res go_pop(mba_array *a) { uint64_t b = 0; go_res r = res(mba_pop(a, &b)); r.bits = b; return r; }
static go_res go_reserve(mba_array *a, uint64_t c) { return res(mba_reserve(a, c)); }
static go_res go_msync(mba_array *a, uint32_t f) { return res(mba_msync(a, f)); }
static go_res go_delete(const char *u) { return res(mba_delete(u)); }
// Elements wider than 8 bytes (complex128) pass by pointer.
static go_res go_append_p(mba_array *a, const void *e) { return res(mba_append(a, e)); }
static go_res go_get_p(const mba_array *a, uint64_t i, void *o) { return res(mba_get(a, i, o)); }
static go_res go_set_p(mba_array *a, uint64_t i, const void *e) { return res(mba_set(a, i, e)); }
static go_res go_pop_p(mba_array *a, void *o) { return res(mba_pop(a, o)); }
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// Flags, as in mba.h.
const (
	ReadOnly  uint32 = C.MBA_READ_ONLY
	Exclusive uint32 = C.MBA_EXCLUSIVE
	Overwrite uint32 = C.MBA_OVERWRITE
)

// Status codes, as in mba.h.
const (
	ErrInvalidArgument int32 = C.MBA_ERR_INVALID_ARGUMENT
	ErrNullPointer     int32 = C.MBA_ERR_NULL_POINTER
	ErrOutOfBounds     int32 = C.MBA_ERR_OUT_OF_BOUNDS
	ErrReadOnly        int32 = C.MBA_ERR_READ_ONLY
	ErrNotFound        int32 = C.MBA_ERR_NOT_FOUND
	ErrExists          int32 = C.MBA_ERR_EXISTS
	ErrCorrupt         int32 = C.MBA_ERR_CORRUPT
	ErrNoSpace         int32 = C.MBA_ERR_NO_SPACE
	ErrBusy            int32 = C.MBA_ERR_BUSY
	ErrEmpty           int32 = C.MBA_ERR_EMPTY
	ErrPermission      int32 = C.MBA_ERR_PERMISSION
	ErrIO              int32 = C.MBA_ERR_IO
	ErrWrongProcess    int32 = C.MBA_ERR_WRONG_PROCESS
	ErrChanged         int32 = C.MBA_ERR_CHANGED
)

// Error is a failed mba call: the status code and the library's message.
type Error struct {
	Status  int32
	Message string
}

func (e *Error) Error() string { return e.Message }

// Element is a Go type with an mba dtype: the ten numeric types, Bool, Float16, complex64 and
// complex128.
type Element interface {
	int8 | uint8 | int16 | uint16 | int32 | uint32 | int64 | uint64 | float32 | float64 |
		Bool | Float16 | complex64 | complex128
}

// Bool is an element of a bool array (MBA_BOOL): the stored byte, 0 for false. A byte a peer
// wrote may hold any value, so it is not a Go bool; use IsTrue.
type Bool uint8

// IsTrue reports whether the byte is non-zero.
func (b Bool) IsTrue() bool { return b != 0 }

// Float16 is an element of a float16 array (MBA_F16): the IEEE 754 binary16 bits.
type Float16 uint16

// dtypeNames are the dtype codes' names, as numpy spells them; index = code - 1.
var dtypeNames = [...]string{"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
	"float32", "float64", "bool", "float16", "complex64", "complex128"}

// DtypeName is the name of a dtype code ("uint32" for MBA_U32), or "dtype N" for an unknown code.
func DtypeName(code uint32) string {
	if code >= 1 && int(code) <= len(dtypeNames) {
		return dtypeNames[code-1]
	}
	return fmt.Sprintf("dtype %d", code)
}

func dtypeOf[T Element]() uint32 {
	var zero T
	return dtypeOfValue(zero)
}

// dtypeOfValue is the dtype code of v's type (a Go bool counts as MBA_BOOL, for the windowed
// reader's copies), MBA_F64 for float64 and anything else.
func dtypeOfValue(v any) uint32 {
	switch v.(type) {
	case int8:
		return C.MBA_I8
	case uint8:
		return C.MBA_U8
	case int16:
		return C.MBA_I16
	case uint16:
		return C.MBA_U16
	case int32:
		return C.MBA_I32
	case uint32:
		return C.MBA_U32
	case int64:
		return C.MBA_I64
	case uint64:
		return C.MBA_U64
	case float32:
		return C.MBA_F32
	case Bool, bool:
		return C.MBA_BOOL
	case Float16:
		return C.MBA_F16
	case complex64:
		return C.MBA_C64
	case complex128:
		return C.MBA_C128
	default:
		return C.MBA_F64
	}
}

// errorOf turns a failed result into an *Error, freeing the C copy of the message.
func errorOf(r C.go_res) error {
	if r.status == C.MBA_OK {
		return nil
	}
	defer C.free(unsafe.Pointer(r.msg))
	return &Error{Status: int32(r.status), Message: C.GoString(r.msg)}
}

// bitsOf and valueOf move one element of at most 8 bytes through a uint64 by value (native
// byte order); wider ones pass by pointer.
func bitsOf[T Element](v T) (bits uint64) {
	*(*T)(unsafe.Pointer(&bits)) = v // callers pass only elements of 8 bytes or fewer
	return bits
}

func valueOf[T Element](bits uint64) T {
	return *(*T)(unsafe.Pointer(&bits))
}

// Array is a handle on an mba array.
type Array struct {
	h     *C.mba_array
	dtype uint32
	rows  uint64 // elements per row (mba_row_size), fixed for the handle's life
	// excl is set on a handle that holds the writer lease (Exclusive): there the C calls that
	// change the length (mba_append, mba_extend, mba_pop, mba_splice, mba_reserve, mba_claim,
	// mba_commit, mba_abort) take no lock and must not run in two threads at once (mba.h,
	// GUARANTEES §12), so the binding's take turns on it. A shared handle's calls need no
	// lock of the binding's: the library serialises them.
	excl *sync.Mutex
}

// newArray wraps the handle h, opened with flags.
func newArray(h *C.mba_array, dtype, flags uint32) *Array {
	a := &Array{h: h, dtype: dtype, rows: uint64(C.mba_row_size(h))}
	if flags&Exclusive != 0 {
		a.excl = new(sync.Mutex)
	}
	return a
}

// serial and unserial bracket a length-changing C call (see excl).
func (a *Array) serial() {
	if a.excl != nil {
		a.excl.Lock()
	}
}

func (a *Array) unserial() {
	if a.excl != nil {
		a.excl.Unlock()
	}
}

// Create makes a new array of T at uri ("shm://NAME", "file://PATH", or "" for anonymous).
func Create[T Element](uri string, capacity uint64, flags uint32) (*Array, error) {
	cu, err := cURI(uri)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cu))
	var h *C.mba_array
	if err := errorOf(C.go_create(cu, C.uint32_t(dtypeOf[T]()), C.uint64_t(capacity), C.uint32_t(flags), &h)); err != nil {
		return nil, err
	}
	return newArray(h, dtypeOf[T](), flags), nil
}

// Attach opens the existing array at uri; flags is 0, ReadOnly or Exclusive.
func Attach(uri string, flags uint32) (*Array, error) {
	cu, err := cURI(uri)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cu))
	var h *C.mba_array
	if err := errorOf(C.go_attach(cu, C.uint32_t(flags), &h)); err != nil {
		return nil, err
	}
	return newArray(h, uint32(C.mba_dtype(h)), flags), nil
}

// Delete removes the name uri; attached arrays keep working.
func Delete(uri string) error {
	cu, err := cURI(uri)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cu))
	return errorOf(C.go_delete(cu))
}

// cURI is uri as a C string, refusing a NUL byte inside it (C would silently cut the name there
// and act on a shorter one). The caller frees the result.
func cURI(uri string) (*C.char, error) { return cString("URI", uri) }

// cString is s, a URI or a path (what says which), as a C string, refusing a NUL byte inside it
// as cURI does. The caller frees the result.
func cString(what, s string) (*C.char, error) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return nil, &Error{Status: ErrInvalidArgument, Message: fmt.Sprintf("mba: %s %q contains a NUL byte at %d", what, s, i)}
	}
	return C.CString(s), nil
}

// Close unmaps the array; slices from View and Claim become invalid. Closing twice is harmless.
// The other methods may run in many goroutines at once (on an Exclusive handle the calls that
// change the length take turns on a lock of the Array's, as the library takes none there), but
// Close must not run while another call on the Array (or an Appender over it) is in progress,
// nor race another Close: it frees the handle those calls use (mba_free's contract), and
// Append on a shared handle takes no lock of the binding's.
func (a *Array) Close() error {
	if a.h != nil {
		C.mba_free(a.h)
		a.h = nil
	}
	return nil
}

// Len is the published length; other processes may append at any moment.
func (a *Array) Len() uint64 { return uint64(C.mba_len(a.h)) }

// Capacity is the number of elements the store holds before it grows.
func (a *Array) Capacity() uint64 { return uint64(C.mba_capacity(a.h)) }

// Dtype is the element type code (MBA_I8 .. MBA_F64 of mba.h).
func (a *Array) Dtype() uint32 { return a.dtype }

// Reserve grows the store to hold at least capacity elements.
func (a *Array) Reserve(capacity uint64) error {
	a.serial()
	defer a.unserial()
	return errorOf(C.go_reserve(a.h, C.uint64_t(capacity)))
}

// Sync writes the array back to its store, waiting for it when wait is true.
func (a *Array) Sync(wait bool) error {
	flags := C.uint32_t(C.MBA_ASYNC)
	if wait {
		flags = C.MBA_SYNC
	}
	return errorOf(C.go_msync(a.h, flags))
}

func check[T Element](a *Array) error {
	if a.h == nil {
		return &Error{Status: ErrNullPointer, Message: "mba: array is closed"}
	}
	if d := dtypeOf[T](); d != a.dtype {
		return &Error{Status: ErrInvalidArgument,
			Message: fmt.Sprintf("mba: the array holds %s elements, not %s", DtypeName(a.dtype), DtypeName(d))}
	}
	return nil
}

// Append adds v at the end.
func Append[T Element](a *Array, v T) error {
	if err := check[T](a); err != nil {
		return err
	}
	a.serial()
	defer a.unserial()
	if unsafe.Sizeof(v) > 8 {
		return errorOf(C.go_append_p(a.h, unsafe.Pointer(&v)))
	}
	return errorOf(C.go_append(a.h, C.uint64_t(bitsOf(v))))
}

// Extend adds all of vs at the end, at once.
func Extend[T Element](a *Array, vs []T) error {
	if err := check[T](a); err != nil {
		return err
	}
	if len(vs) == 0 {
		return nil
	}
	a.serial()
	defer a.unserial()
	return errorOf(C.go_extend(a.h, unsafe.Pointer(&vs[0]), C.uint64_t(len(vs))))
}

// Get returns element i.
func Get[T Element](a *Array, i uint64) (T, error) {
	var v T
	if err := check[T](a); err != nil {
		return v, err
	}
	if unsafe.Sizeof(v) > 8 {
		return v, errorOf(C.go_get_p(a.h, C.uint64_t(i), unsafe.Pointer(&v)))
	}
	r := C.go_get(a.h, C.uint64_t(i))
	if err := errorOf(r); err != nil {
		return v, err
	}
	return valueOf[T](uint64(r.bits)), nil
}

// Set overwrites element i.
func Set[T Element](a *Array, i uint64, v T) error {
	if err := check[T](a); err != nil {
		return err
	}
	if unsafe.Sizeof(v) > 8 {
		return errorOf(C.go_set_p(a.h, C.uint64_t(i), unsafe.Pointer(&v)))
	}
	return errorOf(C.go_set(a.h, C.uint64_t(i), C.uint64_t(bitsOf(v))))
}

// Pop removes and returns the last element of a one-dimensional array. An array with rows is
// refused (ErrInvalidArgument): mba_pop removes a whole row; Splice removes one and returns it.
func Pop[T Element](a *Array) (T, error) {
	var v T
	if err := check[T](a); err != nil {
		return v, err
	}
	if a.rows != 1 { // mba_pop would copy the whole row into v's few bytes
		return v, &Error{Status: ErrInvalidArgument,
			Message: fmt.Sprintf("mba: the array has rows of %d elements; remove the last with Splice", a.rows)}
	}
	a.serial()
	defer a.unserial()
	if unsafe.Sizeof(v) > 8 {
		return v, errorOf(C.go_pop_p(a.h, unsafe.Pointer(&v)))
	}
	r := C.go_pop(a.h)
	if err := errorOf(r); err != nil {
		return v, err
	}
	return valueOf[T](uint64(r.bits)), nil
}

// View returns the elements published now as a slice over the shared memory itself: no copy.
// Its length is mba_len(), which the library never lets exceed what is mapped and backed, so a
// peer that writes a huge length into the header cannot make the slice reach unmapped memory.
// The slice stays valid, and at the same address, until Close; later appends need a new View.
// Writes through it go to the shared array (unless it is read-only, where they fault).
func View[T Element](a *Array) ([]T, error) {
	if err := check[T](a); err != nil {
		return nil, err
	}
	n := a.Len()
	if n == 0 {
		return []T{}, nil
	}
	return unsafe.Slice((*T)(C.mba_data(a.h)), n), nil
}
