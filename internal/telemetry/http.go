package telemetry

import (
	"bufio"
	"net"
	"net/http"
	"time"
)

// InstrumentHTTP counts the requests next serves, and observes their
// duration, under the label handler=name. The name is chosen by the server
// (for example "graphql" or "metrics"), never taken from the request's path.
// Websocket upgrades are counted with status class 1xx and their duration is
// the connection's lifetime.
func (m *Metrics) InstrumentHTTP(name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			m.httpRequest(name, methodLabel(r.Method), sw.statusCode(), time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter records the status code of a response. It passes Flush and
// Hijack through, so that streaming (SSE) and websocket upgrades keep
// working, and Unwrap for http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	// Informational responses such as 103 Early Hints come before the
	// final status; 101 Switching Protocols is final.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends buffered data to the client, when the underlying writer can.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack lets the caller take over the connection, as a websocket upgrade
// does.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, rw, err
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}

func (w *statusWriter) statusCode() int {
	switch {
	case w.hijacked && (w.status == 0 || w.status == http.StatusSwitchingProtocols):
		return http.StatusSwitchingProtocols
	case w.status == 0:
		// A handler that writes nothing sends 200.
		return http.StatusOK
	default:
		return w.status
	}
}
