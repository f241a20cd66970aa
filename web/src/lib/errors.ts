import { CombinedGraphQLErrors, ServerError, ServerParseError } from '@apollo/client';

/** What a person needs to know about a failed request. */
export interface ErrorReport {
  /** A sentence for a reader: a toast, or an inline error. */
  message: string;
  /** The server's extensions.code (BAD_USER_INPUT, NOT_FOUND, RATE_LIMITED, INTERNAL, …), when known. */
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

// gqlgen's gqlerror.Error.Error() writes "input:LINE:COL: PATH MESSAGE". The server no longer
// puts that into messages, but an older one (or another GraphQL server) may: the location goes,
// and so does the path when the error names it, since both mean nothing to a reader.
const locationPrefix = /^input(?::\d+:\d+)?:\s*/;

function pathString(path: unknown): string {
  if (!Array.isArray(path)) return '';
  return path.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), '');
}

/** A server message without gqlgen's "input:1:2: field.path " prefix. */
export function withoutLocation(message: string, path?: unknown): string {
  if (!locationPrefix.test(message)) return message;
  let rest = message.replace(locationPrefix, '');
  const where = pathString(path);
  if (where && rest.startsWith(`${where} `)) rest = rest.slice(where.length + 1);
  return rest;
}

/** A server message as a sentence: a capital first letter and a full stop. */
function asSentence(message: string): string {
  const trimmed = message.trim();
  if (!trimmed) return trimmed;
  const capital = trimmed[0]!.toUpperCase() + trimmed.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

// "prompt not found" → "prompt": what the server says is gone, when it says so plainly.
function missingThing(message: string): string | undefined {
  return /^(prompt|story|user|api token|token|shared story)\b.*\bnot found\b/i.exec(message.trim())?.[1]?.toLowerCase();
}

interface Details {
  message: string;
  retryAfter?: number;
  traceId?: string;
}

// A sentence a reader understands, for each code the server sends. BAD_USER_INPUT, and codes this
// app does not know, keep the server's own message: it is written for people.
const byCode: Record<string, (details: Details) => string> = {
  NOT_FOUND: ({ message }) => {
    const thing = missingThing(message);
    return thing
      ? `This ${thing} no longer exists: it may have been deleted, perhaps in another tab.`
      : 'It no longer exists: it may have been deleted, perhaps in another tab.';
  },
  RATE_LIMITED: ({ retryAfter }) => `Too many requests just now. Try again ${retryIn(retryAfter)}.`,
  UNAVAILABLE: () => 'storybot is busy or restarting just now. Try again in a moment.',
  QUOTA_EXCEEDED: () => "You have reached your usage limit. Your account menu shows today's usage.",
  UNAUTHENTICATED: () => 'You are not signed in (any more). Sign in again.',
  FORBIDDEN: () => 'Your account is not allowed to do that.',
  BAD_USER_INPUT: ({ message }) => asSentence(message) || 'The server did not accept what was sent.',
  INTERNAL: ({ traceId }) =>
    traceId
      ? `The server ran into a problem. If it keeps happening, report it with trace ID ${traceId}.`
      : 'The server ran into a problem. If it keeps happening, report it.',
};

function fromErrors(
  errors: ReadonlyArray<{ message: string; path?: unknown; extensions?: unknown }>,
  responseExtensions: unknown,
): ErrorReport {
  const first = errors[0];
  const code = stringField(first?.extensions, 'code');
  const traceId =
    stringField(responseExtensions, 'traceId') ??
    errors.map((e) => stringField(e.extensions, 'traceId')).find((id) => id !== undefined);
  const retryAfter = secondsField(first?.extensions, 'retryAfter');
  const serverMessage = withoutLocation(first?.message ?? '', first?.path);
  const explain = code ? byCode[code] : undefined;
  const message = explain?.({ message: serverMessage, retryAfter, traceId }) || asSentence(serverMessage) || 'The request failed.';
  const report: ErrorReport = { message };
  if (code) report.code = code;
  if (traceId) report.traceId = traceId;
  if (retryAfter) report.retryAfter = retryAfter;
  return report;
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
      if (report.traceId || !header) return report;
      // The trace ID came in the header alone: INTERNAL's sentence names it too.
      return report.code === 'INTERNAL' ? { ...report, traceId: header, message: byCode.INTERNAL!({ message: '', traceId: header }) } : { ...report, traceId: header };
    }
    const report: ErrorReport = { message: `The server answered with status ${error.statusCode}.` };
    if (header) report.traceId = header;
    return report;
  }
  if (error instanceof TypeError) {
    return { message: 'Could not reach the server. Check your connection and try again.' };
  }
  if (error instanceof Error && error.message) {
    return { message: error.message };
  }
  return { message: 'Something went wrong.' };
}
