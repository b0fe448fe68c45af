package mba

/*
#include <stdlib.h>
#include <string.h>
#include "mba.h"

// As go_res in mba.go: the status, a copy of the message on failure (taken in the same C call),
// and the claimed room or the length.
typedef struct { mba_status status; char *msg; void *ptr; uint64_t len; } go_claim_res;
static go_claim_res claim_res(mba_status s) { go_claim_res r = {s, NULL, NULL, 0}; if (s != MBA_OK) r.msg = strdup(mba_last_error()); return r; }
static go_claim_res go_claim(mba_array *a, uint64_t n) { void *p = NULL; go_claim_res r = claim_res(mba_claim(a, n, &p)); r.ptr = p; return r; }
static go_claim_res go_commit(mba_array *a, uint64_t n) { return claim_res(mba_commit(a, n)); }
static go_claim_res go_abort(mba_array *a) { return claim_res(mba_abort(a)); }
static go_claim_res go_wait_len(const mba_array *a, uint64_t n, uint64_t ms) { uint64_t l = 0; go_claim_res r = claim_res(mba_wait_len(a, n, ms, &l)); r.len = l; return r; }
*/
import "C"

import (
	"time"
	"unsafe"
)

// DefaultBatch is how many elements an Appender claims at a time unless told otherwise:
// MBA_DEFAULT_BATCH of mba.h (4096).
const DefaultBatch = int(C.MBA_DEFAULT_BATCH)

func claimErr(r C.go_claim_res) error {
	if r.status == C.MBA_OK {
		return nil
	}
	defer C.free(unsafe.Pointer(r.msg))
	return &Error{Status: int32(r.status), Message: C.GoString(r.msg)}
}

// Claim claims room for n elements past the published length and returns it as a slice over
// the shared memory itself (mba_claim). Write into it, then Commit the first k elements or Abort.
// Readers see nothing of the room until Commit, then all k at once. Until then the array holds
// the right to append: other writers wait for it (see mba_claim in mba.h), and this Array's
// other length-changing calls fail with ErrBusy or wait. Which of the two depends on the OS
// thread a call runs on (mba.h: the claiming thread gets ErrBusy at once, others wait up to the
// timeout), and goroutines move between OS threads: so on an Array without Exclusive, a
// goroutine that calls Append between its own Claim and Commit may wait the whole timeout
// (10 s by default) before its ErrBusy. Commit or Abort first. The slice must not be used after
// Commit, Abort or Close.
func Claim[T Element](a *Array, n int) ([]T, error) {
	if err := check[T](a); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, &Error{Status: ErrInvalidArgument, Message: "mba: negative claim"}
	}
	a.serial()
	r := C.go_claim(a.h, C.uint64_t(n))
	a.unserial()
	if err := claimErr(r); err != nil {
		return nil, err
	}
	if n == 0 {
		return []T{}, nil
	}
	return unsafe.Slice((*T)(r.ptr), n), nil
}

// Commit publishes the first k elements of the open claim and ends it (mba_commit).
func (a *Array) Commit(k int) error {
	if a.h == nil {
		return &Error{Status: ErrNullPointer, Message: "mba: array is closed"}
	}
	if k < 0 {
		return &Error{Status: ErrInvalidArgument, Message: "mba: negative commit"}
	}
	a.serial()
	defer a.unserial()
	return claimErr(C.go_commit(a.h, C.uint64_t(k)))
}

// Abort ends the open claim without publishing anything (mba_abort).
func (a *Array) Abort() error {
	if a.h == nil {
		return &Error{Status: ErrNullPointer, Message: "mba: array is closed"}
	}
	a.serial()
	defer a.unserial()
	return claimErr(C.go_abort(a.h))
}

// WaitLen waits until Len() is at least n or timeout passes (rounded up to milliseconds; a
// negative timeout means no limit), sleeping in the kernel, and returns the length then: at
// least n unless the time ran out. Appenders in any process wake it; an Array attached
// read-write is woken at once, a ReadOnly one looks again after an eighth of the time it has
// waited (10 ms at most). The goroutine
// holds its OS thread while it sleeps, as in any blocking cgo call.
func (a *Array) WaitLen(n uint64, timeout time.Duration) (uint64, error) {
	if a.h == nil {
		return 0, &Error{Status: ErrNullPointer, Message: "mba: array is closed"}
	}
	ms := uint64(C.MBA_WAIT_FOREVER)
	if timeout >= 0 {
		ms = uint64((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	r := C.go_wait_len(a.h, C.uint64_t(n), C.uint64_t(ms))
	if err := claimErr(r); err != nil {
		return 0, err
	}
	return uint64(r.len), nil
}

// Appender appends to an Array through room claimed a batch of elements at a time: Append is a
// store into the claimed window of shared memory and an increment, with no cgo call; a block is
// committed (published, all at once) as soon as it is full, on Flush, and on Close. Readers never
// see an element before its block is committed.
//
// While a block is open the Array holds the right to append (see Claim): other writers wait for
// the block, so Flush when you pause. An Appender is for one goroutine at a time, and its Array
// must stay open until the Appender is closed. Only for one-dimensional arrays.
type Appender[T Element] struct {
	appendCore
}

// appendCore is the Appender without its type, so that its slow path is an ordinary call (the
// fast path in Append stays small enough for Go to inline it).
type appendCore struct {
	// The window: the next element goes at base+off (bytes); off < last means that storing it
	// leaves the block not yet full; end is the block's size in bytes; base is nil when no
	// block is open.
	base           unsafe.Pointer
	off, last, end uintptr
	size           uintptr
	a              *Array
	batch          int
}

// NewAppender returns an Appender claiming batch elements at a time (0: DefaultBatch).
func NewAppender[T Element](a *Array, batch int) (*Appender[T], error) {
	if err := check[T](a); err != nil {
		return nil, err
	}
	if batch == 0 {
		batch = DefaultBatch
	}
	if batch < 0 {
		return nil, &Error{Status: ErrInvalidArgument, Message: "mba: negative batch"}
	}
	if a.rows != 1 {
		return nil, &Error{Status: ErrInvalidArgument, Message: "mba: the array has rows; claim and commit whole rows instead"}
	}
	var zero T
	return &Appender[T]{appendCore{a: a, batch: batch, size: unsafe.Sizeof(zero)}}, nil
}

// Append adds v at the end; it is published when its block is committed.
func (p *Appender[T]) Append(v T) error {
	if p.off < p.last { // room, and the block does not fill: the common case, inlined, no call
		*(*T)(unsafe.Add(p.base, p.off)) = v
		p.off += unsafe.Sizeof(v)
		return nil
	}
	return p.slow(unsafe.Pointer(&v), 1)
}

// AppendSlice adds all of vs at the end, block by block.
func (p *Appender[T]) AppendSlice(vs []T) error {
	if len(vs) == 0 {
		return nil
	}
	return p.slow(unsafe.Pointer(&vs[0]), len(vs))
}

// slow appends the n elements at v: claims a block when none is open, copies, and commits each
// block that fills.
func (c *appendCore) slow(v unsafe.Pointer, n int) error {
	for n > 0 {
		if c.base == nil {
			if err := c.next(); err != nil {
				return err
			}
		}
		k := (c.end - c.off) / c.size
		if uintptr(n) < k {
			k = uintptr(n)
		}
		bytes := k * c.size
		copy(unsafe.Slice((*byte)(unsafe.Add(c.base, c.off)), bytes), unsafe.Slice((*byte)(v), bytes))
		c.off += bytes
		v = unsafe.Add(v, bytes)
		n -= int(k)
		if c.off == c.end {
			if err := c.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *appendCore) next() error {
	n := c.batch
	c.a.serial()
	r := C.go_claim(c.a.h, C.uint64_t(n))
	if r.status == C.MBA_ERR_NO_SPACE && n > 1 {
		// Near the maximum capacity a whole block may not fit: one element at a time.
		C.free(unsafe.Pointer(r.msg))
		n = 1
		r = C.go_claim(c.a.h, 1)
	}
	c.a.unserial()
	if err := claimErr(r); err != nil {
		return err
	}
	c.base, c.off = r.ptr, 0
	c.end = uintptr(n) * c.size
	c.last = c.end - c.size
	return nil
}

// Flush commits what was appended: readers see it, and other writers may go on.
func (c *appendCore) Flush() error {
	if c.base == nil {
		return nil
	}
	n := c.off / c.size
	c.base, c.off, c.last, c.end = nil, 0, 0, 0
	return c.a.Commit(int(n))
}

// Pending is the number of elements appended and not yet committed.
func (c *appendCore) Pending() int { return int(c.off / c.size) }

// Batch is the number of elements claimed per block.
func (c *appendCore) Batch() int { return c.batch }

// Close flushes; the Appender may be used again afterwards.
func (c *appendCore) Close() error { return c.Flush() }
