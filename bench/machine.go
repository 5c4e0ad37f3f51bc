package main

import (
	"fmt"
	"runtime"

	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/host"
	"github.com/shirou/gopsutil/v3/load"
	"github.com/shirou/gopsutil/v3/mem"
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
	l, err := load.Avg()
	if err != nil {
		return 0
	}
	return l.Load1
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadAvg()}
	if k, err := host.KernelVersion(); err == nil {
		m.Kernel = k
	}
	if c, err := cpu.Info(); err == nil && len(c) > 0 {
		m.CPU = c[0].ModelName
	}
	if v, err := mem.VirtualMemory(); err == nil {
		m.MemoryMB = v.Total >> 20
	}
	return m
}
func (m machine) String() string {
	return fmt.Sprintf("%s, %d CPUs, %d MB RAM, Linux %s, %s; load average %.1f at start, %.1f at end",
		m.CPU, m.CPUs, m.MemoryMB, m.Kernel, m.Go, m.LoadStart, m.LoadEnd)
}
