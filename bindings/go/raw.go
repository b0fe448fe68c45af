package mba

/*
#include <string.h>
#include <stdlib.h>
#include "mba.h"

// As go_res in mba.go: the status and a copy of the last error, taken in the same C call.
typedef struct { mba_status status; char *msg; } raw_res;
static raw_res raw_res_of(mba_status s) { raw_res r = {s, NULL}; if (s != MBA_OK) r.msg = strdup(mba_last_error()); return r; }
static raw_res go_open_raw(const char *uri, uint32_t dtype, uint64_t off, uint64_t len, uint32_t flags,
                           uint32_t ndim, const uint64_t *extents, mba_array **out) {
    mba_options o;
    mba_options_init(&o);
    o.flags = flags;
    o.dtype = dtype;
    o.offset = off;
    o.length = len;
    o.ndim = ndim;
    for (uint32_t i = 1; i < ndim && i < MBA_MAX_DIMS; i++) o.shape[i] = extents[i - 1];
    return raw_res_of(mba_attach_ex(uri, &o, out));
}
static raw_res go_open_npy(const char *uri, uint32_t flags, mba_array **out) {
    return raw_res_of(mba_attach(uri, flags, out));
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// RoundDown is the flag of OpenRaw that rounds a length that is not a whole number of rows
// down to one (without it, such a length is ErrInvalidArgument).
const RoundDown uint32 = C.MBA_ROUND_DOWN

// What an Array maps (Kind).
const (
	HandleArray uint32 = C.MBA_KIND_ARRAY
	HandleRaw   uint32 = C.MBA_KIND_RAW
	HandleNpy   uint32 = C.MBA_KIND_NPY
)

func rawError(r C.raw_res) error {
	if r.status == C.MBA_OK {
		return nil
	}
	defer C.free(unsafe.Pointer(r.msg))
	return &Error{Status: int32(r.status), Message: C.GoString(r.msg)}
}

// OpenRaw maps the headerless file at path (or the byte range offset .. offset+length of it;
// length 0 means to the end of the file) as elements of T in rows of rowExtents, with a fixed
// length: Append, Extend, Pop and Reserve fail with ErrInvalidArgument. flags: ReadOnly,
// RoundDown, or 0 for read-write. Close the Array when done.
//
// A raw file has no header and no seal: another process that shrinks it (truncate) while the
// Array is open makes reads past the new end raise SIGBUS, which crashes a Go program, as with
// any mapping (mba_attach_raw_fd in mba.h, GUARANTEES §10). Open only files no one shrinks, or
// read them through a WindowManager, whose Read reports a truncation as an error.
func OpenRaw[T Element](path string, offset, length uint64, flags uint32, rowExtents ...uint64) (*Array, error) {
	if len(rowExtents)+1 > int(C.MBA_MAX_DIMS) {
		return nil, &Error{Status: ErrInvalidArgument, Message: fmt.Sprintf("mba: at most %d dimensions", int(C.MBA_MAX_DIMS))}
	}
	cu, err := cURI("raw://" + path)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cu))
	ext := make([]C.uint64_t, len(rowExtents)+1)
	for i, e := range rowExtents {
		ext[i] = C.uint64_t(e)
	}
	var h *C.mba_array
	r := C.go_open_raw(cu, C.uint32_t(dtypeOf[T]()), C.uint64_t(offset), C.uint64_t(length), C.uint32_t(flags),
		C.uint32_t(len(rowExtents)+1), &ext[0], &h)
	if err := rawError(r); err != nil {
		return nil, err
	}
	return newArray(h, dtypeOf[T](), 0), nil
}

// OpenNpy maps the .npy file at path (C order) with a fixed length; it must hold T
// (else ErrInvalidArgument). flags: ReadOnly or 0. A file in the other byte order opens only
// ReadOnly and its elements are as stored (ByteSwapped says so).
func OpenNpy[T Element](path string, flags uint32) (*Array, error) {
	cu, err := cURI("npy://" + path)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cu))
	var h *C.mba_array
	if err := rawError(C.go_open_npy(cu, C.uint32_t(flags), &h)); err != nil {
		return nil, err
	}
	if d := uint32(C.mba_dtype(h)); d != dtypeOf[T]() {
		C.mba_free(h)
		return nil, &Error{Status: ErrInvalidArgument, Message: fmt.Sprintf("mba: %s holds %s elements, not %s", path, DtypeName(d), DtypeName(dtypeOf[T]()))}
	}
	return newArray(h, dtypeOf[T](), 0), nil
}

// Kind is HandleArray, HandleRaw or HandleNpy.
func (a *Array) Kind() uint32 { return uint32(C.mba_kind(a.h)) }

// ByteSwapped is whether the elements are in the other byte order (a .npy file from a machine
// of the other endianness).
func (a *Array) ByteSwapped() bool { return C.mba_byte_order(a.h) == 1 }
