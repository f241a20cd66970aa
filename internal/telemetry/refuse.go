package telemetry

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// WriteGraphQLError answers r, refused before any GraphQL ran (a body too
// large, a transport or credentials refused), as a GraphQL response with
// one error: message, extensions.code and the request's trace ID, in the
// error and in the response's extensions. The message must be storybot's
// own, never an echo of the request.
func WriteGraphQLError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	id := TraceIDFromContext(r.Context())
	body, err := json.Marshal(map[string]any{
		"errors":     []map[string]any{{"message": message, "extensions": map[string]string{"code": code, TraceIDExtension: id}}},
		"extensions": map[string]string{TraceIDExtension: id},
	})
	if err != nil {
		panic(err) // maps of strings always marshal
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
