// Package mba gives Go typed, growable arrays in shared memory, shared with zero copies by
// every process and language on one machine, over the C library libmba.
//
// Link against an installed libmba (pkg-config finds it), or point cgo at a build:
//
//	CGO_CFLAGS=-I$REPO/include CGO_LDFLAGS="-L$REPO/target/release -lmba -Wl,-rpath,$REPO/target/release"
//
// An Array must be closed with Close; slices from View point into its mapping and must not be
// used after Close. Errors are *Error values carrying the mba status and the library's message,
// which is read in the same C call that failed (a goroutine may change OS threads between calls).
package mba

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -lmba
#include <stdio.h>
#include <stdlib.h>
#include "mba.h"

// Each wrapper copies the last error into msg in the same C call, on the same OS thread.
#define WRAP(call) { mba_status s_ = (call); if (s_ != MBA_OK) snprintf(msg, n, "%s", mba_last_error()); return s_; }
static mba_status go_create(const char *u, uint32_t d, uint64_t c, uint32_t f, mba_array **o, char *msg, size_t n) WRAP(mba_create(u, d, c, f, o))
static mba_status go_attach(const char *u, uint32_t f, mba_array **o, char *msg, size_t n) WRAP(mba_attach(u, f, o))
static mba_status go_append(mba_array *a, const void *e, char *msg, size_t n) WRAP(mba_append(a, e))
static mba_status go_extend(mba_array *a, const void *e, uint64_t k, char *msg, size_t n) WRAP(mba_extend(a, e, k))
static mba_status go_get(const mba_array *a, uint64_t i, void *o, char *msg, size_t n) WRAP(mba_get(a, i, o))
static mba_status go_set(mba_array *a, uint64_t i, const void *e, char *msg, size_t n) WRAP(mba_set(a, i, e))
static mba_status go_pop(mba_array *a, void *o, char *msg, size_t n) WRAP(mba_pop(a, o))
static mba_status go_reserve(mba_array *a, uint64_t c, char *msg, size_t n) WRAP(mba_reserve(a, c))
static mba_status go_msync(mba_array *a, uint32_t f, char *msg, size_t n) WRAP(mba_msync(a, f))
static mba_status go_delete(const char *u, char *msg, size_t n) WRAP(mba_delete(u))
*/
import "C"

import (
	"fmt"
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
)

// Error is a failed mba call: the status code and the library's message.
type Error struct {
	Status  int32
	Message string
}

func (e *Error) Error() string { return e.Message }

// Element is a Go type with an mba dtype.
type Element interface {
	int8 | uint8 | int16 | uint16 | int32 | uint32 | int64 | uint64 | float32 | float64
}

func dtypeOf[T Element]() uint32 {
	var zero T
	switch any(zero).(type) {
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
	default:
		return C.MBA_F64
	}
}

// call runs f with a message buffer and turns a failed status into an *Error.
func call(f func(msg *C.char, n C.size_t) C.mba_status) error {
	var buf [512]byte
	msg := (*C.char)(unsafe.Pointer(&buf[0]))
	if s := f(msg, C.size_t(len(buf))); s != C.MBA_OK {
		return &Error{Status: int32(s), Message: C.GoString(msg)}
	}
	return nil
}

// Array is a handle on an mba array.
type Array struct {
	h     *C.mba_array
	dtype uint32
}

// Create makes a new array of T at uri ("shm://NAME", "file://PATH", or "" for anonymous).
func Create[T Element](uri string, capacity uint64, flags uint32) (*Array, error) {
	cu := C.CString(uri)
	defer C.free(unsafe.Pointer(cu))
	var h *C.mba_array
	err := call(func(m *C.char, n C.size_t) C.mba_status {
		return C.go_create(cu, C.uint32_t(dtypeOf[T]()), C.uint64_t(capacity), C.uint32_t(flags), &h, m, n)
	})
	if err != nil {
		return nil, err
	}
	return &Array{h: h, dtype: dtypeOf[T]()}, nil
}

// Attach opens the existing array at uri; flags is 0, ReadOnly or Exclusive.
func Attach(uri string, flags uint32) (*Array, error) {
	cu := C.CString(uri)
	defer C.free(unsafe.Pointer(cu))
	var h *C.mba_array
	if err := call(func(m *C.char, n C.size_t) C.mba_status { return C.go_attach(cu, C.uint32_t(flags), &h, m, n) }); err != nil {
		return nil, err
	}
	return &Array{h: h, dtype: uint32(C.mba_dtype(h))}, nil
}

// Delete removes the name uri; attached arrays keep working.
func Delete(uri string) error {
	cu := C.CString(uri)
	defer C.free(unsafe.Pointer(cu))
	return call(func(m *C.char, n C.size_t) C.mba_status { return C.go_delete(cu, m, n) })
}

// Close unmaps the array; slices from View become invalid. Closing twice is harmless.
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
	return call(func(m *C.char, n C.size_t) C.mba_status { return C.go_reserve(a.h, C.uint64_t(capacity), m, n) })
}

// Sync writes the array back to its store, waiting for it when wait is true.
func (a *Array) Sync(wait bool) error {
	flags := C.uint32_t(C.MBA_ASYNC)
	if wait {
		flags = C.MBA_SYNC
	}
	return call(func(m *C.char, n C.size_t) C.mba_status { return C.go_msync(a.h, flags, m, n) })
}

func check[T Element](a *Array) error {
	if a.h == nil {
		return &Error{Status: ErrNullPointer, Message: "mba: array is closed"}
	}
	if d := dtypeOf[T](); d != a.dtype {
		var zero T
		return &Error{Status: ErrInvalidArgument, Message: fmt.Sprintf("mba: array holds dtype %d, not %T", a.dtype, zero)}
	}
	return nil
}

// Append adds v at the end.
func Append[T Element](a *Array, v T) error {
	if err := check[T](a); err != nil {
		return err
	}
	return call(func(m *C.char, n C.size_t) C.mba_status { return C.go_append(a.h, unsafe.Pointer(&v), m, n) })
}

// Extend adds all of vs at the end, at once.
func Extend[T Element](a *Array, vs []T) error {
	if err := check[T](a); err != nil {
		return err
	}
	if len(vs) == 0 {
		return nil
	}
	return call(func(m *C.char, n C.size_t) C.mba_status {
		return C.go_extend(a.h, unsafe.Pointer(&vs[0]), C.uint64_t(len(vs)), m, n)
	})
}

// Get returns element i.
func Get[T Element](a *Array, i uint64) (T, error) {
	var v T
	if err := check[T](a); err != nil {
		return v, err
	}
	err := call(func(m *C.char, n C.size_t) C.mba_status {
		return C.go_get(a.h, C.uint64_t(i), unsafe.Pointer(&v), m, n)
	})
	return v, err
}

// Set overwrites element i.
func Set[T Element](a *Array, i uint64, v T) error {
	if err := check[T](a); err != nil {
		return err
	}
	return call(func(m *C.char, n C.size_t) C.mba_status {
		return C.go_set(a.h, C.uint64_t(i), unsafe.Pointer(&v), m, n)
	})
}

// Pop removes and returns the last element.
func Pop[T Element](a *Array) (T, error) {
	var v T
	if err := check[T](a); err != nil {
		return v, err
	}
	err := call(func(m *C.char, n C.size_t) C.mba_status { return C.go_pop(a.h, unsafe.Pointer(&v), m, n) })
	return v, err
}

// View returns the elements published now as a slice over the shared memory itself: no copy.
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
