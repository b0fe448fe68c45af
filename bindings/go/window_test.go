package mba

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

func randomFile(t *testing.T, path string, size int, seed int64) []byte {
	b := make([]byte, size)
	rand.New(rand.NewSource(seed)).Read(b)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

func inBudget(t *testing.T, m *WindowManager, cfg WindowConfig) {
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.MappedBytes > cfg.MaxMappedBytes || s.OpenFiles > cfg.MaxOpenFiles || (cfg.MaxWindows > 0 && s.Windows > cfg.MaxWindows) {
		t.Fatalf("over budget: %+v", s)
	}
}

// Random reads and borrows of uint32 over files four times the budget, each checked against
// the bytes written, the budgets after every call.
func TestWindowRandomReadsStayInBudget(t *testing.T) {
	page := os.Getpagesize()
	dir := t.TempDir()
	for _, mapped := range []bool{false, true} {
		cfg := WindowConfig{WindowSize: uint64(2 * page), MaxMappedBytes: uint64(32 * page), MaxOpenFiles: 2, MaxWindows: 8, MappedReads: mapped}
		m, err := NewWindowManager(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var data [][]byte
		var cursors []*Cursor
		for i := 0; i < 4; i++ {
			p := filepath.Join(dir, "f"+string(rune('0'+i)))
			data = append(data, randomFile(t, p, 32*page+i*4, int64(i)))
			c, err := OpenAs[uint32](m, p, KindRaw, 0)
			if err != nil {
				t.Fatal(err)
			}
			cursors = append(cursors, c)
		}
		rng := rand.New(rand.NewSource(1))
		out := make([]uint32, 2*page)
		for call := 0; call < 50000; call++ {
			f := rng.Intn(4)
			n := uint64(len(data[f]) / 4)
			count := 1 + uint64(rng.Intn(2*page))
			index := uint64(rng.Int63n(int64(n - count + 1)))
			want := data[f][index*4 : (index+count)*4]
			if call%4 == 0 {
				v, err := Pin[uint32](cursors[f], index, count)
				if err != nil {
					t.Fatal(err)
				}
				got := unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*4)
				if len(v) < 1 || uint64(len(v)) > count || !bytes.Equal(got, want[:len(got)]) {
					t.Fatalf("call %d: borrow of %d at %d", call, count, index)
				}
				if err := cursors[f].Unpin(); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := Read(cursors[f], index, out[:count]); err != nil {
					t.Fatal(err)
				}
				got := unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), count*4)
				if !bytes.Equal(got, want) {
					t.Fatalf("call %d: read of %d at %d", call, count, index)
				}
			}
			inBudget(t, m, cfg)
		}
		s, _ := m.Stats()
		if s.PeakMappedBytes > cfg.MaxMappedBytes || s.PeakOpenFiles > 2 || s.Evictions == 0 || s.Closes == 0 {
			t.Fatalf("%+v", s)
		}
		if err := Read(cursors[0], 0, []float32{0}); status(err) != ErrInvalidArgument ||
			!strings.Contains(err.Error(), "uint32 elements, not float32") {
			t.Fatalf("a wrong element type must be refused, naming both, got %v", err)
		}
		if err := Read(cursors[0], uint64(len(data[0])), out[:1]); status(err) != ErrOutOfBounds {
			t.Fatalf("past the end: %v", err)
		}
		for _, c := range cursors {
			c.Close()
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWindowGoroutinesShareOneManager(t *testing.T) {
	page := os.Getpagesize()
	dir := t.TempDir()
	p := filepath.Join(dir, "shared")
	data := randomFile(t, p, 64*page, 9)
	cfg := WindowConfig{WindowSize: uint64(page), MaxMappedBytes: uint64(16 * page), MaxOpenFiles: 1}
	m, err := NewWindowManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			c, err := m.Open(p, KindRaw, 0, 0)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			rng := rand.New(rand.NewSource(seed))
			buf := make([]uint8, 100)
			for i := 0; i < 5000; i++ {
				at := uint64(rng.Intn(len(data) - 100))
				if err := Read(c, at, buf); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(buf, data[at:at+100]) {
					errs <- &Error{Message: "wrong bytes"}
					return
				}
				if s, _ := m.Stats(); s.MappedBytes > cfg.MaxMappedBytes || s.OpenFiles > 1 {
					errs <- &Error{Message: "over budget"}
					return
				}
			}
		}(int64(g))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// A .npy file (written here by hand, as numpy writes it), growth, and a file deleted under a
// live cursor.
func TestWindowNpyGrowthAndDeletion(t *testing.T) {
	dir := t.TempDir()
	dict := "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"
	hdr := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	total := (10 + len(dict) + 1 + 63) / 64 * 64
	binary.LittleEndian.PutUint16(hdr[8:], uint16(total-10))
	hdr = append(hdr, dict...)
	for len(hdr) < total-1 {
		hdr = append(hdr, ' ')
	}
	hdr = append(hdr, '\n')
	vals := []float64{1, 2, 3, 4, 5, 6}
	buf := new(bytes.Buffer)
	buf.Write(hdr)
	binary.Write(buf, binary.LittleEndian, vals)
	p := filepath.Join(dir, "a.npy")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := NewWindowManager(WindowConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := OpenAs[float64](m, p, KindAuto, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if shape, _ := c.Shape(); len(shape) != 2 || shape[0] != 2 || shape[1] != 3 {
		t.Fatalf("shape %v", shape)
	}
	got := make([]float64, 6)
	if err := Read(c, 0, got); err != nil || got[5] != 6 {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := OpenAs[float32](m, p, KindNpy, 0); status(err) != ErrInvalidArgument {
		t.Fatalf("a .npy of f64 opened as f32: %v", err)
	}

	r := filepath.Join(dir, "grow")
	if err := os.WriteFile(r, []byte{1, 2, 3}, 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := m.Open(r, KindRaw, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	f, _ := os.OpenFile(r, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{4, 5})
	f.Close()
	b := make([]uint8, 2)
	if err := Read(g, 3, b); err != nil || b[0] != 4 || b[1] != 5 {
		t.Fatalf("growth not seen: %v %v", b, err)
	}
	os.Remove(r)
	if err := Read(g, 0, b); err != nil || b[0] != 1 {
		t.Fatalf("a deleted file stays readable through the open descriptor: %v %v", b, err)
	}
	g.Close()
	m.Collect()
	if s, _ := m.Stats(); s.OpenFiles != 0 || s.MappedBytes != 0 {
		t.Fatalf("%+v", s)
	}
}

// A manager closed in one goroutine while a call in another holds its handle: Close used to
// free the handle (mba_window_manager_free) under the call. The hooks stand in for the other
// goroutine at the moment Stats holds the handle: Close starts then, and Stats goes on once
// Close has returned or waits for it, so no timing decides the outcome. Run in a child process,
// where a crash fails this test instead of the whole run.
func TestWindowManagerCloseWaitsForACallOnIt(t *testing.T) {
	if os.Getenv("MBA_GO_TEST_CHILD") != t.Name() {
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "MBA_GO_TEST_CHILD="+t.Name())
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("stats: 1 windows; close: <nil>; stats after: mba: window manager is closed\n")) {
			t.Fatalf("the child process failed (%v):\n%s", err, out)
		}
		return
	}
	defer func() { handleHeld, closeWaits = func() {}, func() {} }()
	path := filepath.Join(t.TempDir(), "f")
	randomFile(t, path, 4*os.Getpagesize(), 7)
	m, err := NewWindowManager(WindowConfig{WindowSize: uint64(os.Getpagesize())})
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.Open(path, KindRaw, 0, 0) // a cursor keeps the native manager alive, as in real use
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := Pin[uint8](c, 0, 1); err != nil { // a window mapped...
		t.Fatal(err)
	}
	if err := c.Unpin(); err != nil { // ...that Close may unmap
		t.Fatal(err)
	}
	moved := make(chan struct{}, 2) // Close returned, or waits for the call
	closed := make(chan error, 1)
	closeWaits = func() { moved <- struct{}{} }
	handleHeld = func() {
		handleHeld = func() {}
		go func() {
			err := m.Close()
			moved <- struct{}{}
			closed <- err
		}()
		<-moved
	}
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	closeErr := <-closed
	_, after := m.Stats()
	fmt.Printf("stats: %d windows; close: %v; stats after: %v\n", s.Windows, closeErr, after)
}

// A file's bytes are not Go bools: a byte other than 0 and 1 read into a bool makes a value the
// language has no meaning for (b and !b both true). Read normalises them; Pin cannot (it lends
// the file's bytes, which other processes may change), so it refuses bool and lends Bool.
func TestWindowReadsOfBoolNeverMakeInvalidBools(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bools")
	if err := os.WriteFile(path, []byte{0, 1, 2, 255, 0x80, 0}, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := NewWindowManager(WindowConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := OpenAs[bool](m, path, KindRaw, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := make([]bool, 6)
	if err := Read(c, 0, out); err != nil {
		t.Fatal(err)
	}
	bytesOf := unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), len(out))
	if !bytes.Equal(bytesOf, []byte{0, 1, 1, 1, 1, 0}) {
		t.Fatalf("bools read as bytes %v", bytesOf)
	}
	if _, err := Pin[bool](c, 0, 0); status(err) != ErrInvalidArgument {
		t.Fatalf("a borrow of a file's bytes as bools: %v", err)
	}
	v, err := Pin[Bool](c, 0, 0)
	if err != nil || len(v) != 6 || v[2] != 2 || !v[3].IsTrue() {
		t.Fatalf("%v %v", v, err)
	}
}

// A NUL byte inside a path is refused, as in URIs (C would open the shorter name before it).
func TestWindowOpenRefusesANulInThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	randomFile(t, path, 64, 3)
	m, err := NewWindowManager(WindowConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := m.Open(path+"\x00.ignored", KindRaw, 0, 0)
	if status(err) != ErrInvalidArgument || !strings.Contains(err.Error(), "NUL") {
		if c != nil {
			c.Close()
		}
		t.Fatalf("want ErrInvalidArgument naming the NUL, got %v", err)
	}
}
