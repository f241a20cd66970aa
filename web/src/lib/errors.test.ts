import { CombinedGraphQLErrors, ServerError, ServerParseError } from '@apollo/client';
import { describe, expect, it } from 'vitest';
import { describeError } from './errors';

function response(status: number, headers: Record<string, string> = {}) {
  return new Response(null, { status, headers });
}

describe('describeError', () => {
  it('reads the code and the response trace ID of GraphQL errors', () => {
    const error = new CombinedGraphQLErrors({
      data: null,
      errors: [{ message: 'prompt not found', extensions: { code: 'NOT_FOUND' } }],
      extensions: { traceId: 'abc123' },
    });
    expect(describeError(error)).toEqual({ message: 'prompt not found', code: 'NOT_FOUND', traceId: 'abc123' });
  });

  it('falls back to a trace ID carried by an error itself', () => {
    const error = new CombinedGraphQLErrors({ errors: [{ message: 'boom', extensions: { code: 'INTERNAL', traceId: 'from-error' } }] });
    expect(describeError(error)).toEqual({ message: 'The server ran into a problem.', code: 'INTERNAL', traceId: 'from-error' });
  });

  it('explains rate limiting in plain words, with the wait the server asks for', () => {
    const error = new CombinedGraphQLErrors({ errors: [{ message: 'rate limited', extensions: { code: 'RATE_LIMITED' } }] });
    expect(describeError(error).message).toBe('Too many requests just now. Try again in a moment.');
    const timed = new CombinedGraphQLErrors({ errors: [{ message: 'rate limited', extensions: { code: 'RATE_LIMITED', retryAfter: 12.2 } }] });
    expect(describeError(timed)).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 13, message: 'Too many requests just now. Try again in 13 seconds.' });
  });

  it('explains a spent quota and an ended session', () => {
    const quota = new CombinedGraphQLErrors({ errors: [{ message: 'daily token limit reached', extensions: { code: 'QUOTA_EXCEEDED' } }] });
    expect(describeError(quota).message).toMatch(/reached your usage limit/);
    const signedOut = new CombinedGraphQLErrors({ errors: [{ message: 'sign in', extensions: { code: 'UNAUTHENTICATED' } }] });
    expect(describeError(signedOut).message).toMatch(/Sign in again/);
  });

  it('reads a non-2xx GraphQL response body, with the header as the fallback trace ID', () => {
    const body = JSON.stringify({ errors: [{ message: 'Unexpected <EOF>', extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] });
    const error = new ServerError('bad request', { response: response(400, { 'X-Trace-Id': 'hdr-1' }), bodyText: body });
    expect(describeError(error)).toEqual({ message: 'Unexpected <EOF>', code: 'GRAPHQL_PARSE_FAILED', traceId: 'hdr-1' });
  });

  it('prefers the body trace ID over the header', () => {
    const body = JSON.stringify({ errors: [{ message: 'slow down', extensions: { code: 'RATE_LIMITED' } }], extensions: { traceId: 'body-1' } });
    const error = new ServerError('too many', { response: response(429, { 'X-Trace-Id': 'hdr-2' }), bodyText: body });
    expect(describeError(error)).toMatchObject({ code: 'RATE_LIMITED', traceId: 'body-1' });
  });

  it('names the status of a response that is not GraphQL', () => {
    const error = new ServerParseError(new Error('not json'), { response: response(502, { 'X-Trace-Id': 'hdr-3' }), bodyText: '<html>' });
    expect(describeError(error)).toEqual({ message: 'The server answered with status 502.', traceId: 'hdr-3' });
  });

  it('says the server could not be reached when fetch fails', () => {
    expect(describeError(new TypeError('Failed to fetch')).message).toMatch(/Could not reach the server/);
  });

  it('keeps the message of any other error', () => {
    expect(describeError(new Error('Socket closed with event 4403 Forbidden'))).toEqual({ message: 'Socket closed with event 4403 Forbidden' });
    expect(describeError('weird')).toEqual({ message: 'Something went wrong.' });
  });
});
