// Package telemetry gives storybot its OpenTelemetry traces and trace IDs,
// Prometheus metrics and JSON logs, as HTTP middleware and gqlgen handler
// extensions rather than calls spread through resolvers.
//
// Traces and trace IDs: NewTracing reads the OTEL_* variables; without an
// endpoint it is off and costs nothing. Tracing.Middleware (TraceMiddleware
// when off) gives each HTTP request its trace context: a valid W3C
// traceparent's, else a W3C X-Trace-Id's trace ID, else a new one; puts it
// in the request's context, the X-Trace-Id response header and the logs
// (trace.id, span.id), and with tracing on makes the request a span.
// GraphQLSpans makes spans of operations and resolver fields; Start makes
// the others' with the tracing that the context carries. On websockets,
// GraphQLExtension.WebsocketInit names the connection and every operation
// on it gets a trace of its own, logged with the connection's ID.
//
// Metrics: NewMetrics builds every collector on a private registry;
// Metrics.Handler serves it. GraphQLExtension records GraphQL operations,
// errors, resolver field timings and the websocket and subscription gauges;
// Metrics.InstrumentHTTP records HTTP requests; the story service calls
// StoryStarted, StoryFinished, TokensStreamed, FirstToken and
// ObserveGeneration (the model series, with trace_id exemplars).
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
//	tracing, err := telemetry.NewTracing(ctx, telemetry.TracingConfigFromEnv(os.Getenv), version)
//	srv.Use(telemetry.GraphQLSpans{Tracing: tracing}) // when tracing.Enabled()
//	mux.Handle("/graphql", metrics.InstrumentHTTP("graphql", srv))
//	handler := tracing.Middleware(mux)
//	mux.Handle("/metrics", metrics.Handler())
//	// at shutdown: the last spans, then the last log line
//	tracing.Shutdown(ctx)
//	closeLogs(ctx)
package telemetry
