package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// machine describes where the figures were measured.
type machine struct {
	CPUs     int    `json:"nproc"`
	CPU      string `json:"cpu_model"`
	Kernel   string `json:"kernel"`
	MemoryMB uint64 `json:"memory_mb"`
	Go       string `json:"go"`
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
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
	return fmt.Sprintf("%s, %d CPUs, %d MB RAM, Linux %s, %s", m.CPU, m.CPUs, m.MemoryMB, m.Kernel, m.Go)
}
