package telemetry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// This file holds every Prometheus collector of storybot. The GraphQL and
// HTTP series use the conventional graphql_ and http_ prefixes (the field
// histogram's name, graphql_field_duration_seconds, is fixed by the issue);
// series about storybot's own domain use the storybot_ namespace.
//
// No label takes a value that a client controls: object and field names come
// from the schema, operation types and outcomes from small fixed sets, error
// codes from an allow-list, HTTP handler names from the server, methods and
// status classes from fixed sets.

// Label values that stand for "anything else".
const (
	// otherLabel replaces an error code that is not in the allow-list, or a
	// method that is not a standard HTTP method.
	otherLabel = "OTHER"
	// noneLabel is the code of an error without extensions.code.
	noneLabel = "NONE"
	// unknownLabel is the operation type of a request that failed before its
	// operation was known (unparsable JSON, a syntax error, ...).
	unknownLabel = "unknown"
)

// Operation outcomes, the values of the outcome label of the operation
// series.
const (
	outcomeOK    = "ok"
	outcomeError = "error"
)

// StoryOutcome is how a story's generation ended.
type StoryOutcome = string

// The outcomes a story's generation can end with.
const (
	StoryCompleted StoryOutcome = "completed"
	StoryFailed    StoryOutcome = "failed"
	StoryCancelled StoryOutcome = "cancelled"
)

var (
	operationTypes = []string{"query", "mutation", "subscription"}
	storyOutcomes  = []string{StoryCompleted, StoryFailed, StoryCancelled}
	httpMethods    = []string{
		http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace,
	}
)

// MetricsOptions tunes NewMetrics. The zero value is ready to use.
type MetricsOptions struct {
	// FieldBuckets are the buckets, in seconds, of
	// graphql_field_duration_seconds. Nil means 0.5 ms to 5 s, for
	// resolvers that mostly take from under a millisecond to a few hundred
	// milliseconds.
	FieldBuckets []float64
	// RequestBuckets are the buckets, in seconds, of the operation and HTTP
	// request duration histograms. Nil means 1 ms to 15 min: the long ones
	// are for subscriptions and websocket connections, which last as long as
	// a client listens.
	RequestBuckets []float64
	// Models are the model names that the model series name in their model
	// label; any other model is counted as "other", so that the label's
	// values stay few whatever the model servers answer.
	Models []string
}

// Default buckets of the GraphQL and HTTP histograms, in seconds.
var (
	defaultFieldBuckets   = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	defaultRequestBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900}
)

// Buckets of the story histograms, in seconds.
var (
	firstTokenBuckets = []float64{.05, .1, .25, .5, 1, 2, 5, 10, 20, 30, 60}
	writeBuckets      = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	writeGroupBuckets = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500}
	generationBuckets = []float64{.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600}
	tokenRateBuckets  = []float64{1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 400}
	queueWaitBuckets  = []float64{.001, .01, .05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 120}
)

// otherModel is the model label of a model outside MetricsOptions.Models.
const otherModel = "other"

// Metrics holds storybot's Prometheus collectors, registered on a registry of
// its own. Its methods are safe for concurrent use.
type Metrics struct {
	registry *prometheus.Registry

	fieldDuration     *prometheus.HistogramVec
	operations        *prometheus.CounterVec
	operationDuration *prometheus.HistogramVec
	graphqlErrors     *prometheus.CounterVec
	wsConnections     prometheus.Gauge
	subscriptions     prometheus.Gauge

	httpRequests        *prometheus.CounterVec
	httpRequestDuration *prometheus.HistogramVec

	storiesStarted     prometheus.Counter
	storiesFinished    *prometheus.CounterVec
	storyTokens        prometheus.Counter
	storyFirstToken    prometheus.Histogram
	storyGeneration    *prometheus.HistogramVec
	storyWrite         prometheus.Histogram
	storyWriteGroup    prometheus.Histogram
	models             map[string]bool
	modelFirstToken    *prometheus.HistogramVec
	modelTokenRate     *prometheus.HistogramVec
	modelDuration      *prometheus.HistogramVec
	modelTokens        *prometheus.CounterVec
	storyQueueWait     prometheus.Histogram
	logstashDropped    prometheus.Counter
	logstashConnected  prometheus.Gauge
	logstashQueueLines prometheus.Gauge
}

// NewMetrics creates storybot's collectors and registers them, with the Go
// runtime, process and build-info collectors, on a new private registry.
func NewMetrics(opts MetricsOptions) *Metrics {
	fieldBuckets := opts.FieldBuckets
	if fieldBuckets == nil {
		fieldBuckets = defaultFieldBuckets
	}
	requestBuckets := opts.RequestBuckets
	if requestBuckets == nil {
		requestBuckets = defaultRequestBuckets
	}

	m := &Metrics{
		registry: prometheus.NewRegistry(),

		fieldDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "graphql_field_duration_seconds",
			Help:    "Time spent in GraphQL field resolvers, by object type and field; plain struct fields are not observed.",
			Buckets: fieldBuckets,
		}, []string{"object", "field"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphql_operations_total",
			Help: "GraphQL operations finished, by operation type (query, mutation, subscription, or unknown when the request failed before its operation was known) and outcome (ok, error).",
		}, []string{"type", "outcome"}),
		operationDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "graphql_operation_duration_seconds",
			Help:    "Duration of GraphQL operations from the start of the request (for subscriptions, until the stream ends), by operation type and outcome.",
			Buckets: requestBuckets,
		}, []string{"type", "outcome"}),
		graphqlErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphql_errors_total",
			Help: "GraphQL errors sent to clients, by extensions.code (OTHER for a code outside the allow-list, NONE for an error without a code).",
		}, []string{"code"}),
		wsConnections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "graphql_websocket_connections",
			Help: "GraphQL websocket connections open now.",
		}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "graphql_active_subscriptions",
			Help: "GraphQL subscription operations running now.",
		}),

		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served, by handler, method and status class (1xx to 5xx).",
		}, []string{"handler", "method", "status_class"}),
		httpRequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Duration of HTTP requests (for websocket upgrades, of the whole connection), by handler, method and status class.",
			Buckets: requestBuckets,
		}, []string{"handler", "method", "status_class"}),

		storiesStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "storybot",
			Name:      "stories_started_total",
			Help:      "Story generations started.",
		}),
		storiesFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "storybot",
			Name:      "stories_finished_total",
			Help:      "Story generations finished, by outcome (completed, failed, cancelled).",
		}, []string{"outcome"}),
		storyTokens: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "storybot",
			Name:      "story_tokens_streamed_total",
			Help:      "Tokens streamed by story generations.",
		}),
		storyFirstToken: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "storybot",
			Name:      "story_first_token_seconds",
			Help:      "Time from the start of a story generation to its first token.",
			Buckets:   firstTokenBuckets,
		}),
		storyGeneration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "storybot",
			Name:      "story_generation_duration_seconds",
			Help:      "Duration of story generations, by outcome.",
			Buckets:   generationBuckets,
		}, []string{"outcome"}),
		storyWrite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "storybot",
			Name:      "story_write_seconds",
			Help:      "Duration of one statement storing running stories' text (or ends), for all the stories whose writes fell due together.",
			Buckets:   writeBuckets,
		}),
		storyWriteGroup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "storybot",
			Name:      "story_write_group_stories",
			Help:      "Stories written by one statement storing running stories' text (or ends).",
			Buckets:   writeGroupBuckets,
		}),
		modelFirstToken: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "storybot",
			Name:      "model_first_token_seconds",
			Help:      "Time from the start of a story generation to the model's first token, by model and outcome (completed, failed, cancelled); exemplars carry trace_id.",
			Buckets:   firstTokenBuckets,
		}, []string{"model", "outcome"}),
		modelTokenRate: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "storybot",
			Name:      "model_tokens_per_second",
			Help:      "Output tokens per second of a story generation, from its first token to its end, by model and outcome.",
			Buckets:   tokenRateBuckets,
		}, []string{"model", "outcome"}),
		modelDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "storybot",
			Name:      "model_story_duration_seconds",
			Help:      "Duration of story generations, from their start to their end, by model and outcome; exemplars carry trace_id.",
			Buckets:   generationBuckets,
		}, []string{"model", "outcome"}),
		modelTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "storybot",
			Name:      "model_tokens_total",
			Help:      "Tokens used by story generations, by model and kind (input: the prompt; output: the story), as the model server reported them or else as storybot estimated them.",
		}, []string{"model", "kind"}),
		storyQueueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "storybot",
			Name:      "story_queue_wait_seconds",
			Help:      "Time a story waited for a place to run, from its creation to the start of its generation; exemplars carry trace_id.",
			Buckets:   queueWaitBuckets,
		}),
		logstashDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "storybot",
			Name:      "logstash_dropped_lines_total",
			Help:      "Log lines the Logstash writer dropped because its queue was full or the flush at shutdown ran out of time.",
		}),
		logstashConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "storybot",
			Name:      "logstash_connected",
			Help:      "Whether the Logstash writer has a TCP connection to Logstash (1) or not (0).",
		}),
		logstashQueueLines: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "storybot",
			Name:      "logstash_queued_lines",
			Help:      "Log lines waiting in the Logstash writer's queue.",
		}),
	}

	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		m.fieldDuration,
		m.operations,
		m.operationDuration,
		m.graphqlErrors,
		m.wsConnections,
		m.subscriptions,
		m.httpRequests,
		m.httpRequestDuration,
		m.storiesStarted,
		m.storiesFinished,
		m.storyTokens,
		m.storyFirstToken,
		m.storyGeneration,
		m.storyWrite,
		m.storyWriteGroup,
		m.modelFirstToken,
		m.modelTokenRate,
		m.modelDuration,
		m.modelTokens,
		m.storyQueueWait,
		m.logstashDropped,
		m.logstashConnected,
		m.logstashQueueLines,
	)

	// Create the series of the fixed label sets, so that they exist (at 0)
	// from the start and rate() sees their first increase.
	for _, typ := range operationTypes {
		for _, outcome := range []string{outcomeOK, outcomeError} {
			m.operations.WithLabelValues(typ, outcome)
			m.operationDuration.WithLabelValues(typ, outcome)
		}
	}
	for _, outcome := range storyOutcomes {
		m.storiesFinished.WithLabelValues(outcome)
		m.storyGeneration.WithLabelValues(outcome)
	}
	m.models = map[string]bool{}
	for _, model := range opts.Models {
		m.models[model] = true
		for _, kind := range []string{"input", "output"} {
			m.modelTokens.WithLabelValues(model, kind)
		}
	}
	return m
}

// Registry returns the private registry holding every collector, for
// registering more or for tests.
func (m *Metrics) Registry() *prometheus.Registry {
	return m.registry
}

// Handler serves the registry's metrics in the Prometheus exposition format
// (text unless the scraper asks for OpenMetrics, which carries exemplars, or
// protobuf), for GET /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		Registry:      m.registry,
		ErrorHandling: promhttp.ContinueOnError,
		// OpenMetrics, when the scraper asks for it (Prometheus does),
		// is the format that carries exemplars.
		EnableOpenMetrics: true,
	})
}

// RegisterDB registers the connection pool statistics of db (client_golang's
// sql.DBStats collector, go_sql_* series) under the db_name label value name.
// Registering a second pool under the same name is an error.
func (m *Metrics) RegisterDB(db *sql.DB, name string) error {
	if err := m.registry.Register(collectors.NewDBStatsCollector(db, name)); err != nil {
		return fmt.Errorf("telemetry: register database pool %q: %w", name, err)
	}
	return nil
}

// StoryStarted counts a story generation that started.
func (m *Metrics) StoryStarted() {
	m.storiesStarted.Inc()
}

// StoryFinished counts a story generation that ended with outcome
// (StoryCompleted, StoryFailed or StoryCancelled) and observes its duration d.
// Any other outcome is counted as failed.
func (m *Metrics) StoryFinished(outcome StoryOutcome, d time.Duration) {
	switch outcome {
	case StoryCompleted, StoryFailed, StoryCancelled:
	default:
		outcome = StoryFailed
	}
	m.storiesFinished.WithLabelValues(outcome).Inc()
	m.storyGeneration.WithLabelValues(outcome).Observe(d.Seconds())
}

// RegisterStoryGauges exports the stories this replica generates now and
// those waiting for a turn, read from running and queued at each scrape.
func (m *Metrics) RegisterStoryGauges(running, queued func() int) error {
	return errors.Join(
		m.registry.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "storybot",
			Name:      "stories_generating",
			Help:      "Stories this replica is generating now.",
		}, func() float64 { return float64(running()) })),
		m.registry.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "storybot",
			Name:      "stories_queued",
			Help:      "Stories waiting on this replica for a free generator.",
		}, func() float64 { return float64(queued()) })),
	)
}

// TokensStreamed counts n tokens streamed by a story generation.
func (m *Metrics) TokensStreamed(n int) {
	if n > 0 {
		m.storyTokens.Add(float64(n))
	}
}

// FirstToken observes the time d from the start of a story generation to its
// first token.
func (m *Metrics) FirstToken(d time.Duration) {
	m.storyFirstToken.Observe(d.Seconds())
}

// StoriesWritten observes one statement that stored the text (or the ends)
// of stories running on this replica, and how long it took.
func (m *Metrics) StoriesWritten(stories int, d time.Duration) {
	m.storyWrite.Observe(d.Seconds())
	m.storyWriteGroup.Observe(float64(stories))
}

// operationFinished counts one GraphQL operation; d < 0 means its duration
// is unknown and is not observed.
func (m *Metrics) operationFinished(typ, outcome string, d time.Duration) {
	m.operations.WithLabelValues(typ, outcome).Inc()
	if d >= 0 {
		m.operationDuration.WithLabelValues(typ, outcome).Observe(d.Seconds())
	}
}

// graphqlError counts one GraphQL error under an already bounded code.
func (m *Metrics) graphqlError(code string) {
	m.graphqlErrors.WithLabelValues(code).Inc()
}

// httpRequest counts one HTTP request.
func (m *Metrics) httpRequest(handler, method string, status int, d time.Duration) {
	class := statusClass(status)
	m.httpRequests.WithLabelValues(handler, method, class).Inc()
	m.httpRequestDuration.WithLabelValues(handler, method, class).Observe(d.Seconds())
}

// methodLabel maps a request method to itself when it is a standard HTTP
// method, and to OTHER otherwise: the method is chosen by the client.
func methodLabel(method string) string {
	for _, m := range httpMethods {
		if method == m {
			return m
		}
	}
	return otherLabel
}

// statusClass maps a status code to its class, "1xx" to "5xx".
func statusClass(status int) string {
	switch {
	case status < 200:
		return "1xx"
	case status < 300:
		return "2xx"
	case status < 400:
		return "3xx"
	case status < 500:
		return "4xx"
	default:
		return "5xx"
	}
}

// Generation is what a story's generation came to, for the model series.
type Generation struct {
	Model        string        // the model that wrote it
	Outcome      StoryOutcome  // StoryCompleted, StoryFailed or StoryCancelled
	QueueWait    time.Duration // from the story's creation to its start
	FirstToken   time.Duration // from its start to the first token; 0 when none came
	Duration     time.Duration // from its start to its end
	InputTokens  int
	OutputTokens int
}

// ObserveGeneration observes g on the model series. The latency histograms
// carry the trace ID of ctx as their exemplar's trace_id, so that an
// operator goes from a slow bucket to its trace.
func (m *Metrics) ObserveGeneration(ctx context.Context, g Generation) {
	model := g.Model
	if !m.models[model] {
		model = otherModel
	}
	outcome := g.Outcome
	if outcome != StoryCompleted && outcome != StoryCancelled {
		outcome = StoryFailed
	}
	traceID := TraceIDFromContext(ctx)
	observe(m.storyQueueWait, g.QueueWait.Seconds(), traceID)
	observe(m.modelDuration.WithLabelValues(model, outcome), g.Duration.Seconds(), traceID)
	if g.FirstToken > 0 {
		observe(m.modelFirstToken.WithLabelValues(model, outcome), g.FirstToken.Seconds(), traceID)
		if streaming := g.Duration - g.FirstToken; streaming > 0 && g.OutputTokens > 0 {
			m.modelTokenRate.WithLabelValues(model, outcome).Observe(float64(g.OutputTokens) / streaming.Seconds())
		}
	}
	m.modelTokens.WithLabelValues(model, "input").Add(float64(max(g.InputTokens, 0)))
	m.modelTokens.WithLabelValues(model, "output").Add(float64(max(g.OutputTokens, 0)))
}

// observe observes v on o with an exemplar naming traceID, when there is
// one.
func observe(o prometheus.Observer, v float64, traceID string) {
	if eo, ok := o.(prometheus.ExemplarObserver); ok && traceID != "" {
		eo.ObserveWithExemplar(v, prometheus.Labels{"trace_id": traceID})
		return
	}
	o.Observe(v)
}
