// Package telemetry gives storybot its trace IDs, Prometheus metrics and
// JSON logs, as HTTP middleware and a gqlgen handler extension rather than
// calls spread through resolvers.
//
// Trace IDs: TraceMiddleware gives each HTTP request a trace ID (a valid
// X-Trace-Id header, else the trace-id of a valid W3C traceparent, else a
// new one), puts it in the request's context and in the X-Trace-Id response
// header. On websockets, GraphQLExtension.WebsocketInit names the connection
// and every operation on it gets an ID of its own, logged with the
// connection's.
//
// Metrics: NewMetrics builds every collector on a private registry;
// Metrics.Handler serves it. GraphQLExtension records GraphQL operations,
// errors, resolver field timings and the websocket and subscription gauges;
// Metrics.InstrumentHTTP records HTTP requests; the story service calls
// StoryStarted, StoryFinished, TokensStreamed and FirstToken.
//
// Logs: NewLogger writes JSON lines in the Elastic Common Schema layout to
// stdout, and optionally to Logstash over TCP and to a rotated file.
//
// Wiring, outermost first:
//
//	metrics := telemetry.NewMetrics(telemetry.MetricsOptions{})
//	logger, closeLogs, err := telemetry.NewLogger(cfg, os.Stdout, metrics)
//	ext := telemetry.NewGraphQLExtension(metrics, logger)
//	srv := handler.New(schema)
//	srv.AddTransport(transport.Websocket{InitFunc: ext.WebsocketInit, CloseFunc: ext.WebsocketClose})
//	srv.Use(ext)
//	mux.Handle("/graphql", telemetry.TraceMiddleware(metrics.InstrumentHTTP("graphql", srv)))
//	mux.Handle("/metrics", metrics.Handler())
//	// at shutdown, after the last log line:
//	closeLogs(ctx)
package telemetry
