//go:build linux

package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// machine describes the computer a run measured.
type machine struct {
	CPUs      int
	Model     string
	MemoryGiB float64
	Kernel    string
	GoVersion string
	NoFile    uint64 // the file-descriptor limit the servers inherited
}

func describeMachine(nofile uint64) machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), NoFile: nofile}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
				m.MemoryGiB = kb / (1 << 20)
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	return m
}

func (m machine) String() string {
	return fmt.Sprintf("%d CPUs (%s), %.1f GiB memory, Linux %s, %s, RLIMIT_NOFILE %d",
		m.CPUs, m.Model, m.MemoryGiB, m.Kernel, m.GoVersion, m.NoFile)
}

// raiseFileLimit raises this process's RLIMIT_NOFILE to want (or as close
// as the hard limit allows), so that the servers it starts inherit it: each
// websocket costs the server one descriptor and the harness another.
// Calling Setrlimit also stops Go from restoring the original soft limit in
// the children it starts. It returns the soft limit now in force.
func raiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur >= want {
		// Set it anyway, to the same value, so children inherit it.
		return lim.Cur, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	// Raising the hard limit needs privilege; try, then settle for it.
	if lim.Max < want {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}); err == nil {
			return want, nil
		}
	}
	lim.Cur = min(want, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}
