package mba

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// (The files are written little-endian: mba is tested on little-endian machines.)
func TestOpenRawReadsWhatGoWroteAndRefusesLengthChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f64.bin")
	const n = 5000
	seed := uint64(0x9E3779B97F4A7C15)
	buf := make([]byte, 8*n)
	for i := 0; i < n; i++ {
		seed ^= seed >> 12
		seed ^= seed << 25
		seed ^= seed >> 27
		binary.LittleEndian.PutUint64(buf[8*i:], uint64(seed*0x2545F4914F6CDD1D))
	}
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := OpenRaw[uint64](path, 0, 0, ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Len() != 5000 || a.Kind() != HandleRaw || a.ByteSwapped() {
		t.Fatalf("len %d kind %d", a.Len(), a.Kind())
	}
	for i := uint64(0); i < a.Len(); i++ {
		v, err := Get[uint64](a, i)
		if err != nil || v != binary.LittleEndian.Uint64(buf[8*i:]) {
			t.Fatalf("element %d: %x %v", i, v, err)
		}
	}
	if err := Append(a, uint64(1)); status(err) != ErrInvalidArgument {
		t.Fatalf("append: %v", err)
	}
	r, err := OpenRaw[uint64](path, 8*10, 8*12, ReadOnly, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if v, _ := Get[uint64](r, 0); r.Len() != 12 || v != binary.LittleEndian.Uint64(buf[80:]) {
		t.Fatalf("sub-range len %d", r.Len())
	}
	if _, err := OpenRaw[uint64](path, 0, 8*13, ReadOnly, 3); status(err) != ErrInvalidArgument {
		t.Fatalf("not whole rows: %v", err)
	}
	if x, err := OpenRaw[uint64](path, 0, 8*13, ReadOnly|RoundDown, 3); err != nil || x.Len() != 12 {
		t.Fatalf("round down: %v", err)
	} else {
		x.Close()
	}
	w, err := OpenRaw[uint64](path, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := Set(w, 7, uint64(42)); err != nil {
		t.Fatal(err)
	}
	if v, _ := Get[uint64](a, 7); v != 42 {
		t.Fatalf("write not seen: %d", v)
	}
}

func TestOpenNpyOfAHandWrittenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.npy")
	header := "{'descr': '<i4', 'fortran_order': False, 'shape': (4, 2), }"
	for (10+len(header)+1)%64 != 0 {
		header += " "
	}
	header += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(header)), byte(len(header)>>8))
	b = append(b, header...)
	for i := 0; i < 8; i++ {
		b = binary.LittleEndian.AppendUint32(b, uint32(i*i))
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := OpenNpy[int32](path, ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Len() != 8 || a.Kind() != HandleNpy {
		t.Fatalf("len %d", a.Len())
	}
	for i := uint64(0); i < 8; i++ {
		if v, _ := Get[int32](a, i); v != int32(i*i) {
			t.Fatalf("element %d: %d", i, v)
		}
	}
	if _, err := OpenNpy[float32](path, ReadOnly); status(err) != ErrInvalidArgument ||
		!strings.Contains(err.Error(), "int32") || !strings.Contains(err.Error(), "float32") {
		t.Fatalf("wrong type: want an error naming both dtypes, got %v", err)
	}
}
