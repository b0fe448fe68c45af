package mba

import (
	"fmt"
	"strings"
	"testing"
)

func TestNewDtypesRoundTrip(t *testing.T) {
	c, err := Create[complex128](name(t), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, v := range []complex128{1 + 2i, -3.5 + 0.25i} {
		if err := Append(c, v); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := Get[complex128](c, 1); v != -3.5+0.25i {
		t.Fatalf("complex128 read back %v", v)
	}
	if err := Set(c, 0, complex128(7i)); err != nil {
		t.Fatal(err)
	}
	if v, _ := Pop[complex128](c); v != -3.5+0.25i {
		t.Fatalf("pop %v", v)
	}
	if v, _ := View[complex128](c); len(v) != 1 || v[0] != 7i {
		t.Fatalf("view %v", v)
	}
	uri64 := name(t) + "-c64"
	defer Delete(uri64)
	c64, err := Create[complex64](uri64, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c64.Close()
	_ = Append(c64, complex64(1.5-2i))
	if v, _ := Get[complex64](c64, 0); v != 1.5-2i {
		t.Fatalf("complex64 %v", v)
	}
	uriB := name(t) + "-bool"
	defer Delete(uriB)
	b, err := Create[Bool](uriB, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_ = Append(b, Bool(1))
	if v, _ := Get[Bool](b, 0); !v.IsTrue() || b.Dtype() != 11 {
		t.Fatalf("bool %v dtype %d", v, b.Dtype())
	}
	uriH := name(t) + "-f16"
	defer Delete(uriH)
	h, err := Create[Float16](uriH, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	_ = Append(h, Float16(0x3c00)) // 1.0
	if v, _ := Get[Float16](h, 0); v != 0x3c00 {
		t.Fatalf("float16 bits %#x", v)
	}
}

func TestShapesRowsSpliceAndLimits(t *testing.T) {
	uri := name(t)
	a, err := CreateWith[float32](uri, Options{RowShape: []uint64{2, 3}, MaxCapacity: 60, TimeoutMs: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.RowSize() != 6 || a.MaxCapacity() != 60 {
		t.Fatalf("row size %d, max %d", a.RowSize(), a.MaxCapacity())
	}
	row := []float32{1, 2, 3, 4, 5, 6}
	if err := Extend(a, row); err != nil {
		t.Fatal(err)
	}
	if err := Extend(a, row[:4]); status(err) != ErrInvalidArgument {
		t.Fatalf("a partial row must be refused, got %v", err)
	}
	if s := a.Shape(); len(s) != 3 || s[0] != 1 || s[1] != 2 || s[2] != 3 {
		t.Fatalf("shape %v", s)
	}
	r0, err := Row[float32](a, 0)
	if err != nil || r0[5] != 6 {
		t.Fatalf("row 0 %v %v", r0, err)
	}
	removed, err := Splice(a, 0, 6, []float32{9, 9, 9, 9, 9, 9, 8, 8, 8, 8, 8, 8})
	if err != nil || len(removed) != 6 || removed[0] != 1 || a.Len() != 12 {
		t.Fatalf("splice removed %v, len %d, %v", removed, a.Len(), err)
	}
	big := make([]float32, 60)
	if err := Extend(a, big); status(err) != ErrNoSpace || !strings.Contains(err.Error(), "maximum capacity") {
		t.Fatalf("growth past the maximum: %v", err)
	}
	b, err := AttachWith(uri, Options{Flags: ReadOnly | SameOwner})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if s := b.Shape(); s[0] != 2 {
		t.Fatalf("shape seen by another handle %v", s)
	}
	if _, err := AttachWith(uri, Options{MaxCapacity: 5}); status(err) != ErrInvalidArgument {
		t.Fatalf("create fields on attach: %v", err)
	}
}

// mba_pop copies a whole row to its output; Pop has room for one element (an 8-byte C local,
// or the Go variable of a complex128), so on an array with rows it wrote past it. Rows of two
// uint16 (4 bytes) still fit the 8-byte local, so the test shows the missing refusal without
// the overflow: Pop used to succeed here, removing a whole row and returning one element.
func TestPopRefusesAnArrayWithRows(t *testing.T) {
	a, err := CreateWith[uint16](name(t), Options{RowShape: []uint64{2}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := Extend(a, []uint16{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if v, err := Pop[uint16](a); status(err) != ErrInvalidArgument || a.Len() != 4 {
		t.Fatalf("pop of a row into one element: %v %v, len %d", v, err, a.Len())
	}
	removed, err := Splice[uint16](a, 2, 2, nil) // how to pop a row
	if err != nil || len(removed) != 2 || removed[1] != 4 || a.Len() != 2 {
		t.Fatalf("%v %v", removed, err)
	}
	c, err := CreateWith[complex128](name(t)+"-c", Options{RowShape: []uint64{4}})
	if err != nil {
		t.Fatal(err)
	}
	defer Delete(name(t) + "-c")
	defer c.Close()
	if err := Extend(c, make([]complex128, 4)); err != nil {
		t.Fatal(err)
	}
	if _, err := Pop[complex128](c); status(err) != ErrInvalidArgument || c.Len() != 4 {
		t.Fatalf("pop of a row of complex128: %v", err)
	}
}

// mba_splice wants no buffer inside the array (it moves the tail before it copies the new
// elements in), but a View of the same array is a natural thing to splice in: Splice copies
// such elements first. It used to leave [2 2 2 3] here.
func TestSpliceOfElementsFromTheArrayItself(t *testing.T) {
	a, err := Create[int32](name(t), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := Extend(a, []int32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	v, _ := View[int32](a)
	removed, err := Splice(a, 0, 1, v[1:3])
	if err != nil || len(removed) != 1 || removed[0] != 1 {
		t.Fatalf("%v %v", removed, err)
	}
	if v, _ = View[int32](a); fmt.Sprint(v) != "[2 3 2 3]" {
		t.Fatalf("splice of [2 3] over [1]: got %v", v)
	}
}
