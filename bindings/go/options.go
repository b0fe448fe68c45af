package mba

/*
#include <string.h>
#include <stdlib.h>
#include "mba.h"

// As go_res in mba.go: the status and a copy of the last error, taken in the same C call.
typedef struct { mba_status status; char *msg; } opt_res;
static opt_res opt_res_of(mba_status s) { opt_res r = {s, NULL}; if (s != MBA_OK) r.msg = strdup(mba_last_error()); return r; }
static opt_res go_create_ex(const char *uri, uint32_t dtype, uint32_t flags, uint32_t mode, uint64_t cap,
                            uint64_t max, uint32_t ndim, const uint64_t *extents, uint32_t typecode,
                            uint64_t timeout_ms, mba_array **out) {
    mba_options o;
    mba_options_init(&o);
    o.dtype = dtype; o.flags = flags; o.mode = mode; o.capacity = cap; o.max_capacity = max;
    o.ndim = ndim; o.typecode = typecode; o.timeout_ms = timeout_ms;
    for (uint32_t i = 1; i < ndim && i < MBA_MAX_DIMS; i++) o.shape[i] = extents[i - 1];
    return opt_res_of(mba_create_ex(uri, &o, out));
}
static opt_res go_attach_ex(const char *uri, uint32_t flags, uint64_t timeout_ms, mba_array **out) {
    mba_options o;
    mba_options_init(&o);
    o.flags = flags; o.timeout_ms = timeout_ms;
    return opt_res_of(mba_attach_ex(uri, &o, out));
}
static opt_res go_splice(mba_array *a, uint64_t i, uint64_t del, void *removed, const void *e, uint64_t ins) {
    return opt_res_of(mba_splice(a, i, del, NULL, removed, e, ins));
}
static opt_res go_shape(const mba_array *a, uint64_t *shape) { return opt_res_of(mba_shape(a, shape)); }
static opt_res go_set_timeout(mba_array *a, uint64_t ms) { return opt_res_of(mba_set_timeout(a, ms)); }
static opt_res go_delete_ex(const char *u, uint32_t f) { return opt_res_of(mba_delete_ex(u, f)); }
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// More flags, as in mba.h.
const (
	// Force lets Create with Overwrite, and DeleteForce, replace or remove a file that is not
	// an mba array.
	Force uint32 = C.MBA_FORCE
	// SameOwner makes an attach refuse a store owned by another user.
	SameOwner uint32 = C.MBA_SAME_OWNER
	// MaxDims is the most dimensions an array may have.
	MaxDims = int(C.MBA_MAX_DIMS)
)

// Options are everything CreateWith and AttachWith can be told; the zero value is the defaults.
type Options struct {
	Flags       uint32   // ReadOnly, Exclusive, Overwrite, Force, SameOwner, as the call allows
	Mode        uint32   // create: permission bits of a named store (0: 0600)
	Capacity    uint64   // create: elements to make room for now (0: 64 KiB worth)
	MaxCapacity uint64   // create: the most elements the array may ever hold (0: the default)
	RowShape    []uint64 // create: extents of the axes after the first (nil: one-dimensional)
	Typecode    uint32   // create: a binding's typecode hint
	TimeoutMs   uint64   // the bound of every lock wait of the handle (0: 10 s)
}

func optError(r C.opt_res) error {
	if r.status == C.MBA_OK {
		return nil
	}
	defer C.free(unsafe.Pointer(r.msg))
	return &Error{Status: int32(r.status), Message: C.GoString(r.msg)}
}

// CreateWith makes a new array of T at uri as o says: a shape (rows of RowShape, which grow as
// whole rows), a maximum capacity, a lock timeout, a mode.
func CreateWith[T Element](uri string, o Options) (*Array, error) {
	if len(o.RowShape)+1 > MaxDims {
		return nil, &Error{Status: ErrInvalidArgument, Message: fmt.Sprintf("mba: %d dimensions, at most %d", len(o.RowShape)+1, MaxDims)}
	}
	cu, err := cURI(uri)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cu))
	ext := make([]C.uint64_t, len(o.RowShape)+1)
	for i, d := range o.RowShape {
		ext[i] = C.uint64_t(d)
	}
	var h *C.mba_array
	r := C.go_create_ex(cu, C.uint32_t(dtypeOf[T]()), C.uint32_t(o.Flags), C.uint32_t(o.Mode), C.uint64_t(o.Capacity),
		C.uint64_t(o.MaxCapacity), C.uint32_t(len(o.RowShape)+1), &ext[0], C.uint32_t(o.Typecode), C.uint64_t(o.TimeoutMs), &h)
	if err := optError(r); err != nil {
		return nil, err
	}
	return newArray(h, dtypeOf[T](), o.Flags), nil
}

// AttachWith opens the existing array at uri with o's Flags (ReadOnly, Exclusive, SameOwner)
// and TimeoutMs; the create fields must be zero.
func AttachWith(uri string, o Options) (*Array, error) {
	if o.Mode != 0 || o.Capacity != 0 || o.MaxCapacity != 0 || o.RowShape != nil || o.Typecode != 0 {
		return nil, &Error{Status: ErrInvalidArgument, Message: "mba: mode, capacities, shape and typecode are create options"}
	}
	cu, err := cURI(uri)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cu))
	var h *C.mba_array
	if err := optError(C.go_attach_ex(cu, C.uint32_t(o.Flags), C.uint64_t(o.TimeoutMs), &h)); err != nil {
		return nil, err
	}
	return newArray(h, uint32(C.mba_dtype(h)), o.Flags), nil
}

// DeleteForce removes the name uri even if the file is not an mba array.
func DeleteForce(uri string) error {
	cu, err := cURI(uri)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cu))
	return optError(C.go_delete_ex(cu, C.MBA_FORCE))
}

// Shape is the shape now: the number of rows, then the extents of the other axes.
func (a *Array) Shape() []uint64 {
	var s [C.MBA_MAX_DIMS]C.uint64_t
	if optError(C.go_shape(a.h, &s[0])) != nil {
		return nil
	}
	n := int(C.mba_ndim(a.h))
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(s[i])
	}
	return out
}

// RowSize is the number of elements in a row (1 for a one-dimensional array). Appends, pops and
// splices move whole rows.
func (a *Array) RowSize() uint64 { return uint64(C.mba_row_size(a.h)) }

// MaxCapacity is the most elements the array may ever hold, the same in every process.
func (a *Array) MaxCapacity() uint64 { return uint64(C.mba_max_capacity(a.h)) }

// SetTimeout bounds every lock wait of this handle (0: the default, 10 s).
func (a *Array) SetTimeout(ms uint64) error { return optError(C.go_set_timeout(a.h, C.uint64_t(ms))) }

// Splice replaces the del elements at i with ins in one step under the append lock and returns
// the elements it removed; a failure leaves the array as it was. ins may come from the array
// itself (a View): it is copied first then.
func Splice[T Element](a *Array, i, del uint64, ins []T) ([]T, error) {
	if err := check[T](a); err != nil {
		return nil, err
	}
	if del > a.Len() {
		return nil, &Error{Status: ErrOutOfBounds, Message: fmt.Sprintf("mba: splice of %d elements past the length %d", del, a.Len())}
	}
	removed := make([]T, del)
	var rp, ip unsafe.Pointer
	if del > 0 {
		rp = unsafe.Pointer(&removed[0])
	}
	if len(ins) > 0 {
		if a.holds(unsafe.Pointer(&ins[0]), uintptr(len(ins))*unsafe.Sizeof(ins[0])) {
			// mba_splice moves the tail before it copies ins in: no buffer may be in the array.
			ins = append([]T(nil), ins...)
		}
		ip = unsafe.Pointer(&ins[0])
	}
	a.serial()
	defer a.unserial()
	if err := optError(C.go_splice(a.h, C.uint64_t(i), C.uint64_t(del), rp, ip, C.uint64_t(len(ins)))); err != nil {
		return nil, err
	}
	return removed, nil
}

// holds tells whether the n bytes at p overlap the array's mapping: its data and the room
// reserved for it to grow into (mba_max_capacity elements from mba_data).
func (a *Array) holds(p unsafe.Pointer, n uintptr) bool {
	base := uintptr(C.mba_data(a.h))
	room := uintptr(C.mba_max_capacity(a.h)) * uintptr(C.mba_itemsize(a.h))
	return base != 0 && uintptr(p) < base+room && uintptr(p)+n > base
}

// Row returns row r of a shaped array as a slice over the shared memory (no copy).
func Row[T Element](a *Array, r uint64) ([]T, error) {
	v, err := View[T](a)
	if err != nil {
		return nil, err
	}
	k := a.RowSize()
	if r >= uint64(len(v))/k {
		return nil, &Error{Status: ErrOutOfBounds, Message: fmt.Sprintf("mba: row %d of %d", r, uint64(len(v))/k)}
	}
	return v[r*k : (r+1)*k : (r+1)*k], nil
}
