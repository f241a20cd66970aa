package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	slogmulti "github.com/samber/slog-multi"
	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/storybot/storybot/internal/viewer"
)

// ECSVersion is the version of the Elastic Common Schema the log lines
// follow, written as ecs.version.
const ECSVersion = "8.11.0"

// Top-level keys of every log line. slog's own time, level and msg are
// renamed to the ECS names, not written beside them.
const (
	keyTimestamp         = "@timestamp"
	keyLevel             = "log.level"
	keyMessage           = "message"
	keyECSVersion        = "ecs.version"
	keyServiceName       = "service.name"
	keyServiceVersion    = "service.version"
	keyServiceEnv        = "service.environment"
	keyHostName          = "host.name"
	keyProcessPID        = "process.pid"
	keyTraceID           = "trace.id"
	keySpanID            = "span.id"
	keyConnectionTraceID = "storybot.connection.trace_id"
	keyUserID            = "user.id"
)

// reservedKeys are the top-level keys this package writes itself; an
// attribute logged under one of them is renamed to "labels.<key>" so that
// no line has a duplicate key.
var reservedKeys = map[string]bool{
	slog.TimeKey: true, slog.LevelKey: true, slog.MessageKey: true, slog.SourceKey: true,
	keyTimestamp: true, keyLevel: true, keyMessage: true, keyECSVersion: true,
	keyServiceName: true, keyServiceVersion: true, keyServiceEnv: true,
	keyHostName: true, keyProcessPID: true, keyTraceID: true, keySpanID: true, keyConnectionTraceID: true,
}

// LogConfig configures NewLogger. The server fills it from its own
// configuration (LOG_LEVEL, LOGSTASH_ADDR, LOG_FILE); this package reads no
// environment variables.
type LogConfig struct {
	// Level is the minimum level logged: "debug", "info", "warn" or
	// "error", in any case. Empty means "info".
	Level string
	// ServiceName is written as service.name. Empty means "storybot".
	ServiceName string
	// ServiceVersion, when set, is written as service.version.
	ServiceVersion string
	// Environment, when set, is written as service.environment (for example
	// "production").
	Environment string

	// LogstashAddr, when set, is the host:port of a Logstash tcp input with
	// the json_lines codec; every line is sent there too.
	LogstashAddr string
	// LogstashQueueSize is how many lines wait for Logstash before new
	// lines are dropped. Zero means 8192.
	LogstashQueueSize int
	// LogstashMaxBackoff caps the pause between reconnection attempts.
	// Zero means 5s.
	LogstashMaxBackoff time.Duration

	// File, when set, is a log file written too, rotated by size.
	File string
	// FileMaxSizeMB is the size in megabytes at which File is rotated.
	// Zero means 100.
	FileMaxSizeMB int
	// FileMaxBackups is how many rotated files are kept. Zero keeps all.
	FileMaxBackups int
	// FileMaxAgeDays is how many days rotated files are kept. Zero keeps
	// them regardless of age.
	FileMaxAgeDays int
	// FileCompress gzips rotated files.
	FileCompress bool
}

// ParseLevel parses a level name as LOG_LEVEL spells it: "debug", "info",
// "warn" or "error", in any case; "" is "info".
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	default:
		return 0, fmt.Errorf("telemetry: unknown log level %q (want debug, info, warn or error)", s)
	}
}

// NewLogger returns a JSON logger in the Elastic Common Schema layout that
// writes every line to stdout and, as cfg says, to Logstash and to a rotated
// file. Lines written with a context carrying a trace ID have trace.id (and
// storybot.connection.trace_id for operations on a websocket). m counts the lines the
// Logstash writer drops; it may be nil.
//
// The returned function flushes the lines queued for Logstash, bounded by its
// context, and closes the outputs. Call it once at shutdown, after the last
// line.
func NewLogger(cfg LogConfig, stdout io.Writer, m *Metrics) (*slog.Logger, func(context.Context) error, error) {
	level, err := ParseLevel(cfg.Level)
	if err != nil {
		return nil, nil, err
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: ecsReplaceAttr}

	handlers := []slog.Handler{slog.NewJSONHandler(stdout, opts)}
	var closers []func(context.Context) error

	if cfg.File != "" {
		if err := checkLogFile(cfg.File); err != nil {
			return nil, nil, err
		}
		size := cfg.FileMaxSizeMB
		if size <= 0 {
			size = 100
		}
		file := &lumberjack.Logger{
			Filename:   cfg.File,
			MaxSize:    size,
			MaxBackups: cfg.FileMaxBackups,
			MaxAge:     cfg.FileMaxAgeDays,
			Compress:   cfg.FileCompress,
		}
		handlers = append(handlers, slog.NewJSONHandler(file, opts))
		closers = append(closers, func(context.Context) error { return file.Close() })
	}

	if cfg.LogstashAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.LogstashAddr); err != nil {
			return nil, nil, fmt.Errorf("telemetry: logstash address %q: %w", cfg.LogstashAddr, err)
		}
		ls := newLogstashWriter(cfg.LogstashAddr, cfg.LogstashQueueSize, cfg.LogstashMaxBackoff, m)
		handlers = append(handlers, slog.NewJSONHandler(ls, opts))
		// Logstash first: the file closes instantly, the flush may take a
		// while.
		closers = append([]func(context.Context) error{ls.Close}, closers...)
	}

	h := slogmulti.Fanout(handlers...).WithAttrs(serviceAttrs(cfg))

	var once sync.Once
	var closeErr error
	closeFn := func(ctx context.Context) error {
		once.Do(func() {
			var errs []error
			for _, c := range closers {
				errs = append(errs, c(ctx))
			}
			closeErr = errors.Join(errs...)
		})
		return closeErr
	}
	return slog.New(newContextHandler(h)), closeFn, nil
}

// checkLogFile makes sure the log file can be written, so that a bad path
// fails at start-up instead of losing every line.
func checkLogFile(name string) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("telemetry: log file: %w", err)
	}
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("telemetry: log file: %w", err)
	}
	return f.Close()
}

// serviceAttrs are the fields that say where a line comes from.
func serviceAttrs(cfg LogConfig) []slog.Attr {
	name := cfg.ServiceName
	if name == "" {
		name = "storybot"
	}
	attrs := []slog.Attr{
		slog.String(keyECSVersion, ECSVersion),
		slog.String(keyServiceName, name),
	}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, slog.String(keyServiceVersion, cfg.ServiceVersion))
	}
	if cfg.Environment != "" {
		attrs = append(attrs, slog.String(keyServiceEnv, cfg.Environment))
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		attrs = append(attrs, slog.String(keyHostName, host))
	}
	return append(attrs, slog.Int(keyProcessPID, os.Getpid()))
}

// ecsReplaceAttr renames slog's built-in keys to their ECS names, writes the
// time in UTC and the level in lower case.
func ecsReplaceAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		a.Key = keyTimestamp
		if t, ok := a.Value.Any().(time.Time); ok {
			a.Value = slog.TimeValue(t.UTC())
		}
	case slog.LevelKey:
		a.Key = keyLevel
		if l, ok := a.Value.Any().(slog.Level); ok {
			a.Value = slog.StringValue(strings.ToLower(l.String()))
		}
	case slog.MessageKey:
		a.Key = keyMessage
	}
	return a
}

// contextHandler adds the trace IDs found in a record's context as
// top-level fields, and renames attributes that would collide with the
// fields this package writes.
type contextHandler struct {
	// base is the handler as it was before the first WithGroup; ops are
	// the WithAttrs and WithGroup calls made after it, replayed on base
	// when a record's trace IDs must go outside those groups.
	base   slog.Handler
	ops    []handlerOp
	inner  slog.Handler
	groups bool
}

// handlerOp is one WithAttrs (group == "") or WithGroup call.
type handlerOp struct {
	group string
	attrs []slog.Attr
}

func newContextHandler(h slog.Handler) *contextHandler {
	return &contextHandler{base: h, inner: h}
}

// Enabled reports whether the inner handlers log level l.
func (h *contextHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

// Handle writes r with the context's trace IDs and signed-in user
// (user.id).
func (h *contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.groups {
		r = renameReserved(r)
	}
	ids := traceAttrs(ctx)
	if uid := viewer.UserID(ctx); uid != "" && !hasAttr(r, keyUserID) {
		ids = append(ids, slog.String(keyUserID, string(uid)))
	}
	if len(ids) == 0 {
		return h.inner.Handle(ctx, r)
	}
	if !h.groups {
		r.AddAttrs(ids...)
		return h.inner.Handle(ctx, r)
	}
	inner := h.base.WithAttrs(ids)
	for _, op := range h.ops {
		if op.group != "" {
			inner = inner.WithGroup(op.group)
		} else {
			inner = inner.WithAttrs(op.attrs)
		}
	}
	return inner.Handle(ctx, r)
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	if !h.groups {
		attrs = renameReservedAttrs(attrs)
		inner := h.inner.WithAttrs(attrs)
		return &contextHandler{base: inner, inner: inner}
	}
	return &contextHandler{
		base:   h.base,
		ops:    append(h.ops[:len(h.ops):len(h.ops)], handlerOp{attrs: attrs}),
		inner:  h.inner.WithAttrs(attrs),
		groups: true,
	}
}

// WithGroup returns a handler that puts the attributes that follow in the
// group name.
func (h *contextHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &contextHandler{
		base:   h.base,
		ops:    append(h.ops[:len(h.ops):len(h.ops)], handlerOp{group: name}),
		inner:  h.inner.WithGroup(name),
		groups: true,
	}
}

// hasAttr reports whether r has a top-level attribute key: a line about
// another account (one just signed in) names it itself.
func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}

// traceAttrs are the trace fields of ctx.
func traceAttrs(ctx context.Context) []slog.Attr {
	if ctx == nil {
		return nil
	}
	id := TraceIDFromContext(ctx)
	if id == "" {
		return nil
	}
	attrs := []slog.Attr{slog.String(keyTraceID, id)}
	if span := SpanIDFromContext(ctx); span != "" {
		attrs = append(attrs, slog.String(keySpanID, span))
	}
	if conn := ConnectionTraceIDFromContext(ctx); conn != "" && conn != id {
		attrs = append(attrs, slog.String(keyConnectionTraceID, conn))
	}
	return attrs
}

// renameReserved returns r with its reserved attribute keys renamed.
func renameReserved(r slog.Record) slog.Record {
	clash := false
	r.Attrs(func(a slog.Attr) bool {
		clash = reservedKeys[a.Key]
		return !clash
	})
	if !clash {
		return r
	}
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(renameAttr(a))
		return true
	})
	return nr
}

func renameReservedAttrs(attrs []slog.Attr) []slog.Attr {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = renameAttr(a)
	}
	return out
}

func renameAttr(a slog.Attr) slog.Attr {
	if reservedKeys[a.Key] {
		a.Key = "labels." + a.Key
	}
	return a
}
