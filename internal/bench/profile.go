//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// runtimeStats are a few of the Go runtime's gauges from a server's /metrics.
type runtimeStats struct {
	goroutines float64
	heapInuse  float64 // bytes
	stackInuse float64 // bytes
	// dbWaits and dbWaitSeconds count the waits for a free connection of
	// the database pool, and their total time, since the server started.
	dbWaits, dbWaitSeconds float64
	// mallocs counts the heap objects allocated since the server started.
	mallocs float64
}

// readRuntime scrapes the runtime gauges of the server at addr.
func readRuntime(ctx context.Context, addr string) (runtimeStats, error) {
	var rs runtimeStats
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rs, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || strings.HasPrefix(line, "#") {
			continue
		}
		name, value := line[:i], line[i+1:]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		var dst *float64
		switch name {
		case "go_goroutines":
			dst = &rs.goroutines
		case "go_memstats_heap_inuse_bytes":
			dst = &rs.heapInuse
		case "go_memstats_stack_inuse_bytes":
			dst = &rs.stackInuse
		case "go_sql_wait_count_total":
			dst = &rs.dbWaits
		case "go_sql_wait_duration_seconds_total":
			dst = &rs.dbWaitSeconds
		case "go_memstats_mallocs_total":
			dst = &rs.mallocs
		default:
			continue
		}
		*dst, _ = strconv.ParseFloat(strings.TrimSpace(value), 64)
	}
	return rs, sc.Err()
}

// captureProfile saves a profile of server c (STORYBOT_PPROF_ADDR must be
// set) into the profile directory as <name>.<kind>.pprof, or .txt for the
// goroutine listing: kind is "cpu" (over d), "heap" or "goroutine".
// Profiling is a diagnosis, not a measurement, so a failure is only
// reported.
func (b *bench) captureProfile(ctx context.Context, c *child, name, kind string, d time.Duration) {
	if b.cfg.pprofDir == "" || c.pprof == "" {
		return
	}
	var url, file string
	switch kind {
	case "cpu":
		url = fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.pprof, max(int(d.Round(time.Second)/time.Second), 1))
		file = name + ".cpu.pprof"
	case "heap":
		url = "http://" + c.pprof + "/debug/pprof/heap"
		file = name + ".heap.pprof"
	case "goroutine":
		url = "http://" + c.pprof + "/debug/pprof/goroutine?debug=1"
		file = name + ".goroutine.txt"
	default:
		panic("unknown profile kind " + kind)
	}
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.progress("profile %s: %v", file, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.progress("profile %s: HTTP %d", file, resp.StatusCode)
		return
	}
	f, err := os.Create(filepath.Join(b.cfg.pprofDir, file))
	if err != nil {
		b.progress("profile %s: %v", file, err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		b.progress("profile %s: %v", file, err)
	}
}
