// The Go side of the comparison: mba.Append per element and a sum over the zero-copy View,
// against a sum over a plain Go slice. Prints JSON lines like native.cpp. Usage: mbabench N RUNS
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	"mba"
)

var n, runs = 10000000, 5

func measure(f func() time.Duration) [3]float64 {
	f()
	var t []float64
	for i := 0; i < runs; i++ {
		t = append(t, f().Seconds())
	}
	sort.Float64s(t)
	return [3]float64{t[len(t)/2], t[0], t[len(t)-1]}
}

func emit(group, impl string, s [3]float64) {
	scale := 1e9 / float64(n)
	line, _ := json.Marshal(map[string]interface{}{"group": group, "impl": impl, "median": s[0] * scale,
		"min": s[1] * scale, "max": s[2] * scale, "unit": "ns/elem"})
	fmt.Println(string(line))
}

//go:noinline
func sum(v []uint32) (s uint64) {
	for _, x := range v {
		s += uint64(x)
	}
	return s
}

func main() {
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[1])
		runs, _ = strconv.Atoi(os.Args[2])
	}
	uri := "shm://mba-compare-go"
	_ = mba.Delete(uri)
	emit("append", "mba Go Append", measure(func() time.Duration {
		a, err := mba.Create[uint32](uri, 4, mba.Exclusive)
		if err != nil {
			panic(err)
		}
		t := time.Now()
		for i := 0; i < n; i++ {
			if err := mba.Append(a, uint32(i)); err != nil {
				panic(err)
			}
		}
		d := time.Since(t)
		a.Close()
		_ = mba.Delete(uri)
		return d
	}))
	// Issue 14: the batching Appender (no cgo call per element) against appending to a Go slice.
	emit("append", "mba Go Appender (claim/commit, batches of 4096)", measure(func() time.Duration {
		a, err := mba.Create[uint32](uri, 4, mba.Exclusive)
		if err != nil {
			panic(err)
		}
		t := time.Now()
		p, _ := mba.NewAppender[uint32](a, 0)
		for i := 0; i < n; i++ {
			if err := p.Append(uint32(i)); err != nil {
				panic(err)
			}
		}
		if err := p.Close(); err != nil {
			panic(err)
		}
		d := time.Since(t)
		if a.Len() != uint64(n) {
			panic("appender lost elements")
		}
		a.Close()
		_ = mba.Delete(uri)
		return d
	}))
	emit("append", "Go slice append (growing)", measure(func() time.Duration {
		t := time.Now()
		var s []uint32
		for i := 0; i < n; i++ {
			s = append(s, uint32(i))
		}
		d := time.Since(t)
		if len(s) != n {
			panic("slice")
		}
		return d
	}))
	plain := make([]uint32, n)
	for i := range plain {
		plain[i] = uint32(i)
	}
	a, err := mba.Create[uint32](uri, uint64(n), mba.Exclusive)
	if err != nil {
		panic(err)
	}
	defer func() { a.Close(); _ = mba.Delete(uri) }()
	if err := mba.Extend(a, plain); err != nil {
		panic(err)
	}
	want := sum(plain)
	emit("read", "Go sum over the mba View", measure(func() time.Duration {
		t := time.Now()
		v, _ := mba.View[uint32](a)
		if sum(v) != want {
			panic("sum differs")
		}
		return time.Since(t)
	}))
	emit("read", "Go sum over a plain slice", measure(func() time.Duration {
		t := time.Now()
		if sum(plain) != want {
			panic("sum differs")
		}
		return time.Since(t)
	}))
}
