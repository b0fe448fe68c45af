package mba

/*
#include <string.h>
#include <stdlib.h>
#include "mba.h"

// As go_res in mba.go: the status with a copy of the message taken in the same C call.
typedef struct { mba_status status; char *msg; } go_lres;
static go_lres lres(mba_status s) { go_lres r = {s, NULL}; if (s != MBA_OK) r.msg = strdup(mba_last_error()); return r; }
static go_lres go_list_open(const char *dir, mba_list **out) { return lres(mba_list_open(dir, 0, out)); }
static go_lres go_list_get(const mba_list *l, uint64_t i, mba_list_entry *e) { return lres(mba_list_get(l, i, e, sizeof *e)); }
static go_lres go_mlock(const mba_array *a) { return lres(mba_mlock(a)); }
static go_lres go_munlock(const mba_array *a) { return lres(mba_munlock(a)); }
static go_lres go_madvise(const mba_array *a, uint32_t adv) { return lres(mba_madvise(a, adv)); }
*/
import "C"

import (
	"time"
	"unsafe"
)

// Advice for Madvise, as MBA_ADVICE_* in mba.h.
const (
	AdviceNormal     uint32 = C.MBA_ADVICE_NORMAL
	AdviceSequential uint32 = C.MBA_ADVICE_SEQUENTIAL
	AdviceRandom     uint32 = C.MBA_ADVICE_RANDOM
	AdviceWillNeed   uint32 = C.MBA_ADVICE_WILLNEED
	AdviceDontNeed   uint32 = C.MBA_ADVICE_DONTNEED
	AdviceHugePage   uint32 = C.MBA_ADVICE_HUGEPAGE
)

// Entry.CreatorAlive values, as MBA_CREATOR_* in mba.h.
const (
	CreatorAlive   = int(C.MBA_CREATOR_ALIVE)
	CreatorDead    = int(C.MBA_CREATOR_DEAD)
	CreatorUnknown = int(C.MBA_CREATOR_UNKNOWN)
)

func lerrorOf(r C.go_lres) error {
	if r.status == C.MBA_OK {
		return nil
	}
	defer C.free(unsafe.Pointer(r.msg))
	return &Error{Status: int32(r.status), Message: C.GoString(r.msg)}
}

// Entry is one array found by List.
type Entry struct {
	URI, Path, Owner string
	// Problem is empty for a valid array, else why its header does not hold up (Status is ErrCorrupt).
	Problem string
	Status  int32
	// Dtype is the element type code (0 if the header holds an unknown one); Itemsize its bytes.
	Dtype, Itemsize, Ndim uint32
	// Shape is {rows, extents of the other axes...}; nil for a corrupt array.
	Shape                                   []uint64
	Len, Capacity, MaxCapacity, Size, Bytes uint64
	UID, Mode, Typecode, Writers            uint32
	Created                                 time.Time
	CreatedNs, CreatorPid, CreatorStart     uint64
	Dev, Ino                                uint64
	// CreatorAlive is CreatorAlive, CreatorDead or CreatorUnknown.
	CreatorAlive int
}

// OK tells whether the array's header holds up.
func (e *Entry) OK() bool { return e.Status == 0 }

// List returns the arrays in /dev/shm (dir "") or in the directory dir, sorted by name. Files that
// are not mba arrays are skipped; corrupt arrays are listed with OK() false.
func List(dir string) ([]Entry, error) {
	var cdir *C.char
	if dir != "" {
		var err error
		if cdir, err = cString("directory", dir); err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(cdir))
	}
	var l *C.mba_list
	if err := lerrorOf(C.go_list_open(cdir, &l)); err != nil {
		return nil, err
	}
	defer C.mba_list_free(l)
	n := uint64(C.mba_list_count(l))
	out := make([]Entry, 0, n)
	for i := uint64(0); i < n; i++ {
		var e C.mba_list_entry
		if err := lerrorOf(C.go_list_get(l, C.uint64_t(i), &e)); err != nil {
			return nil, err
		}
		x := Entry{
			URI: C.GoString(e.uri), Path: C.GoString(e.path), Owner: C.GoString(e.owner), Problem: C.GoString(e.problem),
			Status: int32(e.status), Dtype: uint32(e.dtype), Itemsize: uint32(e.itemsize), Ndim: uint32(e.ndim),
			Len: uint64(e.len), Capacity: uint64(e.capacity), MaxCapacity: uint64(e.max_capacity),
			Size: uint64(e.size), Bytes: uint64(e.bytes), UID: uint32(e.uid), Mode: uint32(e.mode),
			Typecode: uint32(e.typecode), Writers: uint32(e.writers), CreatedNs: uint64(e.created_ns),
			Created:    time.Unix(0, int64(e.created_ns)),
			CreatorPid: uint64(e.creator_pid), CreatorStart: uint64(e.creator_start),
			Dev: uint64(e.dev), Ino: uint64(e.ino), CreatorAlive: int(e.creator_alive),
		}
		if x.OK() && x.Ndim >= 1 && x.Ndim <= 8 {
			x.Shape = make([]uint64, x.Ndim)
			for k := range x.Shape {
				x.Shape[k] = uint64(e.shape[k])
			}
		}
		out = append(out, x)
	}
	return out, nil
}

// Mlock locks the pages of the elements published now into RAM (mlock(2)). Under a too small
// RLIMIT_MEMLOCK it fails with ErrPermission and a message naming the limit and its value.
func (a *Array) Mlock() error { return lerrorOf(C.go_mlock(a.h)) }

// Munlock unlocks every page this handle locked.
func (a *Array) Munlock() error { return lerrorOf(C.go_munlock(a.h)) }

// Madvise tells the system how the data, present and to come, will be accessed (Advice*).
func (a *Array) Madvise(advice uint32) error { return lerrorOf(C.go_madvise(a.h, C.uint32_t(advice))) }
