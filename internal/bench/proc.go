//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat. It is 100 on every architecture Go supports.
const clockTicks = 100

// procStats is what /proc says about one process at one moment.
type procStats struct {
	rss int64         // resident set size, bytes
	cpu time.Duration // user plus system CPU time
}

// readProc reads a process's resident memory and CPU time.
func readProc(pid int) (procStats, error) {
	var st procStats
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return st, fmt.Errorf("parsing VmRSS %q: %w", rest, err)
			}
			st.rss = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// count fields from the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return st, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 13 {
		return st, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return st, err
	}
	st.cpu = time.Duration(utime+stime) * time.Second / clockTicks
	return st, nil
}

// cpuTimes is the machine's CPU time so far, from /proc/stat.
type cpuTimes struct {
	busy, total time.Duration
}

// readMachineCPU reads the CPU time all cores spent busy and in all.
func readMachineCPU() (cpuTimes, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return cpuTimes{}, errors.New("unexpected /proc/stat")
	}
	var t cpuTimes
	for i, f := range fields[1:] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return cpuTimes{}, err
		}
		if i >= 7 { // guest time is already counted in user time
			break
		}
		d := time.Duration(v) * time.Second / clockTicks
		t.total += d
		if i != 3 && i != 4 { // idle and iowait
			t.busy += d
		}
	}
	return t, nil
}

// usage is the CPU time used over an interval: by the servers under test,
// by the harness itself, and by the whole machine (which includes Postgres
// and anything else running).
type usage struct {
	servers, harness time.Duration
	postgres         time.Duration // the backends serving the bench database
	machineBusy      float64       // fraction of all cores' time
}

// usageMeter measures usage between start and stop.
type usageMeter struct {
	servers  []*child
	backends func() []int // process ids of the Postgres backends to count
	srv      time.Duration
	self     procStats
	pg       map[int]time.Duration
	machine  cpuTimes
}

func startUsage(backends func() []int, servers ...*child) (*usageMeter, error) {
	m := &usageMeter{servers: servers, backends: backends}
	var err1, err2, err3 error
	m.srv, err1 = cpuOf(servers)
	m.self, err2 = readProc(os.Getpid())
	m.pg = backendCPU(backends)
	m.machine, err3 = readMachineCPU()
	return m, errors.Join(err1, err2, err3)
}

func (m *usageMeter) stop() (usage, error) {
	srv, err1 := cpuOf(m.servers)
	self, err2 := readProc(os.Getpid())
	pg := backendCPU(m.backends)
	machine, err3 := readMachineCPU()
	u := usage{servers: srv - m.srv, harness: self.cpu - m.self.cpu}
	// A backend that started meanwhile used all its time in the interval;
	// one that ended is lost.
	for pid, cpu := range pg {
		u.postgres += cpu - m.pg[pid]
	}
	if d := machine.total - m.machine.total; d > 0 {
		u.machineBusy = float64(machine.busy-m.machine.busy) / float64(d)
	}
	return u, errors.Join(err1, err2, err3)
}

// backendCPU reads the CPU time of each process that backends lists.
func backendCPU(backends func() []int) map[int]time.Duration {
	out := map[int]time.Duration{}
	if backends == nil {
		return out
	}
	for _, pid := range backends() {
		if st, err := readProc(pid); err == nil {
			out[pid] = st.cpu
		}
	}
	return out
}

// loadAverage returns the one-minute load average.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// rssSampler records the largest resident set of a process while it runs.
type rssSampler struct {
	stop chan struct{}
	done chan struct{}
	peak int64
}

// sampleRSS reads pid's resident set every interval until stopped.
func sampleRSS(pid int, interval time.Duration) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if st, err := readProc(pid); err == nil {
				s.peak = max(s.peak, st.rss)
			}
			select {
			case <-t.C:
			case <-s.stop:
				return
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the peak resident set, in bytes.
func (s *rssSampler) Stop() int64 {
	close(s.stop)
	<-s.done
	return s.peak
}

// freeAddr returns a free loopback TCP address.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// child is a process the harness started: a storybot replica or the
// baseline server. Its output goes to a file, shown when it fails.
type child struct {
	name    string
	addr    string // host:port it serves HTTP on
	pprof   string // host:port of its pprof listener, if any
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// startChild runs path with args and env (added to a cleaned copy of the
// harness's environment), its output going to logPath. The child is killed
// if the harness dies, even by SIGKILL.
func startChild(name, path string, args, env []string, logPath string) (*child, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(cleanEnv(os.Environ()), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		logFile.Close()
		close(c.exited)
	}()
	return c, nil
}

// cleanEnv drops the settings of storybot and of the harness's user that
// would change what a run measures (a model server, a database, log
// shipping, an OpenID Connect provider, limits); the harness sets its own.
func cleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "STORYBOT_"), strings.HasPrefix(k, "LLM_"), strings.HasPrefix(k, "STORY_"),
			strings.HasPrefix(k, "STORYTELLER_"), strings.HasPrefix(k, "LOG_"), strings.HasPrefix(k, "LOGSTASH_"),
			strings.HasPrefix(k, "OPENAI_"), strings.HasPrefix(k, "WS_"), strings.HasPrefix(k, "OIDC_"), strings.HasPrefix(k, "SIGNIN_"),
			k == "DATABASE_URL", k == "CORS_ALLOWED_ORIGINS",
			k == "TRUSTED_PROXIES", k == "GOGC", k == "GOMEMLIMIT":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// pid returns the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// stats reads the child's memory and CPU time.
func (c *child) stats() (procStats, error) { return readProc(c.pid()) }

// waitReady polls url until it answers 200, the child exits or ctx ends.
func (c *child) waitReady(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.exited:
			return fmt.Errorf("%s exited while starting (%v):\n%s", c.name, c.waitErr, c.tail(30))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s: %w\n%s", c.name, url, ctx.Err(), c.tail(30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends the child: SIGTERM, then SIGKILL after grace.
func (c *child) stop(grace time.Duration) error {
	select {
	case <-c.exited:
		return c.exitError()
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return c.exitError()
	case <-time.After(grace):
	}
	_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
	<-c.exited
	return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", c.name, grace)
}

func (c *child) exitError() error {
	if c.waitErr != nil {
		return fmt.Errorf("%s: %w\n%s", c.name, c.waitErr, c.tail(30))
	}
	return nil
}

// tail returns the last n lines of the child's output.
func (c *child) tail(n int) string {
	data, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  | " + strings.Join(lines, "\n  | ")
}

// logLines counts the lines of the child's output so far that are
// warnings or errors (storybot runs with LOG_LEVEL=warn, so it logs
// nothing else; lines that are not JSON, a panic's, count too), and
// returns the first after the first skip of them.
func (c *child) logLines(skip int) (warnings int, sample string) {
	f, err := os.Open(c.logPath)
	if err != nil {
		return 0, ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		if lower := strings.ToLower(line); !strings.HasPrefix(line, "{") ||
			strings.Contains(lower, `"warn"`) || strings.Contains(lower, `"error"`) {
			warnings++
			if sample == "" && warnings > skip {
				sample = logSummary(line)
			}
		}
	}
	return warnings, sample
}

// logSummary shortens a JSON log line to its message and error.
func logSummary(line string) string {
	var m map[string]any
	if json.Unmarshal([]byte(line), &m) != nil {
		return line
	}
	out := fmt.Sprint(m["message"])
	for _, k := range []string{"error", "error.message"} {
		if v, ok := m[k]; ok {
			out += ": " + fmt.Sprint(v)
		}
	}
	return out
}

// children tracks every process the harness started, so that one call
// stops them all, whatever went wrong.
type children struct {
	mu   sync.Mutex
	list []*child
}

func (cs *children) add(c *child) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.list = append(cs.list, c)
}

// remove forgets c once it has been stopped.
func (cs *children) remove(c *child) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for i, x := range cs.list {
		if x == c {
			cs.list = append(cs.list[:i], cs.list[i+1:]...)
			return
		}
	}
}

// stopAll stops every child still running, at once.
func (cs *children) stopAll() {
	cs.mu.Lock()
	list := cs.list
	cs.list = nil
	cs.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range list {
		wg.Go(func() { _ = c.stop(10 * time.Second) })
	}
	wg.Wait()
}
