package llm

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/storybot/storybot/internal/telemetry"
)

// Defaults of [OpenAIConfig], used where a field is left at its zero value.
const (
	// DefaultBaseURL is OpenAI's own API.
	DefaultBaseURL = "https://api.openai.com/v1"
	// DefaultConnectTimeout bounds opening a connection to the server.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultFirstTokenTimeout leaves room for a local server to load its
	// model before it writes anything.
	DefaultFirstTokenTimeout = 2 * time.Minute
	// DefaultIdleTimeout bounds the gap between chunks of a flowing stream.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultOpenAIMaxTokens bounds a story of a few pages.
	DefaultOpenAIMaxTokens = 1024
	// DefaultSystemPrompt asks for a story and nothing else: no title, no
	// preamble, no closing remarks, since the text is shown as it streams.
	DefaultSystemPrompt = "You are a storyteller. Write an original short story inspired by the user's prompt, " +
		"in vivid, plain prose of a few paragraphs. Write only the story itself: " +
		"no title, no headings, no notes before or after it."
)

// maxErrorBody caps how much of an HTTP error answer is read for its message.
const maxErrorBody = 64 << 10

// OpenAIConfig configures an [OpenAI] generator. Only Model is required.
type OpenAIConfig struct {
	// BaseURL is the API root of any server that speaks OpenAI's Chat
	// Completions, with its version path: "https://api.openai.com/v1",
	// Ollama's "http://localhost:11434/v1", a vLLM, llama.cpp or LM Studio
	// server's ".../v1". Default DefaultBaseURL.
	BaseURL string
	// APIKey is sent as a bearer token when set. Local servers usually need
	// none. It never appears in an error message.
	APIKey string
	// Model is the model asked for when a request names none.
	Model string
	// SystemPrompt is the system message sent before the user's prompt.
	// Default DefaultSystemPrompt.
	SystemPrompt string
	// MaxTokens bounds a story when a request does not. Default
	// DefaultOpenAIMaxTokens; negative sends no bound, leaving it to the
	// server.
	MaxTokens int
	// MaxCompletionTokens sends the bound as max_completion_tokens instead
	// of max_tokens. OpenAI's reasoning models require it; many local
	// servers know only max_tokens.
	MaxCompletionTokens bool
	// Temperature is used when a request sets none; nil leaves it to the
	// server.
	Temperature *float64
	// StreamUsage asks the server to end the stream with a usage chunk
	// (stream_options.include_usage). Some servers reject the option, so it
	// is sent only when set.
	StreamUsage bool
	// ConnectTimeout bounds the time to open a connection to the server.
	// Default DefaultConnectTimeout; negative means no limit.
	ConnectTimeout time.Duration
	// FirstTokenTimeout bounds the time from connecting to the first piece
	// of story text, which covers a local server loading its model and
	// reading the prompt. Default DefaultFirstTokenTimeout; negative means
	// no limit.
	FirstTokenTimeout time.Duration
	// IdleTimeout bounds the gap between two chunks once text is flowing.
	// Default DefaultIdleTimeout; negative means no limit.
	IdleTimeout time.Duration
	// ContextTokens is the model's context window, which bounds how much of
	// a story is sent back to be continued. Default DefaultContextTokens.
	ContextTokens int
	// HTTPClient sends the requests. Leave its Timeout at zero: a story
	// streams for longer than any sensible whole-request limit, and the
	// time-outs above already bound each phase. Default: a client of its
	// own with the settings of http.DefaultTransport.
	HTTPClient *http.Client
}

// OpenAI generates stories with a model server that speaks OpenAI's Chat
// Completions streaming API. It is safe for concurrent use.
type OpenAI struct {
	cfg    OpenAIConfig
	host   string // the server's host:port, for messages
	client *http.Client
	chat   openai.ChatCompletionService

	errConnectTimeout    error
	errFirstTokenTimeout error
	errIdleTimeout       error
}

var (
	_ Generator = (*OpenAI)(nil)
	_ Titler    = (*OpenAI)(nil)
)

// NewOpenAI returns a generator for the server that cfg describes. It makes
// no request; a server that cannot be reached shows up on the first
// Generate as ErrUnavailable.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	cfg.BaseURL = cmp.Or(strings.TrimSpace(cfg.BaseURL), DefaultBaseURL)
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		// The parser's message would repeat the URL, and with it any
		// password it holds.
		return nil, fmt.Errorf("%w: the base URL cannot be parsed", ErrInvalidConfig)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: base URL %q is not an http or https URL", ErrInvalidConfig, u.Redacted())
	}
	cfg.Model = strings.TrimSpace(cfg.Model)
	if cfg.Model == "" {
		return nil, fmt.Errorf("%w: no model given", ErrInvalidConfig)
	}
	if cfg.Temperature != nil && !(*cfg.Temperature >= 0) {
		return nil, fmt.Errorf("%w: temperature %v is not zero or more", ErrInvalidConfig, *cfg.Temperature)
	}
	cfg.SystemPrompt = cmp.Or(cfg.SystemPrompt, DefaultSystemPrompt)
	cfg.MaxTokens = cmp.Or(cfg.MaxTokens, DefaultOpenAIMaxTokens)
	cfg.ConnectTimeout = cmp.Or(cfg.ConnectTimeout, DefaultConnectTimeout)
	cfg.FirstTokenTimeout = cmp.Or(cfg.FirstTokenTimeout, DefaultFirstTokenTimeout)
	cfg.IdleTimeout = cmp.Or(cfg.IdleTimeout, DefaultIdleTimeout)
	cfg.ContextTokens = cmp.Or(cfg.ContextTokens, DefaultContextTokens)

	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{}
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			client.Transport = t.Clone()
		}
	}

	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithHTTPClient(client),
		// A retry would send the whole story again: the story service
		// decides whether to try again, not the client.
		option.WithMaxRetries(0),
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}

	o := &OpenAI{
		cfg:    cfg,
		host:   u.Host,
		client: client,
		// The service is built without openai.NewClient, which would also
		// pick up OPENAI_API_KEY and friends from the environment and send
		// them to whatever server BaseURL names.
		chat: openai.NewChatCompletionService(opts...),
	}
	o.errConnectTimeout = withAlso(
		fmt.Errorf("%w: could not connect to %s within %s", ErrTimeout, o.host, cfg.ConnectTimeout),
		ErrUnavailable)
	o.errFirstTokenTimeout = fmt.Errorf("%w: no text from the model within %s", ErrTimeout, cfg.FirstTokenTimeout)
	o.errIdleTimeout = fmt.Errorf("%w: the stream stalled for more than %s", ErrTimeout, cfg.IdleTimeout)
	return o, nil
}

// Model returns the model asked for when a request names none.
func (o *OpenAI) Model() string { return o.cfg.Model }

// CloseIdleConnections closes the connections kept open for later
// requests. Call it when the generator is no longer needed.
func (o *OpenAI) CloseIdleConnections() { o.client.CloseIdleConnections() }

// Generate streams a story from the model server. It emits each chunk's text
// as it arrives and reports the model, finish reason and usage the server
// sent. A stream that ends without a finish reason is an ErrProvider, since
// the story may be cut short.
func (o *OpenAI) Generate(ctx context.Context, req Request, emit func(delta string)) (Result, error) {
	model := cmp.Or(req.Model, o.cfg.Model)
	return o.stream(ctx, o.params(req, model), req.TraceID, emit)
}

// Title asks the model for a title of story, the text written for req: a
// small request of its own, whose usage the result reports (storybot's
// estimate when the server reports none).
func (o *OpenAI) Title(ctx context.Context, req Request, story string) (string, Result, error) {
	var b strings.Builder
	params, promptTokens := o.titleParams(req, story, cmp.Or(req.Model, o.cfg.Model))
	res, err := o.stream(ctx, params, req.TraceID, func(delta string) { b.WriteString(delta) })
	if res.PromptTokens == 0 && res.CompletionTokens == 0 {
		res.PromptTokens, res.CompletionTokens = promptTokens, estimateTokens(b.String())
	}
	if err != nil {
		return "", res, err
	}
	title := cleanTitle(b.String())
	if title == "" {
		return "", res, fmt.Errorf("%w: the model gave no title", ErrProvider)
	}
	return title, res, nil
}

// stream sends params and emits the answer's text as it arrives, in a
// client span that follows OpenTelemetry's GenAI conventions when the
// context carries tracing.
func (o *OpenAI) stream(ctx context.Context, params openai.ChatCompletionNewParams, traceID string, emit func(delta string)) (Result, error) {
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameChat, semconv.GenAIProviderNameOpenAI, genAISystemOpenAI,
		semconv.GenAIRequestModel(params.Model), semconv.ServerAddress(o.host),
	}
	if params.MaxTokens.Valid() {
		attrs = append(attrs, semconv.GenAIRequestMaxTokens(int(params.MaxTokens.Value)))
	} else if params.MaxCompletionTokens.Valid() {
		attrs = append(attrs, semconv.GenAIRequestMaxTokens(int(params.MaxCompletionTokens.Value)))
	}
	ctx, span := telemetry.Start(ctx, "chat "+params.Model, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	res, err := o.send(ctx, params, traceID, emit)
	if span.IsRecording() {
		span.SetAttributes(semconv.GenAIResponseModel(res.Model),
			semconv.GenAIUsageInputTokens(res.PromptTokens), semconv.GenAIUsageOutputTokens(res.CompletionTokens))
		if res.FinishReason != "" {
			span.SetAttributes(semconv.GenAIResponseFinishReasons(res.FinishReason))
		}
		if err != nil {
			span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
		}
	}
	telemetry.EndSpan(span, err)
	return res, err
}

// genAISystemOpenAI is gen_ai.system, the name that gen_ai.provider.name
// replaced in the conventions; tracing back ends of 2025 still group by it.
var genAISystemOpenAI = attribute.String("gen_ai.system", "openai")

// errorType names err's kind for the span's error.type.
func errorType(err error) string {
	switch {
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrProvider):
		return "provider"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "_OTHER"
}

// send sends params and emits the answer's text as it arrives.
func (o *OpenAI) send(ctx context.Context, params openai.ChatCompletionNewParams, traceID string, emit func(delta string)) (Result, error) {
	res := Result{Model: params.Model}
	if ctx.Err() != nil {
		return res, canceled(ctx)
	}

	genCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wd := newWatchdog(cancel)
	defer wd.stop()

	wd.arm(o.cfg.ConnectTimeout, o.errConnectTimeout)
	var connected atomic.Bool
	onConnected := func() {
		if connected.CompareAndSwap(false, true) {
			wd.arm(o.cfg.FirstTokenTimeout, o.errFirstTokenTimeout)
		}
	}
	genCtx = httptrace.WithClientTrace(genCtx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { onConnected() },
	})

	var call callRecord
	opts := []option.RequestOption{option.WithMiddleware(call.middleware(onConnected))}
	if traceID != "" {
		opts = append(opts, option.WithHeader("X-Trace-Id", traceID))
	}

	stream, err := o.openStream(genCtx, params, opts)
	if err != nil {
		return res, o.classify(ctx, genCtx, &call, err)
	}
	defer stream.close()

	streaming := false
	for stream.next() {
		chunk := &stream.cur
		if streaming {
			wd.arm(o.cfg.IdleTimeout, o.errIdleTimeout)
		}
		// vLLM reports some failures as a chunk of its own error shape
		// instead of OpenAI's {"error": {...}}.
		if chunk.Object == "error" {
			return res, o.streamReportedError(stream.data)
		}
		if chunk.Model != "" {
			res.Model = chunk.Model
		}
		if chunk.Usage != nil {
			res.PromptTokens = chunk.Usage.PromptTokens
			res.CompletionTokens = chunk.Usage.CompletionTokens
		}
		for _, choice := range chunk.Choices {
			if choice.Index != 0 {
				continue
			}
			if text := choice.Delta.Content + choice.Delta.Refusal; text != "" {
				if !streaming {
					streaming = true
					wd.arm(o.cfg.IdleTimeout, o.errIdleTimeout)
				}
				if emit != nil {
					emit(text)
				}
			}
			if choice.FinishReason != "" {
				res.FinishReason = choice.FinishReason
			}
		}
	}
	if err := stream.err; err != nil {
		return res, o.classify(ctx, genCtx, &call, err)
	}
	if res.FinishReason == "" {
		return res, fmt.Errorf("%w: the stream ended before the model finished", ErrProvider)
	}
	return res, nil
}

// openStream sends the request that the client's NewStreaming would, and
// returns the answer's chunks, which the caller closes. It does not use
// NewStreaming itself: openai-go's reflective decoding of every field of
// every chunk cost more CPU than the rest of the server together, so
// [chunkStream] decodes only the fields Generate reads.
func (o *OpenAI) openStream(ctx context.Context, params openai.ChatCompletionNewParams, opts []option.RequestOption) (*chunkStream, error) {
	var resp *http.Response
	opts = append(opts,
		option.WithJSONSet("stream", true),
		// With a **http.Response as its destination, the client leaves the
		// body unread.
		option.WithResponseBodyInto(&resp))
	if _, err := o.chat.New(ctx, params, opts...); err != nil {
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		return nil, err
	}
	if resp.Body == nil {
		// Only a middleware could leave no body; read it as an empty stream.
		resp.Body = http.NoBody
	}
	return &chunkStream{events: ssestream.NewDecoder(resp)}, nil
}

// params builds the Chat Completions request for req: the one place where
// what a model is asked is decided (see request.go).
func (o *OpenAI) params(req Request, model string) openai.ChatCompletionNewParams {
	limit := cmp.Or(max(req.MaxTokens, 0), o.cfg.MaxTokens)
	p := openai.ChatCompletionNewParams{Model: model, Messages: o.messages(req, limit)}
	if limit > 0 {
		o.setLimit(&p, limit)
	}
	if t := cmp.Or(req.Temperature, o.cfg.Temperature); t != nil {
		p.Temperature = openai.Float(*t)
	}
	if req.Seed != 0 {
		p.Seed = openai.Int(req.Seed)
	}
	if o.cfg.StreamUsage {
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	}
	return p
}

// callRecord remembers what the HTTP exchange of one Generate looked like,
// for telling its errors apart. The client calls the middleware on the
// goroutine of Generate.
type callRecord struct {
	responded bool   // an HTTP response arrived
	status    int    // its status when it was 400 or more, else 0
	errorBody []byte // the start of its body when it was an error
}

func (c *callRecord) middleware(onResponse func()) option.Middleware {
	return func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		resp, err := next(req)
		if resp == nil {
			return resp, err
		}
		c.responded = true
		onResponse()
		if resp.StatusCode >= http.StatusBadRequest && resp.Body != nil {
			// Keep a copy of the body: the client parses only OpenAI's error
			// shape, and loses the message of Ollama's, vLLM's or a proxy's.
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
			_ = resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(body))
			c.status, c.errorBody = resp.StatusCode, body
		}
		return resp, err
	}
}

// classify turns the error that ended a stream into one of the package's
// errors. ctx is the caller's context and genCtx the generation's own, which
// the watchdog cancels with a time-out as its cause.
func (o *OpenAI) classify(ctx, genCtx context.Context, call *callRecord, err error) error {
	if ctx.Err() != nil {
		return canceled(ctx)
	}
	if genCtx.Err() != nil {
		if cause := context.Cause(genCtx); errors.Is(cause, ErrTimeout) {
			return cause
		}
	}
	if call.status != 0 {
		return o.httpError(call.status, call.errorBody, err)
	}
	if se, ok := errors.AsType[*ssestream.StreamError](err); ok {
		return o.streamReportedError(se.Event.Data)
	}
	if !call.responded {
		return o.unreachable(err)
	}
	if _, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Errorf("%w: the server sent a chunk that is not valid JSON: %w", ErrProvider, err)
	}
	return fmt.Errorf("%w: the stream broke off: %w", ErrProvider, err)
}

// httpError describes an HTTP error answer, with the server's own message.
func (o *OpenAI) httpError(status int, body []byte, sdkErr error) error {
	text := fmt.Sprintf("HTTP %d", status)
	if st := http.StatusText(status); st != "" {
		text += " " + st
	}
	if msg := o.redact(serverMessage(body)); msg != "" {
		text += ": " + msg
	}
	also := []error{}
	if status == http.StatusTooManyRequests {
		also = append(also, ErrRateLimited)
	}
	if apiErr, ok := errors.AsType[*openai.Error](sdkErr); ok {
		also = append(also, apiErr)
	}
	return withAlso(fmt.Errorf("%w: the server answered %s", ErrProvider, text), also...)
}

// streamReportedError describes an error object sent in place of a chunk.
func (o *OpenAI) streamReportedError(data []byte) error {
	if msg := o.redact(serverMessage(data)); msg != "" {
		return fmt.Errorf("%w: the stream reported an error: %s", ErrProvider, msg)
	}
	return fmt.Errorf("%w: the stream reported an error", ErrProvider)
}

// unreachable describes a request that got no answer at all.
func (o *OpenAI) unreachable(err error) error {
	// The URL error repeats the whole URL; the network error under it says
	// what went wrong ("connect: connection refused", "lookup x: no such host").
	reason := err
	if ue, ok := errors.AsType[*url.Error](err); ok {
		reason = ue.Err
	}
	if oe, ok := errors.AsType[*net.OpError](reason); ok && oe.Err != nil {
		reason = oe.Err
	}
	return fmt.Errorf("%w: cannot connect to %s: %w", ErrUnavailable, o.host, reason)
}

// redact removes the API key from text that came from the server.
func (o *OpenAI) redact(text string) string {
	if o.cfg.APIKey == "" {
		return text
	}
	return strings.ReplaceAll(text, o.cfg.APIKey, "[redacted]")
}
