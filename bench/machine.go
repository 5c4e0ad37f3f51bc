package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// machine describes where the figures were measured.
type machine struct {
	CPUs     int    `json:"nproc"`
	CPU      string `json:"cpu_model"`
	Kernel   string `json:"kernel"`
	MemoryMB uint64 `json:"memory_mb"`
	Go       string `json:"go"`
	// Load is the 1-minute load average when the run started and ended:
	// other work on the machine inflates every figure.
	LoadStart float64 `json:"load_start"`
	LoadEnd   float64 `json:"load_end"`
}

// loadAvg returns the 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadAvg()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if mi, err := readKV("/proc/meminfo", ":"); err == nil {
		m.MemoryMB = parseKB(mi["MemTotal"]) >> 20
	}
	return m
}

func (m machine) String() string {
	return fmt.Sprintf("%s, %d CPUs, %d MB RAM, Linux %s, %s; load average %.1f at start, %.1f at end",
		m.CPU, m.CPUs, m.MemoryMB, m.Kernel, m.Go, m.LoadStart, m.LoadEnd)
}
