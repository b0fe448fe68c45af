package mba

/*
#include <string.h>
#include <stdlib.h>
#include "mba.h"

// As in mba.go: each wrapper copies the last error inside the failing C call.
typedef struct { mba_status status; char *msg; } go_wres;
static go_wres wres(mba_status s) { go_wres r = {s, NULL}; if (s != MBA_OK) r.msg = strdup(mba_last_error()); return r; }
static go_wres go_window_new(const mba_window_config *c, mba_window_manager **o) { return wres(mba_window_manager_new(c, o)); }
static go_wres go_window_open(mba_window_manager *m, const char *p, uint32_t k, uint32_t d, uint64_t off, mba_window_cursor **o) { return wres(mba_window_open(m, p, k, d, off, o)); }
static go_wres go_window_open_fd(mba_window_manager *m, int fd, uint32_t k, uint32_t d, uint64_t off, mba_window_cursor **o) { return wres(mba_window_open_fd(m, fd, k, d, off, o)); }
static go_wres go_window_read(mba_window_cursor *c, uint64_t i, uint64_t n, void *out) { return wres(mba_window_read(c, i, n, out)); }
static go_wres go_window_pin(mba_window_cursor *c, uint64_t i, uint64_t n, mba_window_view *v) { return wres(mba_window_pin(c, i, n, v)); }
static go_wres go_window_unpin(mba_window_cursor *c) { return wres(mba_window_unpin(c)); }
static go_wres go_window_refresh(mba_window_cursor *c, uint64_t *n) { return wres(mba_window_refresh(c, n)); }
static go_wres go_window_info(const mba_window_cursor *c, mba_window_cursor_info *i) { return wres(mba_window_info(c, i)); }
static go_wres go_window_clone(const mba_window_cursor *c, mba_window_cursor **o) { return wres(mba_window_cursor_clone(c, o)); }
static go_wres go_window_stats(const mba_window_manager *m, mba_window_stats *s) { return wres(mba_window_manager_stats(m, s)); }
static go_wres go_window_collect(mba_window_manager *m, uint64_t *n) { return wres(mba_window_manager_collect(m, n)); }
static go_wres go_window_close(mba_window_manager *m) { return wres(mba_window_manager_close(m)); }
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// WindowKind says what a windowed cursor reads.
type WindowKind uint32

// File kinds, as in mba.h.
const (
	KindAuto WindowKind = C.MBA_WINDOW_AUTO // decide from the first bytes
	KindRaw  WindowKind = C.MBA_WINDOW_RAW  // headerless elements from a byte offset
	KindNpy  WindowKind = C.MBA_WINDOW_NPY  // a .npy file
	KindMba  WindowKind = C.MBA_WINDOW_MBA  // an mba array
)

// WindowElement is a Go type the windowed reader can read: the mba dtypes plus bool and the
// complex types. A file's byte is not a Go bool (it may hold any value): Read of bool gives
// true for every non-zero byte, and Pin lends Bool, never bool.
type WindowElement interface {
	Element | bool | complex64 | complex128
}

func windowDtypeOf[T WindowElement]() uint32 {
	var zero T
	return dtypeOfValue(zero)
}

func werr(r C.go_wres) error {
	if r.status == C.MBA_OK {
		return nil
	}
	defer C.free(unsafe.Pointer(r.msg))
	return &Error{Status: int32(r.status), Message: C.GoString(r.msg)}
}

// WindowConfig holds a manager's budgets; zero fields take mba's defaults (4 MiB windows,
// 1 GiB mapped, 64 open files, no window limit).
type WindowConfig struct {
	WindowSize     uint64 // bytes per window, rounded up to pages
	MaxMappedBytes uint64 // the most bytes mapped at any moment
	MaxOpenFiles   uint64 // the most descriptors open at any moment
	MaxWindows     uint64 // the most windows mapped at any moment
	WholeFiles     bool   // map whole files (WindowSize 0 for real), within MaxMappedBytes
	MappedReads    bool   // reads copy from mappings even where a file could be truncated (SIGBUS then)
}

// WindowStats is a manager's use of its budgets (mba_window_stats of mba.h).
type WindowStats struct {
	MappedBytes, MappedFileBytes, Windows, PinnedWindows, OpenFiles, Files uint64
	PeakMappedBytes, PeakWindows, PeakOpenFiles                            uint64
	Maps, Unmaps, Evictions, Opens, Closes, Preads                         uint64
	WindowSize, MaxMappedBytes, MaxOpenFiles, MaxWindows                   uint64
}

// WindowManager maps windows of many files under budgets that hold at every moment, evicting
// the least recently used unpinned windows. Safe for concurrent use by many goroutines, Close
// included: it waits for the calls in progress on the manager (not on its cursors).
type WindowManager struct {
	// mu is read-held by every call that passes m to the library and held by Close, which
	// frees m: mba_window_manager_free wants no other call using the handle.
	mu sync.RWMutex
	m  *C.mba_window_manager
}

// Test hooks: handleHeld runs once a call holds the handle, closeWaits when Close finds calls
// holding it and is about to wait for them.
var handleHeld, closeWaits = func() {}, func() {}

// handle read-locks mu and returns the live handle, or an error (and no lock) once Closed.
// The caller runs m.mu.RUnlock() when its call on the handle has returned.
func (m *WindowManager) handle() (*C.mba_window_manager, error) {
	m.mu.RLock()
	h := m.m
	if h == nil {
		m.mu.RUnlock()
		return nil, &Error{Status: ErrNullPointer, Message: "mba: window manager is closed"}
	}
	handleHeld()
	return h, nil
}

// NewWindowManager makes a manager with the budgets of cfg.
func NewWindowManager(cfg WindowConfig) (*WindowManager, error) {
	var c C.mba_window_config
	C.mba_window_config_init(&c)
	if cfg.WindowSize != 0 || cfg.WholeFiles {
		c.window_size = C.uint64_t(cfg.WindowSize)
	}
	if cfg.MaxMappedBytes != 0 {
		c.max_mapped_bytes = C.uint64_t(cfg.MaxMappedBytes)
	}
	if cfg.MaxOpenFiles != 0 {
		c.max_open_files = C.uint64_t(cfg.MaxOpenFiles)
	}
	c.max_windows = C.uint64_t(cfg.MaxWindows)
	if cfg.MappedReads {
		c.flags = C.MBA_WINDOW_MAPPED_READS
	}
	var m *C.mba_window_manager
	if err := werr(C.go_window_new(&c, &m)); err != nil {
		return nil, err
	}
	return &WindowManager{m: m}, nil
}

// Open makes a cursor over the file at path: raw elements of dtype (0 = u8) from byte offset,
// or a .npy or mba file (kind KindNpy, KindMba or KindAuto; dtype 0 or the one it must hold).
func (m *WindowManager) Open(path string, kind WindowKind, dtype uint32, offset uint64) (*Cursor, error) {
	h, err := m.handle()
	if err != nil {
		return nil, err
	}
	defer m.mu.RUnlock()
	cp, err := cString("path", path)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cp))
	var c *C.mba_window_cursor
	if err := werr(C.go_window_open(h, cp, C.uint32_t(kind), C.uint32_t(dtype), C.uint64_t(offset), &c)); err != nil {
		return nil, err
	}
	return newCursor(c), nil
}

// OpenAs makes a cursor over a file of T: raw from offset, or a .npy or mba file holding T.
func OpenAs[T WindowElement](m *WindowManager, path string, kind WindowKind, offset uint64) (*Cursor, error) {
	return m.Open(path, kind, windowDtypeOf[T](), offset)
}

// OpenFd is Open for a descriptor the caller keeps open (mba reads through its own duplicates).
func (m *WindowManager) OpenFd(fd int, kind WindowKind, dtype uint32, offset uint64) (*Cursor, error) {
	h, err := m.handle()
	if err != nil {
		return nil, err
	}
	defer m.mu.RUnlock()
	var c *C.mba_window_cursor
	if err := werr(C.go_window_open_fd(h, C.int(fd), C.uint32_t(kind), C.uint32_t(dtype), C.uint64_t(offset), &c)); err != nil {
		return nil, err
	}
	return newCursor(c), nil
}

// Stats reports the manager's use of its budgets.
func (m *WindowManager) Stats() (WindowStats, error) {
	h, err := m.handle()
	if err != nil {
		return WindowStats{}, err
	}
	defer m.mu.RUnlock()
	var s C.mba_window_stats
	if err := werr(C.go_window_stats(h, &s)); err != nil {
		return WindowStats{}, err
	}
	return WindowStats{
		uint64(s.mapped_bytes), uint64(s.mapped_file_bytes), uint64(s.windows), uint64(s.pinned_windows),
		uint64(s.open_files), uint64(s.files), uint64(s.peak_mapped_bytes), uint64(s.peak_windows),
		uint64(s.peak_open_files), uint64(s.maps), uint64(s.unmaps), uint64(s.evictions), uint64(s.opens),
		uint64(s.closes), uint64(s.preads), uint64(s.window_size), uint64(s.max_mapped_bytes),
		uint64(s.max_open_files), uint64(s.max_windows),
	}, nil
}

// Collect unmaps every unpinned window and closes idle descriptors; returns windows unmapped.
func (m *WindowManager) Collect() (uint64, error) {
	h, err := m.handle()
	if err != nil {
		return 0, err
	}
	defer m.mu.RUnlock()
	var n C.uint64_t
	err = werr(C.go_window_collect(h, &n))
	return uint64(n), err
}

// Close releases everything now and frees the manager, once the calls in progress on it in other
// goroutines have returned; its cursors then fail every call but Close, and the manager's calls
// return an error. An *Error with ErrBusy says cursors still pinned windows (freed as those
// cursors close). Closing twice is harmless.
func (m *WindowManager) Close() error {
	if !m.mu.TryLock() {
		closeWaits()
		m.mu.Lock()
	}
	defer m.mu.Unlock()
	if m.m == nil {
		return nil
	}
	err := werr(C.go_window_close(m.m))
	C.mba_window_manager_free(m.m)
	m.m = nil
	return err
}

// Cursor reads one file through a WindowManager. One goroutine at a time per cursor.
type Cursor struct {
	c     *C.mba_window_cursor
	dtype uint32
}

func newCursor(c *C.mba_window_cursor) *Cursor {
	var info C.mba_window_cursor_info
	C.mba_window_info(c, &info)
	return &Cursor{c: c, dtype: uint32(info.dtype)}
}

// Close frees the cursor and lets go of its window. Closing twice is harmless.
func (c *Cursor) Close() error {
	if c.c != nil {
		C.mba_window_cursor_free(c.c)
		c.c = nil
	}
	return nil
}

// Clone makes a second cursor on the same file (for another goroutine).
func (c *Cursor) Clone() (*Cursor, error) {
	var o *C.mba_window_cursor
	if err := werr(C.go_window_clone(c.c, &o)); err != nil {
		return nil, err
	}
	return &Cursor{c: o, dtype: c.dtype}, nil
}

// Len is the number of elements visible at the last refresh (reads past it refresh themselves).
func (c *Cursor) Len() uint64 { return uint64(C.mba_window_len(c.c)) }

// Dtype is the element type code.
func (c *Cursor) Dtype() uint32 { return c.dtype }

// Refresh re-reads the file's size (and header) so growth is seen; returns the new Len.
func (c *Cursor) Refresh() (uint64, error) {
	var n C.uint64_t
	err := werr(C.go_window_refresh(c.c, &n))
	return uint64(n), err
}

// Shape is the array's shape as last seen (rows first).
func (c *Cursor) Shape() ([]uint64, error) {
	var info C.mba_window_cursor_info
	if err := werr(C.go_window_info(c.c, &info)); err != nil {
		return nil, err
	}
	n := int(info.ndim)
	if n == 0 {
		n = 1
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(info.shape[i])
	}
	return out, nil
}

// Unpin lets go of the window the cursor's last Pin lent out.
func (c *Cursor) Unpin() error { return werr(C.go_window_unpin(c.c)) }

func checkWindow[T WindowElement](c *Cursor) error {
	if c.c == nil {
		return &Error{Status: ErrNullPointer, Message: "mba: cursor is closed"}
	}
	if d := windowDtypeOf[T](); d != c.dtype {
		var zero T
		return &Error{Status: ErrInvalidArgument, Message: fmt.Sprintf("mba: the file holds %s elements, not %T", DtypeName(c.dtype), zero)}
	}
	return nil
}

// Read copies elements [index, index+len(out)) into out, across windows, in this machine's
// byte order. It never raises SIGBUS unless the manager has MappedReads: a file truncated or
// deleted under the cursor gives an *Error. After an error, out may have been partly written.
func Read[T WindowElement](c *Cursor, index uint64, out []T) error {
	if err := checkWindow[T](c); err != nil {
		return err
	}
	if len(out) == 0 {
		return nil
	}
	err := werr(C.go_window_read(c.c, C.uint64_t(index), C.uint64_t(len(out)), unsafe.Pointer(&out[0])))
	if _, ok := any(out[0]).(bool); ok {
		// The bytes are the file's, any of 256 values; a Go bool must be 0 or 1. Done on
		// failure too: a file cut during the read leaves out partly written.
		b := unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), len(out))
		for i, x := range b {
			if x > 1 {
				b[i] = 1
			}
		}
	}
	return err
}

// Pin lends out the window holding element index as a slice of at most count elements (0: as
// many as the window holds), without copying. The slice is valid until the cursor's next Pin,
// Unpin or Close (Read leaves it in place), and holds the file's bytes (and byte order). A bool
// file is lent as Bool: T bool is refused with ErrInvalidArgument, since the bytes, which other
// processes may write at any time, need not be 0 or 1.
func Pin[T WindowElement](c *Cursor, index, count uint64) ([]T, error) {
	if err := checkWindow[T](c); err != nil {
		return nil, err
	}
	var zero T
	if _, ok := any(zero).(bool); ok {
		return nil, &Error{Status: ErrInvalidArgument, Message: "mba: a borrow of a file's bytes cannot be Go bools (any byte may be there); pin Bool"}
	}
	var v C.mba_window_view
	if err := werr(C.go_window_pin(c.c, C.uint64_t(index), C.uint64_t(count), &v)); err != nil {
		return nil, err
	}
	return unsafe.Slice((*T)(v.data), int(v.count)), nil
}
