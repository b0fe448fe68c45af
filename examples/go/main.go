// quickstart: typed, growable shared arrays from Go, zero copy.
package main

import (
	"fmt"
	"log"

	"mba"
)

func main() {
	a, err := mba.Create[uint32]("shm://sensor", 4, 0)
	if err != nil {
		log.Fatal(err)
	}
	for i := uint32(0); i < 1000; i++ {
		if err := mba.Append(a, i); err != nil {
			log.Fatal(err)
		}
	}
	v, err := mba.View[uint32](a) // a []uint32 over the shared memory
	if err != nil {
		log.Fatal(err)
	}
	var sum uint64
	for _, x := range v {
		sum += uint64(x)
	}
	fmt.Printf("len=%d last=%d sum=%d\n", len(v), v[len(v)-1], sum)
	a.Close()
	if err := mba.Delete("shm://sensor"); err != nil { // the name outlives the process until deleted
		log.Fatal(err)
	}
}
