package mba

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func name(t *testing.T) string {
	uri := fmt.Sprintf("shm://mba-gotest-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	t.Cleanup(func() { _ = Delete(uri) })
	return uri
}

func status(err error) int32 {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

func TestAppendGetViewAcrossHandles(t *testing.T) {
	uri := name(t)
	a, err := Create[uint32](uri, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r, err := Attach(uri, ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := Append(a, uint32(0)); err != nil {
		t.Fatal(err)
	}
	first, _ := View[uint32](r) // taken at length 1, before any growth
	for i := uint32(1); i < 100000; i++ {
		if err := Append(a, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := Extend(a, []uint32{7, 8, 9}); err != nil {
		t.Fatal(err)
	}
	v, err := View[uint32](r)
	if err != nil || len(v) != 100003 || v[99999] != 99999 || v[100002] != 9 {
		t.Fatalf("view: len %d err %v", len(v), err)
	}
	if &first[0] != &v[0] {
		t.Fatal("the data moved while the array grew")
	}
	var sum uint64
	for _, x := range v {
		sum += uint64(x)
	}
	if sum != 99999*100000/2+24 {
		t.Fatalf("sum %d", sum)
	}
	if x, err := Get[uint32](r, 5); err != nil || x != 5 {
		t.Fatalf("get %d %v", x, err)
	}
	if err := Set(a, 0, uint32(42)); err != nil {
		t.Fatal(err)
	}
	if v[0] != 42 {
		t.Fatal("view does not see writes: it is not zero-copy")
	}
	if x, err := Pop[uint32](a); err != nil || x != 9 || a.Len() != 100002 {
		t.Fatalf("pop %d %v", x, err)
	}
}

func TestErrorsCarryStatusAndMessage(t *testing.T) {
	uri := name(t)
	_, err := Attach(uri, 0)
	if status(err) != ErrNotFound || !strings.Contains(err.Error(), uri) || !strings.Contains(err.Error(), "No such file") {
		t.Fatalf("attach missing: %v", err)
	}
	a, _ := Create[float64](uri, 0, 0)
	defer a.Close()
	if _, err := Create[float64](uri, 0, 0); status(err) != ErrExists {
		t.Fatalf("create existing: %v", err)
	}
	if err := Append(a, int32(1)); status(err) != ErrInvalidArgument ||
		!strings.Contains(err.Error(), "holds float64 elements, not int32") {
		t.Fatalf("dtype mismatch: %v", err)
	}
	if _, err := Get[float64](a, 0); status(err) != ErrOutOfBounds {
		t.Fatalf("get past end: %v", err)
	}
	ro, _ := Attach(uri, ReadOnly)
	defer ro.Close()
	if err := Append(ro, 1.5); status(err) != ErrReadOnly {
		t.Fatalf("read-only: %v", err)
	}
	l, err := Attach(uri, Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	if err := Append(a, 2.5); status(err) != ErrBusy {
		t.Fatalf("lease: %v", err)
	}
	l.Close()
	if err := Append(a, 2.5); err != nil {
		t.Fatal(err)
	}
}

// Each goroutine's error names its own array: the message is read in the failing C call.
func TestErrorMessagesStayWithTheirGoroutine(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				uri := fmt.Sprintf("shm://mba-gotest-missing-%d-%d", g, i)
				_, err := Attach(uri, 0)
				if err == nil || !strings.Contains(err.Error(), uri+":") {
					t.Errorf("goroutine %d got %v", g, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

// A Go process reads what a C program appends.
func TestReadsWhatACProgramWrote(t *testing.T) {
	root, _ := filepath.Abs("../..")
	// The library this package links, as cgo found it.
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "mba").Output()
	if err != nil {
		t.Fatalf("pkg-config --cflags --libs mba: %v (set PKG_CONFIG_PATH=$REPO/target/release/pkgconfig after make)", err)
	}
	worker := filepath.Join(t.TempDir(), "worker")
	args := append([]string{"-std=c11", "-D_DEFAULT_SOURCE", filepath.Join(root, "tests/c/worker.c"), "-o", worker},
		strings.Fields(string(flags))...)
	cc := exec.Command("cc", args...)
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	uri := name(t)
	a, err := Create[uint64](uri, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if out, err := exec.Command(worker, "append", uri, "5", "20000").CombinedOutput(); err != nil {
		t.Fatalf("worker: %v\n%s", err, out)
	}
	v, _ := View[uint64](a)
	if len(v) != 20000 {
		t.Fatalf("len %d", len(v))
	}
	for i, x := range v {
		if x != 5<<32|uint64(i) {
			t.Fatalf("element %d = %x", i, x)
		}
	}
}

func TestNulInURIIsInvalidArgument(t *testing.T) {
	for _, f := range []func() error{
		func() error { _, err := Create[uint32]("shm://abc\x00def", 0, 0); return err },
		func() error { _, err := Attach("shm://abc\x00def", 0); return err },
		func() error { return Delete("shm://abc\x00def") },
	} {
		if err := f(); status(err) != ErrInvalidArgument || !strings.Contains(err.Error(), "NUL") {
			t.Fatalf("want ErrInvalidArgument naming the NUL, got %v", err)
		}
	}
}

// A peer scribbles the header (a huge length, random bytes) through the file while this
// goroutine reads every element of View again and again: values or errors, never a fault.
func TestViewUnderAScribbledHeaderNeverFaults(t *testing.T) {
	uri := name(t)
	a, err := Create[uint64](uri, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	vals := make([]uint64, 5000)
	if err := Extend(a, vals); err != nil {
		t.Fatal(err)
	}
	r, err := Attach(uri, ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := os.OpenFile("/dev/shm/"+strings.TrimPrefix(uri, "shm://"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		x := uint64(0x9E3779B97F4A7C15)
		buf := make([]byte, 8)
		for i := 0; i < 200000; i++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			claims := []uint64{1 << 40, ^uint64(0) / 8, x % 1000000, 6000}
			v := claims[i%4]
			for b := 0; b < 8; b++ {
				buf[b] = byte(v >> (8 * b))
			}
			if _, err := f.WriteAt(buf, 64); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var sum uint64
	loops := 0
	for running := true; running; loops++ {
		select {
		case <-done:
			running = false
		default:
		}
		v, err := View[uint64](r)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range v {
			sum += x
		}
	}
	t.Logf("%d views read under scribbles (sum %d)", loops, sum&1)
}

// Goroutines appending through one Exclusive Array: the C calls of an MBA_EXCLUSIVE handle take
// no lock (mba.h, GUARANTEES §12), so the binding must serialise them, as its doc promises that
// the methods may run in many goroutines at once. Without that, appends were lost (in about
// two rounds of three; five rounds make a miss unlikely).
func TestGoroutinesAppendingThroughOneExclusiveArrayLoseNothing(t *testing.T) {
	for round := 0; round < 5 && !t.Failed(); round++ {
		exclusiveAppendRound(t, fmt.Sprintf("%s-%d", name(t), round))
	}
}

func exclusiveAppendRound(t *testing.T, uri string) {
	a, err := Create[uint64](uri, 0, Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	defer Delete(uri)
	defer a.Close()
	const goroutines, each = 4, 3000
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := uint64(0); g < goroutines; g++ {
		wg.Add(1)
		go func(g uint64) {
			defer wg.Done()
			<-start
			for i := uint64(0); i < each; i += 3 {
				if err := Append(a, g<<32|i); err != nil {
					t.Error(err)
					return
				}
				if err := Extend(a, []uint64{g<<32 | (i + 1), g<<32 | (i + 2)}); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	close(start)
	wg.Wait()
	v, _ := View[uint64](a)
	if len(v) != goroutines*each {
		t.Errorf("len %d, want %d: appends were lost", len(v), goroutines*each)
		return
	}
	var next [goroutines]uint64
	for i, x := range v {
		g, k := x>>32, x&0xFFFFFFFF
		if g >= goroutines || k != next[g] {
			t.Errorf("element %d = %x: lost or out of order", i, x)
			return
		}
		next[g]++
	}
}
