package mba

import (
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAppenderPublishesPerBlockOnFlushAndClose(t *testing.T) {
	for _, flags := range []uint32{0, Exclusive} {
		uri := name(t)
		a, err := Create[uint64](uri, 4, flags)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Attach(uri, ReadOnly)
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewAppender[uint64](a, 100)
		if err != nil || p.Batch() != 100 {
			t.Fatal(err)
		}
		for i := uint64(0); i < 250; i++ {
			if err := p.Append(i); err != nil {
				t.Fatal(err)
			}
		}
		if r.Len() != 200 || p.Pending() != 50 {
			t.Fatalf("two blocks are published as they fill: len %d pending %d", r.Len(), p.Pending())
		}
		if err := p.Flush(); err != nil || r.Len() != 250 {
			t.Fatalf("flush: %v, len %d", err, r.Len())
		}
		more := make([]uint64, 750)
		for i := range more {
			more[i] = uint64(250 + i)
		}
		if err := p.AppendSlice(more); err != nil {
			t.Fatal(err)
		}
		if err := p.Append(1000); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		v, _ := View[uint64](r)
		if len(v) != 1001 {
			t.Fatalf("len %d", len(v))
		}
		for i, x := range v {
			if x != uint64(i) {
				t.Fatalf("element %d = %d", i, x)
			}
		}
		if err := Append(a, uint64(1001)); err != nil {
			t.Fatal("a plain append after the appender closed:", err)
		}
		if q, _ := NewAppender[uint64](a, 0); q.Batch() != DefaultBatch || DefaultBatch != 4096 {
			t.Fatal("default batch")
		}
		if _, err := NewAppender[uint32](a, 0); status(err) != ErrInvalidArgument {
			t.Fatal("wrong element type:", err)
		}
		r.Close()
		a.Close()
		_ = Delete(uri)
	}
}

func TestClaimCommitAndAbort(t *testing.T) {
	uri := name(t)
	a, err := Create[uint32](uri, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	room, err := Claim[uint32](a, 10)
	if err != nil || len(room) != 10 {
		t.Fatal(err)
	}
	for i := range room {
		room[i] = uint32(i)
	}
	if a.Len() != 0 {
		t.Fatal("a claim is published before its commit")
	}
	if err := Append(a, uint32(9)); status(err) != ErrBusy {
		t.Fatal("append during a claim:", err)
	}
	if err := a.Commit(11); status(err) != ErrInvalidArgument {
		t.Fatal("commit past the claim:", err)
	}
	if err := a.Commit(7); err != nil || a.Len() != 7 {
		t.Fatal(err, a.Len())
	}
	if err := a.Abort(); status(err) != ErrInvalidArgument {
		t.Fatal("abort without a claim:", err)
	}
	if _, err := Claim[uint32](a, 5); err != nil {
		t.Fatal(err)
	}
	if err := a.Abort(); err != nil || a.Len() != 7 {
		t.Fatal(err)
	}
	if _, err := Claim[float64](a, 5); status(err) != ErrInvalidArgument {
		t.Fatal("wrong element type:", err)
	}
}

func TestGoroutinesWithAppendersOnOneArrayLoseNothing(t *testing.T) {
	uri := name(t)
	a, err := Create[uint64](uri, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var wg sync.WaitGroup
	for g := uint64(0); g < 4; g++ {
		wg.Add(1)
		go func(g uint64) {
			defer wg.Done()
			b, err := Attach(uri, 0) // one Array per goroutine: an Appender is for one goroutine
			if err != nil {
				t.Error(err)
				return
			}
			defer b.Close()
			p, _ := NewAppender[uint64](b, 64)
			for i := uint64(0); i < 20000; i++ {
				if err := p.Append(g<<32 | i); err != nil {
					t.Error(err)
					return
				}
				if i%1000 == 999 {
					if err := p.Flush(); err != nil {
						t.Error(err)
						return
					}
				}
			}
			if err := p.Close(); err != nil {
				t.Error(err)
			}
		}(g)
	}
	wg.Wait()
	v, _ := View[uint64](a)
	if len(v) != 80000 {
		t.Fatalf("len %d", len(v))
	}
	var next [4]uint64
	for i, x := range v {
		g, k := x>>32, x&0xFFFFFFFF
		if g >= 4 || k != next[g] {
			t.Fatalf("element %d = %x: lost or out of order", i, x)
		}
		next[g]++
	}
}

func TestWaitLenSleepsUntilAnAppendOrItsTimeout(t *testing.T) {
	uri := name(t)
	a, err := Create[uint32](uri, 4, Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r, err := Attach(uri, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n, err := r.WaitLen(1, 0); err != nil || n != 0 {
		t.Fatal("timeout 0:", n, err)
	}
	if n, err := r.WaitLen(1, 20*time.Millisecond); err != nil || n != 0 {
		t.Fatal("timed out:", n, err)
	}
	done := make(chan uint64)
	go func() {
		n, err := r.WaitLen(1000, -1)
		if err != nil {
			t.Error(err)
		}
		done <- n
	}()
	p, _ := NewAppender[uint32](a, 128)
	for i := uint32(0); i < 1000; i++ {
		_ = p.Append(i)
	}
	_ = p.Flush()
	if n := <-done; n < 1000 {
		t.Fatal("woken at", n)
	}
}

// A Go reader sleeping in WaitLen is woken by a C program's appends in another process.
func TestWaitLenIsWokenByAnotherProcess(t *testing.T) {
	root, _ := filepath.Abs("../..")
	// The library under test, as the binding itself finds it (pkg-config; see mba_test.go).
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "mba").Output()
	if err != nil {
		t.Fatalf("pkg-config --cflags --libs mba: %v (set PKG_CONFIG_PATH=$REPO/target/release/pkgconfig after make)", err)
	}
	worker := filepath.Join(t.TempDir(), "worker")
	args := append([]string{"-std=c11", "-D_DEFAULT_SOURCE", "-I" + filepath.Join(root, "include"),
		filepath.Join(root, "tests/c/worker.c"), "-o", worker}, strings.Fields(string(flags))...)
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
	cmd := exec.Command(worker, "extend", uri, "3", "20000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n, err := a.WaitLen(20000, time.Minute)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if err != nil || n != 20000 {
		t.Fatal(n, err)
	}
}
