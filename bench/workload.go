package main

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// workload describes the managed apps: the same tiny program for opm and
// PM2, `sleep infinity <marker>`, where the marker is a number (so that
// sleep accepts it) unique to the app and to the sandbox. Scanning /proc
// for the marker tells which apps run and how many times each.
type workload struct {
	// Sleep is the absolute path of sleep(1).
	Sleep string
	// Tag is six random digits naming the sandbox.
	Tag string
}

func newWorkload() (workload, error) {
	p, err := exec.LookPath("sleep")
	if err != nil {
		return workload{}, fmt.Errorf("find sleep(1): %w", err)
	}
	p, err = filepath.Abs(p)
	if err != nil {
		return workload{}, err
	}
	n, err := rand.Int(rand.Reader, big.NewInt(900000))
	if err != nil {
		return workload{}, err
	}
	return workload{Sleep: p, Tag: strconv.FormatInt(100000+n.Int64(), 10)}, nil
}

// name is the app name of app i.
func (w workload) name(i int) string { return fmt.Sprintf("app%05d", i) }

// marker is the argv marker of app i: "0.<tag><i, 5 digits>".
func (w workload) marker(i int) string { return fmt.Sprintf("0.%s%05d", w.Tag, i) }

// args are the arguments after the program.
func (w workload) args(i int) []string { return []string{"infinity", w.marker(i)} }

// index returns the app index named by argv, or -1 when argv is not one
// of this workload's apps.
func (w workload) index(argv []string) int {
	if len(argv) != 3 || filepath.Base(argv[0]) != "sleep" || argv[1] != "infinity" {
		return -1
	}
	rest, ok := strings.CutPrefix(argv[2], "0."+w.Tag)
	if !ok || len(rest) != 5 {
		return -1
	}
	i, err := strconv.Atoi(rest)
	if err != nil {
		return -1
	}
	return i
}
