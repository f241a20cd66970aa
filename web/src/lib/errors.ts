import { CombinedGraphQLErrors, ServerError, ServerParseError } from '@apollo/client';

/** What a person needs to know about a failed request. */
export interface ErrorReport {
  /** A sentence for the toast. */
  message: string;
  /** The server's extensions.code (BAD_USER_INPUT, NOT_FOUND, RATE_LIMITED, INTERNAL), when known. */
  code?: string;
  /** The request's trace ID, to quote to support. */
  traceId?: string;
}

function stringField(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'string' && field !== '' ? field : undefined;
}

const byCode: Record<string, string> = {
  RATE_LIMITED: 'Too many requests just now. Wait a moment and try again.',
  INTERNAL: 'The server ran into a problem.',
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
  const message = (code && byCode[code]) || first?.message || 'The request failed.';
  return { message, code, traceId };
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
