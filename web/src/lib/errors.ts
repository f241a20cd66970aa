import { CombinedGraphQLErrors, ServerError, ServerParseError } from '@apollo/client';

/** What a person needs to know about a failed request. */
export interface ErrorReport {
  /** A sentence for the toast. */
  message: string;
  /** The server's extensions.code (BAD_USER_INPUT, NOT_FOUND, RATE_LIMITED, INTERNAL), when known. */
  code?: string;
  /** The request's trace ID, to quote to support. */
  traceId?: string;
  /** Seconds to wait before trying again (extensions.retryAfter of RATE_LIMITED). */
  retryAfter?: number;
}

function stringField(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'string' && field !== '' ? field : undefined;
}

function secondsField(value: unknown, key: string): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field = Number((value as Record<string, unknown>)[key]);
  return Number.isFinite(field) && field > 0 ? Math.ceil(field) : undefined;
}

/** "in 1 second", "in 30 seconds", or "in a moment" when the server did not say. */
export function retryIn(seconds: number | undefined): string {
  if (!seconds) return 'in a moment';
  return seconds === 1 ? 'in 1 second' : `in ${seconds} seconds`;
}

// Plainer words for the codes whose server message is not meant for people.
const byCode: Record<string, (retryAfter: number | undefined) => string> = {
  RATE_LIMITED: (retryAfter) => `Too many requests just now. Try again ${retryIn(retryAfter)}.`,
  INTERNAL: () => 'The server ran into a problem.',
  UNAUTHENTICATED: () => 'You are not signed in (any more). Sign in again.',
  QUOTA_EXCEEDED: () => "You have reached your usage limit. Your account menu shows today's usage.",
};

function fromErrors(
  errors: ReadonlyArray<{ message: string; extensions?: unknown }>,
  responseExtensions: unknown,
): ErrorReport {
  const first = errors[0];
  const code = stringField(first?.extensions, 'code');
  const traceId =
    stringField(responseExtensions, 'traceId') ??
    errors.map((e) => stringField(e.extensions, 'traceId')).find((id) => id !== undefined);
  const retryAfter = secondsField(first?.extensions, 'retryAfter');
  const message = (code && byCode[code]?.(retryAfter)) || first?.message || 'The request failed.';
  return { message, code, traceId, retryAfter };
}

function parseBody(bodyText: string): unknown {
  try {
    return JSON.parse(bodyText);
  } catch {
    return undefined;
  }
}

/** Turns anything Apollo Client throws into a message, an error code and a trace ID. */
export function describeError(error: unknown): ErrorReport {
  if (CombinedGraphQLErrors.is(error)) {
    return fromErrors(error.errors, error.extensions);
  }
  if (ServerError.is(error) || ServerParseError.is(error)) {
    const header = error.response.headers.get('X-Trace-Id') ?? undefined;
    const body = parseBody(error.bodyText) as { errors?: unknown; extensions?: unknown } | undefined;
    if (body && Array.isArray(body.errors) && body.errors.length > 0) {
      const report = fromErrors(body.errors as Array<{ message: string; extensions?: unknown }>, body.extensions);
      return { ...report, traceId: report.traceId ?? header };
    }
    return { message: `The server answered with status ${error.statusCode}.`, traceId: header };
  }
  if (error instanceof TypeError) {
    return { message: 'Could not reach the server. Check your connection and try again.' };
  }
  if (error instanceof Error && error.message) {
    return { message: error.message };
  }
  return { message: 'Something went wrong.' };
}
