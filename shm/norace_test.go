//go:build !race

package shm

// raceEnabled is set in a race-detector build (see race_test.go).
const raceEnabled = false
