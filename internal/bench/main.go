//go:build linux

// Command bench measures storybot against the targets of its performance
// issue, on this machine, and prints a table:
//
//  1. query throughput and latency of prompts(first: 20) against a plain
//     net/http baseline running the same SQL in the same run;
//  2. subscription fan-out: 1,000 to 10,000 graphql-transport-ws
//     subscribers on one story, and 10,000 over 100 stories, each beside the
//     baseline hub: exactness, skew between subscribers, lag behind the
//     token schedule, messages per subscriber per second, server memory per
//     connection, server CPU per delivered event;
//  3. the cost of per-field timings;
//  4. database writes per story per second at 500 tokens/s;
//  5. 1,000 concurrent stories with one subscriber each, on one replica and
//     across two replicas sharing Postgres.
//
// It builds storybot, creates a fresh Postgres database on the local server
// (dropped at the end), runs every server as its own process, and feeds the
// stories from a fake OpenAI-compatible model server that paces its tokens
// exactly and stamps each with the time it was written. Everything stays on
// 127.0.0.1, and everything it started is stopped when it ends, fails or is
// interrupted.
//
//	go run ./internal/bench            # the full run, about 10 minutes on 2 cores
//	go run ./internal/bench -quick     # a smoke run, under a minute
//	go run ./internal/bench -doc docs/PERFORMANCE.md   # also rewrite the doc's tables
//
// It needs Linux (it reads /proc) and a Postgres server at 127.0.0.1:5432
// (user postgres, trust auth), or the one STORYBOT_TEST_DATABASE_URL names.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// config is what the flags chose.
type config struct {
	quick     bool
	scenarios map[string]bool

	prompts       int
	queryClients  int
	queryWarmup   time.Duration
	queryDuration time.Duration
	queryRounds   int

	fanout            []int
	spreadSubscribers int
	spreadStories     int
	fanoutRate        int
	fanoutTokens      int
	fanoutBaseline    bool
	idleSettle        time.Duration

	writeStories  int
	writeRate     int
	writeDuration time.Duration

	liveStories    []int
	liveRate       int
	liveTokens     int
	liveLongTokens int

	postgres string
	env      []string // extra KEY=value settings for every storybot
	bin      string
	// tracingBeforeBin is a storybot without OpenTelemetry, the reference
	// of tracing's cost when off (tracing.go).
	tracingBeforeBin string
	pprofDir         string
	markdown         string
	doc              string
}

// allScenarios are the scenario names, in the order they run.
var allScenarios = []string{"query", "fanout", "writes", "live"}

func parseFlags(args []string, stderr io.Writer) (config, *baselineMode, error) {
	var cfg config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./internal/bench [flags]\n\nMeasures storybot against its performance targets and prints a table.\n\nflags:")
		fs.PrintDefaults()
	}
	fs.BoolVar(&cfg.quick, "quick", false, "a small smoke run (under a minute): small sizes for every flag not given")
	scenarios := fs.String("scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios to run: "+strings.Join(allScenarios, ", "))
	fs.IntVar(&cfg.prompts, "prompts", 1000, "prompts stored for the query scenario")
	fs.IntVar(&cfg.queryClients, "query-clients", 64, "concurrent keep-alive clients of the query scenario")
	fs.DurationVar(&cfg.queryWarmup, "query-warmup", time.Second, "warm-up before each measured query window")
	fs.DurationVar(&cfg.queryDuration, "query-duration", 20*time.Second, "measured time per server in the query scenario, split over the rounds")
	fs.IntVar(&cfg.queryRounds, "query-rounds", 5, "rounds of the query scenario, each server in turn per round")
	fanout := fs.String("fanout", "1000,5000,10000", "comma-separated subscriber counts on one story")
	fs.IntVar(&cfg.spreadSubscribers, "spread-subscribers", 10000, "subscribers spread over -spread-stories stories (0 to skip)")
	fs.IntVar(&cfg.spreadStories, "spread-stories", 100, "stories of the spread fan-out case")
	fs.IntVar(&cfg.fanoutRate, "fanout-rate", 50, "tokens per second of a fan-out story")
	fs.IntVar(&cfg.fanoutTokens, "fanout-tokens", 200, "tokens of a fan-out story")
	fs.BoolVar(&cfg.fanoutBaseline, "fanout-baseline", true, "also run each fan-out case on the baseline hub, a minimal Go websocket server, for reference")
	fs.DurationVar(&cfg.idleSettle, "idle-settle", 2*time.Second, "wait after connecting before reading idle memory")
	fs.IntVar(&cfg.writeStories, "write-stories", 4, "stories of the database-writes scenario")
	fs.IntVar(&cfg.writeRate, "write-rate", 500, "tokens per second of a database-writes story")
	fs.DurationVar(&cfg.writeDuration, "write-duration", 5*time.Second, "length of a database-writes story")
	liveStories := fs.String("live-stories", "100,300,1000", "comma-separated counts of concurrent stories of the live scenario, one subscriber each")
	fs.IntVar(&cfg.liveRate, "live-rate", 25, "tokens per second of a live story")
	fs.IntVar(&cfg.liveTokens, "live-tokens", 200, "tokens of a live story")
	fs.IntVar(&cfg.liveLongTokens, "live-long-tokens", 2000, "tokens of the live scenario's long stories, streamed as many at once as its smallest case on one replica, to compare write volume as stories grow longer (0 to skip)")
	fs.StringVar(&cfg.postgres, "postgres", "", "URL of the local Postgres server to create the bench database on (default $STORYBOT_TEST_DATABASE_URL, else "+defaultServerURL+")")
	fs.Func("env", "extra `KEY=value` setting for every storybot the harness starts, to try a setting (repeatable; e.g. -env STORYBOT_DB_MAX_CONNS=40 -env GOGC=200)", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return fmt.Errorf("%q is not KEY=value", v)
		}
		cfg.env = append(cfg.env, v)
		return nil
	})
	fs.StringVar(&cfg.bin, "bin", "", "storybot binary to measure (default: build the module's main package)")
	fs.StringVar(&cfg.tracingBeforeBin, "tracing-before-bin", "", "a storybot binary built before OpenTelemetry, measured beside tracing off in the query scenario's tracing runs (optional)")
	fs.StringVar(&cfg.pprofDir, "pprof", "", "directory to save server CPU, heap and goroutine profiles into (profiling perturbs the figures a little)")
	fs.StringVar(&cfg.markdown, "markdown", "", "also write the report as Markdown to this file")
	fs.StringVar(&cfg.doc, "doc", "", "rewrite the generated section of this Markdown file (docs/PERFORMANCE.md) with the report")
	var bm baselineMode
	fs.StringVar(&bm.addr, "serve-baseline", "", "internal: serve the baseline on this address (the harness starts itself so)")
	fs.StringVar(&bm.dbURL, "baseline-database", "", "internal: the baseline's database URL")
	if err := fs.Parse(args); err != nil {
		return cfg, nil, err
	}
	if fs.NArg() > 0 {
		return cfg, nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if bm.addr != "" {
		return cfg, &bm, nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.quick {
		quick := map[string]string{
			"prompts": "200", "query-warmup": "500ms", "query-duration": "2s", "query-rounds": "1",
			"fanout": "200", "spread-subscribers": "100", "spread-stories": "10", "fanout-tokens": "100",
			"idle-settle": "1s", "write-stories": "2", "write-duration": "2s",
			"live-stories": "50", "live-tokens": "50", "live-long-tokens": "150",
		}
		for name, v := range quick {
			if !set[name] {
				if err := fs.Set(name, v); err != nil {
					return cfg, nil, err
				}
			}
		}
	}
	cfg.scenarios = map[string]bool{}
	for _, s := range strings.Split(*scenarios, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		known := false
		for _, k := range allScenarios {
			known = known || k == s
		}
		if !known {
			return cfg, nil, fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(allScenarios, ", "))
		}
		cfg.scenarios[s] = true
	}
	var err error
	if cfg.fanout, err = counts("fanout", *fanout); err != nil {
		return cfg, nil, err
	}
	if cfg.liveStories, err = counts("live-stories", *liveStories); err != nil {
		return cfg, nil, err
	}
	switch {
	case cfg.queryRounds < 1 || cfg.queryClients < 1 || cfg.prompts < 21:
		return cfg, nil, errors.New("-query-rounds and -query-clients must be at least 1, -prompts at least 21")
	case cfg.fanoutRate < 1 || cfg.writeRate < 1 || cfg.liveRate < 1 || cfg.fanoutTokens < 1:
		return cfg, nil, errors.New("token rates and counts must be at least 1")
	case cfg.spreadSubscribers > 0 && (cfg.spreadStories < 1 || cfg.spreadStories > cfg.spreadSubscribers):
		return cfg, nil, errors.New("-spread-stories must be from 1 to -spread-subscribers")
	case cfg.writeStories < 1 || len(cfg.liveStories) == 0:
		return cfg, nil, errors.New("-write-stories must be at least 1, and -live-stories name at least one count")
	case cfg.liveTokens < 1 || cfg.liveLongTokens < 0:
		return cfg, nil, errors.New("-live-tokens must be at least 1, -live-long-tokens at least 0")
	}
	return cfg, nil, nil
}

// counts parses a flag's comma-separated list of positive numbers.
func counts(flagName, list string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-%s: %q is not a positive number", flagName, s)
		}
		out = append(out, n)
	}
	return out, nil
}

// baselineMode is set when the harness runs as the baseline server.
type baselineMode struct{ addr, dbURL string }

// bench is one run of the harness.
type bench struct {
	cfg     config
	stderr  io.Writer
	started time.Time
	tmp     string
	bin     string // storybot
	self    string // this program, started again as the baseline server
	db      *benchDB
	model   *fakeModel
	procs   children
	// token is the API token of benchEmail, which every request to
	// storybot carries: made on the first storybot started, valid on all
	// of them (they share the bench database).
	token string
}

// run is the harness's main: parse flags, set up, run the scenarios,
// report, and clean up whatever happened.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	cfg, bm, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if bm != nil {
		return serveBaseline(bm.addr, bm.dbURL, stderr)
	}

	b := &bench{cfg: cfg, stderr: stderr, started: time.Now()}
	largest := max(cfg.spreadSubscribers, slices.Max(cfg.liveStories))
	for _, n := range cfg.fanout {
		largest = max(largest, n)
	}
	nofile, err := raiseFileLimit(uint64(max(65536, 2*largest+4096)))
	if err != nil {
		return fmt.Errorf("raising the file-descriptor limit: %w", err)
	}
	if nofile < uint64(largest+2048) {
		return fmt.Errorf("the file-descriptor limit is %d, too low for %d connections: raise the hard limit (ulimit -Hn) or run fewer", nofile, largest)
	}
	res := &results{machine: describeMachine(nofile), started: b.started, command: commandLine(args), loadBefore: loadAverage(), revision: revision(ctx)}
	b.progress("machine: %s", res.machine)

	if b.self, err = os.Executable(); err != nil {
		return err
	}
	if b.tmp, err = os.MkdirTemp("", "storybot-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)
	if cfg.pprofDir != "" {
		if err := os.MkdirAll(cfg.pprofDir, 0o755); err != nil {
			return err
		}
	}
	if b.bin = cfg.bin; b.bin == "" {
		if b.bin, err = b.build(ctx); err != nil {
			return err
		}
	}

	if b.db, err = createDB(ctx, serverURL(cfg.postgres)); err != nil {
		return err
	}
	defer func() {
		if dropErr := b.db.drop(); dropErr != nil {
			err = errors.Join(err, fmt.Errorf("dropping %s: %w", b.db.name, dropErr))
		}
	}()
	b.progress("database %s created", b.db.name)
	if b.model, err = startFakeModel(); err != nil {
		return err
	}
	defer b.model.close()
	defer b.procs.stopAll()

	if cfg.scenarios["query"] {
		if res.queries, err = b.runQueries(ctx); err != nil {
			res.failures = append(res.failures, "query: "+err.Error())
		}
	}
	if cfg.scenarios["query"] && ctx.Err() == nil {
		if res.tracing, err = b.runTracing(ctx); err != nil {
			res.failures = append(res.failures, "tracing: "+err.Error())
		}
	}
	if cfg.scenarios["fanout"] && ctx.Err() == nil {
		if res.fanout, err = b.runFanout(ctx); err != nil {
			res.failures = append(res.failures, err.Error())
		}
	}
	if cfg.scenarios["writes"] && ctx.Err() == nil {
		if res.writes, err = b.runWrites(ctx); err != nil {
			res.failures = append(res.failures, "writes: "+err.Error())
		}
	}
	if cfg.scenarios["live"] && ctx.Err() == nil {
		if res.live, err = b.runLive(ctx); err != nil {
			res.failures = append(res.failures, err.Error())
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	res.took = time.Since(b.started)
	res.loadAfter = loadAverage()

	fmt.Fprint(stdout, "\n"+res.text())
	if cfg.markdown != "" {
		if err := os.WriteFile(cfg.markdown, []byte(res.markdown()), 0o644); err != nil {
			return err
		}
	}
	if cfg.doc != "" {
		if err := res.updateDoc(cfg.doc); err != nil {
			return err
		}
	}
	if len(res.failures) > 0 {
		return fmt.Errorf("%d scenario(s) did not finish: %s", len(res.failures), strings.Join(res.failures, "; "))
	}
	return nil
}

// commandLine is how this run was started, for the report.
func commandLine(args []string) string {
	return strings.TrimSpace("go run ./internal/bench " + strings.Join(args, " "))
}

// revision names the commit of the working tree the run builds, and says
// whether the tree has changes not yet committed ("" outside git).
func revision(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return ""
	}
	rev := strings.TrimSpace(string(out))
	if dirty, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(dirty)) > 0 {
		rev += " with uncommitted changes"
	}
	return rev
}

// progress reports what the harness is doing, on stderr.
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.stderr, "[%5.1fs] %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

// build compiles storybot from the module the harness is run in.
func (b *bench) build(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run the harness inside the storybot module (go run ./internal/bench from its root)")
	}
	bin := filepath.Join(b.tmp, "storybot")
	b.progress("building storybot")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// startStorybot starts a storybot replica named name on a free port, with
// the bench's database and model server and any extra KEY=value settings,
// and waits until it is ready.
func (b *bench) startStorybot(ctx context.Context, name string, extra ...string) (*child, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env := []string{
		"STORYBOT_ADDR=" + addr,
		"DATABASE_URL=" + b.db.url,
		"STORYBOT_REPLICA_ID=bench-" + name,
		"STORYBOT_DATA_DIR=" + filepath.Join(b.tmp, "data-"+name),
		"STORYBOT_SHUTDOWN_TIMEOUT=5s",
		"LOG_LEVEL=warn",
		"LLM_BASE_URL=" + b.model.baseURL(),
		"LLM_MODEL=" + modelName(b.cfg.fanoutRate),
		"LLM_MODELS=" + b.models(),
		// Streams wait at the model server's gate while subscribers connect.
		"LLM_FIRST_TOKEN_TIMEOUT=10m",
		"STORY_MAX_TOKENS_LIMIT=100000",
		// One harness plays every viewer, with one account: it may start
		// as many stories as a scenario needs, and one replica generates
		// them all at once, with no per-user cap or daily token budget.
		// Websockets keep the per-client cap: the harness spreads them
		// over loopback addresses instead (loopbackSource).
		"STORY_RATE_PER_MINUTE=0",
		"STORY_USER_MAX_RUNNING=0",
		"STORY_USER_DAILY_TOKENS=0",
		"SIGNIN_RATE_PER_MINUTE=0",
		fmt.Sprintf("STORY_MAX_RUNNING=%d", b.maxStories()),
		fmt.Sprintf("STORY_MAX_QUEUED=%d", b.maxStories()),
	}
	var pprofAddr string
	if b.cfg.pprofDir != "" {
		if pprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		env = append(env, "STORYBOT_PPROF_ADDR="+pprofAddr)
	}
	env = append(env, extra...)
	env = append(env, b.cfg.env...)
	c, err := startChild(name, b.bin, nil, env, filepath.Join(b.tmp, name+".log"))
	if err != nil {
		return nil, err
	}
	c.addr, c.pprof = addr, pprofAddr
	b.procs.add(c)
	if err := c.waitReady(ctx, "http://"+addr+"/readyz", 60*time.Second); err != nil {
		b.stopChild(c)
		return nil, err
	}
	if b.token == "" {
		if b.token, err = signUp(ctx, addr); err != nil {
			b.stopChild(c)
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return c, nil
}

// client returns a GraphQL client of the storybot c, with the bench's API
// token.
func (b *bench) client(c *child) *gqlClient { return newGQLClient(c.addr, b.token) }

// models lists the fake model's names for every rate the scenarios stream
// at, the default (LLM_MODEL) first: generateStory accepts only these.
func (b *bench) models() string {
	var names []string
	for _, rate := range []int{b.cfg.fanoutRate, b.cfg.writeRate, b.cfg.liveRate} {
		if name := modelName(rate); !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return strings.Join(names, ",")
}

// maxStories is the most stories any scenario runs at once.
func (b *bench) maxStories() int {
	return max(slices.Max(b.cfg.liveStories), b.cfg.spreadStories, b.cfg.writeStories, 1)
}

// startBaseline starts the baseline server: this program again, in its
// baseline mode, on the bench database.
func (b *bench) startBaseline(ctx context.Context) (*child, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	c, err := startChild("baseline", b.self, []string{"-serve-baseline", addr, "-baseline-database", b.db.baselineURL()}, nil,
		filepath.Join(b.tmp, "baseline.log"))
	if err != nil {
		return nil, err
	}
	c.addr = addr
	b.procs.add(c)
	if err := c.waitReady(ctx, "http://"+addr+"/readyz", 30*time.Second); err != nil {
		b.stopChild(c)
		return nil, err
	}
	return c, nil
}

// stopChild stops c and forgets it.
func (b *bench) stopChild(c *child) {
	if err := c.stop(10 * time.Second); err != nil {
		b.progress("stopping %s: %v", c.name, err)
	}
	b.procs.remove(c)
}
