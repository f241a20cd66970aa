package limits

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/storybot/storybot/internal/telemetry"
)

// DefaultMaxBodyBytes is the request body limit storybot recommends:
// far above the largest legitimate GraphQL request (a 4,000-character prompt,
// even as escaped JSON, plus its query) and far below what could strain the
// server.
const DefaultMaxBodyBytes = 256 << 10

// BodyLimit returns middleware that answers 413 Request Entity Too Large,
// with a GraphQL-style JSON error whose extensions.code is
// "BAD_USER_INPUT", to requests whose body is longer than maxBytes, without
// calling the next handler.
//
// A declared Content-Length over the limit is refused before anything is
// read. A body of unknown length (chunked, or HTTP/2 without
// Content-Length) is read first, up to the limit, so that the refusal can
// still be a 413: gqlgen's POST transport, which reads the whole body
// anyway, would otherwise report the failed read as an ordinary GraphQL
// error with status 200. A body that cannot be read at all gets 400.
//
// Request bodies are the only thing this bounds. The query string of a GET
// request and the headers are bounded by http.Server.MaxHeaderBytes (1 MiB
// unless set), and websocket messages by the websocket transport.
func BodyLimit(maxBytes int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.ContentLength > maxBytes:
				telemetry.WriteGraphQLError(w, r, http.StatusRequestEntityTooLarge, codeBadUserInput, tooLargeMessage(maxBytes))
				return
			case r.Body == nil || r.Body == http.NoBody || r.ContentLength >= 0:
				// The server stops a body at its declared length.
				next.ServeHTTP(w, r)
				return
			}
			var buf bytes.Buffer
			_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBytes))
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge):
				telemetry.WriteGraphQLError(w, r, http.StatusRequestEntityTooLarge, codeBadUserInput, tooLargeMessage(maxBytes))
				return
			case err != nil:
				telemetry.WriteGraphQLError(w, r, http.StatusBadRequest, codeBadUserInput, "the request body could not be read")
				return
			}
			r.Body = io.NopCloser(&buf)
			r.ContentLength = int64(buf.Len())
			next.ServeHTTP(w, r)
		})
	}
}

func tooLargeMessage(maxBytes int64) string {
	return "the request body is larger than the limit of " + strconv.FormatInt(maxBytes, 10) + " bytes"
}
