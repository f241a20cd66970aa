package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/storybot/storybot/ent"
	"github.com/storybot/storybot/ent/privacy"
	"github.com/storybot/storybot/internal/auth"
	"github.com/storybot/storybot/internal/database"
	"github.com/storybot/storybot/internal/limits"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/story"
	"github.com/storybot/storybot/internal/storyopt"
	"github.com/storybot/storybot/internal/telemetry"
)

// Error codes in extensions.code, part of the public API contract.
const (
	CodeBadUserInput = "BAD_USER_INPUT"
	CodeNotFound     = "NOT_FOUND"
	CodeRateLimited  = "RATE_LIMITED"
	CodeInternal     = "INTERNAL"
	// CodeUnavailable says the server cannot take the request now (it is
	// shutting down, or its database is away); retrying elsewhere or later
	// may work.
	CodeUnavailable = "UNAVAILABLE"
	// CodeBadRequest says the HTTP request is not a GraphQL request
	// storybot takes: a body that is not JSON, a form, a mutation by GET.
	CodeBadRequest = "BAD_REQUEST"
	// CodeUnauthenticated says the request has no valid credentials.
	CodeUnauthenticated = "UNAUTHENTICATED"
	// CodeForbidden says the signed-in user may not do this (only admins
	// may, or the server does not allow it).
	CodeForbidden = "FORBIDDEN"
	// CodeQuotaExceeded says the user's quota (daily tokens, stories at
	// once) does not allow it now.
	CodeQuotaExceeded = "QUOTA_EXCEEDED"
)

// codes gqlgen and entgql set themselves and clients may see as they are.
var passThroughCodes = map[string]string{
	"GRAPHQL_PARSE_FAILED":      "GRAPHQL_PARSE_FAILED",
	"GRAPHQL_VALIDATION_FAILED": "GRAPHQL_VALIDATION_FAILED",
	"PERSISTED_QUERY_NOT_FOUND": "PERSISTED_QUERY_NOT_FOUND",
	"COMPLEXITY_LIMIT_EXCEEDED": "COMPLEXITY_LIMIT_EXCEEDED",
	"INVALID_PAGINATION":        CodeBadUserInput,
	CodeBadUserInput:            CodeBadUserInput,
	CodeNotFound:                CodeNotFound,
	CodeRateLimited:             CodeRateLimited,
	CodeInternal:                CodeInternal,
	CodeUnavailable:             CodeUnavailable,
	CodeUnauthenticated:         CodeUnauthenticated,
	CodeBadRequest:              CodeBadRequest,
	CodeForbidden:               CodeForbidden,
	CodeQuotaExceeded:           CodeQuotaExceeded,
}

// userError is an error whose message is meant for the client, with its code.
type userError struct {
	code string
	msg  string
}

func (e *userError) Error() string { return e.msg }

// badInput returns a BAD_USER_INPUT error with a formatted message.
func badInput(format string, args ...any) error {
	return &userError{code: CodeBadUserInput, msg: fmt.Sprintf(format, args...)}
}

// ErrorPresenter maps every error a resolver returns to a GraphQL error with
// extensions.code. Domain errors keep their message; anything unexpected
// becomes INTERNAL with a generic message (never SQL text or a stack) and is
// logged in full.
func ErrorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var rle *limits.RateLimitError
		if errors.As(err, &rle) {
			e := rle.GraphQLError()
			e.Path = gqlErr.Path
			return e
		}
		code, msg := classify(err)
		if isUnknownEnumValue(gqlErr) {
			code = CodeBadUserInput
		}
		if code == "" && isArgumentError(ctx, gqlErr) {
			code, msg = CodeBadUserInput, fmt.Sprintf("invalid %s: %v", gqlErr.Path[len(gqlErr.Path)-1], innermost(err))
		}
		if code == "" {
			// An error from gqlgen or entgql that carries no code and wraps
			// nothing: its message is about the request itself.
			switch {
			case strings.HasPrefix(gqlErr.Message, "json request body could not be decoded"):
				// gqlgen's message quotes the whole body back.
				code, msg = CodeBadRequest, "the request body is not a GraphQL request in JSON"
			case gqlErr.Err == nil:
				code, msg = codeOf(gqlErr), gqlErr.Message
			default:
				code, msg = CodeInternal, "internal error"
				logger.ErrorContext(ctx, "resolver failed",
					slog.String("storybot.graphql.path", gqlErr.Path.String()), telemetry.Error(err))
			}
		}
		gqlErr.Message = msg
		gqlErr.Err = nil
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		gqlErr.Extensions["code"] = code
		return gqlErr
	}
}

// classify returns the code and message of a known domain error, or "".
func classify(err error) (code, msg string) {
	// The message is the domain error's own, without the location and
	// path that gqlgen's wrappers put in front of it.
	text := innermost(err).Error()
	var (
		ue *userError
		ve *ent.ValidationError
		ce *ent.ConstraintError
		nf *ent.NotFoundError
		ge *gqlerror.Error
	)
	switch {
	case errors.As(err, &ue):
		return ue.code, ue.msg
	case errors.Is(err, story.ErrNotFound), errors.Is(err, auth.ErrNotFound):
		return CodeNotFound, text
	case errors.Is(err, auth.ErrUnauthenticated):
		return CodeUnauthenticated, text
	case errors.Is(err, auth.ErrForbidden):
		return CodeForbidden, text
	case errors.Is(err, story.ErrQuotaExceeded):
		return CodeQuotaExceeded, text
	case errors.Is(err, auth.ErrInvalidInput):
		return CodeBadUserInput, text
	case errors.Is(err, privacy.Deny):
		// A policy refused a write the resolvers should have kept from
		// happening: say no without saying why.
		return CodeForbidden, "forbidden"
	case errors.Is(err, story.ErrFinished), errors.Is(err, story.ErrInvalidInput), errors.Is(err, storyopt.ErrInvalid):
		return CodeBadUserInput, text
	case errors.Is(err, story.ErrShuttingDown), errors.Is(err, story.ErrBusy):
		return CodeUnavailable, text
	case database.IsUnavailable(err):
		return CodeUnavailable, "the database is unavailable; try again shortly"
	case errors.As(err, &ve):
		return CodeBadUserInput, fmt.Sprintf("invalid %s: %v", ve.Name, rootCause(ve))
	case errors.Is(err, pulid.ErrInvalid):
		return CodeBadUserInput, innermost(err).Error()
	case errors.As(err, &nf):
		return CodeNotFound, strings.TrimPrefix(nf.Error(), "ent: ")
	case errors.As(err, &ce):
		return CodeBadUserInput, "the change conflicts with existing data"
	case errors.As(err, &ge) && ge.Extensions["code"] != nil:
		return codeOf(ge), ge.Message
	}
	return "", ""
}

// isUnknownEnumValue reports whether e is gqlparser's answer to a variable
// holding a value its enum does not have ("ELDERS is not a valid
// Audience"): an option the client chose badly, like a bad language tag,
// rather than a document that cannot run.
func isUnknownEnumValue(e *gqlerror.Error) bool {
	return len(e.Path) > 0 && e.Path[0] == ast.PathName("variable") && strings.Contains(e.Message, " is not a valid ")
}

// isArgumentError reports whether e arose while decoding an argument of the
// current field: its path is the field's path and then the argument's name.
// Argument values come from the client, so such an error is about its input.
func isArgumentError(ctx context.Context, e *gqlerror.Error) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || len(e.Path) == 0 {
		return false
	}
	name, ok := e.Path[len(e.Path)-1].(ast.PathName)
	if !ok || len(e.Path) != len(fc.Path())+1 {
		return false
	}
	return fc.Field.Arguments.ForName(string(name)) != nil
}

// innermost returns the error that err wraps, after the wrappers that gqlgen
// adds on its way out (which repeat the path in the message).
func innermost(err error) error {
	var ge *gqlerror.Error
	for errors.As(err, &ge) && ge.Err != nil {
		err = ge.Err
	}
	return err
}

// rootCause returns the innermost error of a chain of single wraps.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// codeOf returns the code an error set by gqlgen or entgql should show.
func codeOf(e *gqlerror.Error) string {
	if c, ok := e.Extensions["code"].(string); ok {
		if mapped, known := passThroughCodes[c]; known {
			return mapped
		}
	}
	return CodeBadUserInput
}

// RecoverFunc turns a panic in a resolver into an INTERNAL error and logs it
// with its stack; the process keeps serving.
func RecoverFunc(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, v any) error {
		logger.ErrorContext(ctx, "resolver panicked",
			telemetry.Panic(v, debug.Stack()))
		return &userError{code: CodeInternal, msg: "internal error"}
	}
}
