package subscription

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Defaults of SSE's settings.
const DefaultSSEKeepAlive = 10 * time.Second

// SSE is a graphql.Transport for graphql-sse's distinct connections mode,
// as gqlgen's SSE transport: a POST of a GraphQL request as JSON with
// Accept: text/event-stream runs one operation and streams each result as
// a "next" event, then a "complete" event. Its subscriptions to stories
// form cohorts as the websocket ones do.
type SSE struct {
	// KeepAlive is how often an idle stream gets a comment line
	// (DefaultSSEKeepAlive when zero).
	KeepAlive time.Duration
	// WriteTimeout bounds every write (DefaultWriteTimeout when zero).
	WriteTimeout time.Duration

	once    sync.Once
	cohorts *cohorts
}

var _ graphql.Transport = (*SSE)(nil)

func (t *SSE) init() {
	t.once.Do(func() {
		t.cohorts = newCohorts()
		if t.KeepAlive <= 0 {
			t.KeepAlive = DefaultSSEKeepAlive
		}
		if t.WriteTimeout <= 0 {
			t.WriteTimeout = DefaultWriteTimeout
		}
	})
}

// Supports implements graphql.Transport.
func (t *SSE) Supports(r *http.Request) bool {
	if r.Method != http.MethodPost || !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mediaType == "application/json"
}

// Do implements graphql.Transport.
func (t *SSE) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.init()
	start := graphql.Now()
	params := &graphql.RawParams{}
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = decodeParams(body, params)
	}
	if err != nil {
		resp := exec.DispatchError(r.Context(), gqlerror.List{gqlerror.Errorf("the request body is not a GraphQL request in JSON")})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(resp)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	s := &sseStream{w: w, rc: http.NewResponseController(w), wake: make(chan struct{}, 1)}
	op := newOperation(graphql.StartOperationTrace(r.Context()), "", s)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies: do not hold events back
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, ":\n\n"); err != nil || s.rc.Flush() != nil {
		return
	}
	opCtx, errs := exec.CreateOperationContext(op.ctx, params)
	if errs != nil {
		op.fail(exec.DispatchError(graphql.WithOperationContext(op.ctx, opCtx), errs))
	} else {
		runOperation(exec, t.cohorts, op, opCtx, params, r.Context())
	}
	s.loop(op, t.KeepAlive, t.WriteTimeout)
}

// sseStream is the sink of one SSE response.
type sseStream struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	out  outbox
	wake chan struct{} // capacity 1: something was queued, or the operation ended

	mu    sync.Mutex
	ended bool
}

var _ sink = (*sseStream)(nil)

func (s *sseStream) framing() framing { return sseFraming }

func (s *sseStream) queue(f frame) bool {
	if !s.out.push(f) {
		return false
	}
	s.poke()
	return true
}

func (s *sseStream) finished(*operation) {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.poke()
}

func (s *sseStream) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// loop writes what op queues until it has ended, the client has gone or a
// write fails.
func (s *sseStream) loop(op *operation, keepAlive, writeTimeout time.Duration) {
	ping := time.NewTicker(keepAlive)
	defer ping.Stop()
	var batch []frame
	for {
		s.mu.Lock()
		ended := s.ended
		s.mu.Unlock()
		batch = s.out.take(batch)
		if len(batch) > 0 {
			_ = s.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
			for i := range batch {
				for _, p := range batch[i].parts {
					if _, err := s.w.Write(p); err != nil {
						op.stop()
						return
					}
				}
				if batch[i].op != nil {
					batch[i].op.written()
				}
			}
			if s.rc.Flush() != nil {
				op.stop()
				return
			}
			clear(batch)
			ping.Reset(keepAlive)
			continue
		}
		if ended {
			return
		}
		select {
		case <-s.wake:
		case <-ping.C:
			_ = s.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := io.WriteString(s.w, ": ping\n\n"); err != nil || s.rc.Flush() != nil {
				op.stop()
				return
			}
		case <-op.ctx.Done():
			s.mu.Lock()
			ended := s.ended
			s.mu.Unlock()
			if !ended { // the client went away
				op.stop()
				return
			}
		}
	}
}
