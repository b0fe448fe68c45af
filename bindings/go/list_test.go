package mba

import (
	"os"
	"path/filepath"
	"testing"
)

func TestListSkipsForeignFilesAndReportsCorruptArrays(t *testing.T) {
	dir := t.TempDir()
	a, err := Create[float32]("file://"+filepath.Join(dir, "good"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := Extend(a, []float32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	b, err := Create[uint8]("file://"+filepath.Join(dir, "bad"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	f, err := os.OpenFile(filepath.Join(dir, "bad"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{99, 0, 0, 0}, 20); err != nil { // dtype code 99
		t.Fatal(err)
	}
	f.Close()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an array"), 0o644); err != nil {
		t.Fatal(err)
	}

	l, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 2 {
		t.Fatalf("want 2 entries, got %+v", l)
	}
	bad, good := l[0], l[1]
	if bad.OK() || bad.Status != ErrCorrupt || bad.Problem == "" || bad.Shape != nil {
		t.Errorf("corrupt entry: %+v", bad)
	}
	if !good.OK() || good.URI != "file://"+filepath.Join(dir, "good") || good.Len != 3 || good.Dtype != 9 {
		t.Errorf("good entry: %+v", good)
	}
	if len(good.Shape) != 1 || good.Shape[0] != 3 || good.CreatorAlive != CreatorAlive || good.CreatorPid != uint64(os.Getpid()) {
		t.Errorf("good entry: %+v", good)
	}
	if good.Owner == "" || good.Mode != 0o600 || good.Bytes == 0 || good.Created.IsZero() {
		t.Errorf("good entry: %+v", good)
	}
	if _, err := List(filepath.Join(dir, "missing")); status(err) != ErrNotFound {
		t.Errorf("missing directory: %v", err)
	}
	if _, err := List("bad\x00dir"); status(err) != ErrInvalidArgument {
		t.Errorf("NUL in directory: %v", err)
	}
}

func TestMlockMunlockMadvise(t *testing.T) {
	a, err := Create[uint64](name(t), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := Extend(a, make([]uint64, 100000)); err != nil {
		t.Fatal(err)
	}
	if err := a.Mlock(); err != nil {
		t.Fatal(err)
	}
	if err := a.Munlock(); err != nil {
		t.Fatal(err)
	}
	for _, adv := range []uint32{AdviceNormal, AdviceSequential, AdviceRandom, AdviceWillNeed, AdviceDontNeed} {
		if err := a.Madvise(adv); err != nil {
			t.Errorf("advice %d: %v", adv, err)
		}
	}
	if err := a.Madvise(42); status(err) != ErrInvalidArgument {
		t.Errorf("unknown advice: %v", err)
	}
}
