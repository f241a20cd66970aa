// Package limits protects storybot from abusive or merely enthusiastic
// clients: it identifies the client behind a request (ClientIP), limits how
// often each client may start costly work (RateLimiter), caps how much of that
// work runs at once server-wide (Gate), bounds the shape and cost of GraphQL
// operations (QueryLimits, ConnectionComplexity) and bounds request bodies
// (BodyLimit).
//
// Nothing here starts a goroutine: idle rate-limit entries are swept by the
// calls that use the limiter, so there is nothing to close.
package limits
