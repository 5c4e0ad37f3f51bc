//go:build race

package shm

// raceEnabled is set in a race-detector build. There, sync/atomic on
// memory outside Go's heap runs inside the detector's C runtime: a page
// truncated in the instant between the detector's first touch of the
// address and its own access faults in C code, which cannot become a
// panic. Tests that truncate the page under concurrent readers skip.
const raceEnabled = true
