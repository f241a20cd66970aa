import { CombinedGraphQLErrors, ServerError, ServerParseError } from '@apollo/client';
import { describe, expect, it } from 'vitest';
import { describeError, withoutLocation } from './errors';

function response(status: number, headers: Record<string, string> = {}) {
  return new Response(null, { status, headers });
}

function graphqlErrors(message: string, extensions: Record<string, unknown>, path?: Array<string | number>) {
  return new CombinedGraphQLErrors({
    data: null,
    errors: [{ message, extensions, ...(path ? { path } : {}) }],
    extensions: { traceId: 'trace-1' },
  });
}

describe('describeError', () => {
  it('reads the code and the response trace ID of GraphQL errors', () => {
    const error = new CombinedGraphQLErrors({
      data: null,
      errors: [{ message: 'prompt not found', extensions: { code: 'NOT_FOUND' } }],
      extensions: { traceId: 'abc123' },
    });
    expect(describeError(error)).toEqual({
      message: 'This prompt no longer exists: it may have been deleted, perhaps in another tab.',
      code: 'NOT_FOUND',
      traceId: 'abc123',
    });
  });

  it('falls back to a trace ID carried by an error itself, and names it in an INTERNAL error', () => {
    const error = new CombinedGraphQLErrors({ errors: [{ message: 'boom', extensions: { code: 'INTERNAL', traceId: 'from-error' } }] });
    expect(describeError(error)).toEqual({
      message: 'The server ran into a problem. If it keeps happening, report it with trace ID from-error.',
      code: 'INTERNAL',
      traceId: 'from-error',
    });
  });

  it.each([
    ['NOT_FOUND', 'story not found', {}, 'This story no longer exists: it may have been deleted, perhaps in another tab.'],
    ['NOT_FOUND', 'no such thing', {}, 'It no longer exists: it may have been deleted, perhaps in another tab.'],
    ['RATE_LIMITED', 'rate limit exceeded: try again in 30 seconds', { retryAfter: 30 }, 'Too many requests just now. Try again in 30 seconds.'],
    ['RATE_LIMITED', 'rate limited', {}, 'Too many requests just now. Try again in a moment.'],
    ['UNAVAILABLE', 'the database is unavailable; try again shortly', {}, 'storybot is busy or restarting just now. Try again in a moment.'],
    ['QUOTA_EXCEEDED', 'daily token limit reached', {}, "You have reached your usage limit. Your account menu shows today's usage."],
    ['UNAUTHENTICATED', 'sign in', {}, 'You are not signed in (any more). Sign in again.'],
    ['FORBIDDEN', 'forbidden', {}, 'Your account is not allowed to do that.'],
    ['BAD_USER_INPUT', 'invalid content: must be at most 4000 characters, got 4001', {}, 'Invalid content: must be at most 4000 characters, got 4001.'],
    ['INTERNAL', 'internal error', {}, 'The server ran into a problem. If it keeps happening, report it with trace ID trace-1.'],
    ['GRAPHQL_VALIDATION_FAILED', 'Cannot query field "nope" on type "Query".', {}, 'Cannot query field "nope" on type "Query".'],
  ])('explains %s (%s) in a sentence a reader understands', (code, message, extensions, sentence) => {
    expect(describeError(graphqlErrors(message, { code, ...extensions })).message).toBe(sentence);
  });

  it('keeps the seconds of a rate limit', () => {
    const timed = graphqlErrors('rate limited', { code: 'RATE_LIMITED', retryAfter: 12.2 });
    expect(describeError(timed)).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 13, message: 'Too many requests just now. Try again in 13 seconds.' });
  });

  it('never shows gqlgen\'s "input:LINE:COL: path" prefix', () => {
    const prefixed = graphqlErrors('input:2:3: generateStory prompt not found', { code: 'NOT_FOUND' }, ['generateStory']);
    expect(describeError(prefixed).message).not.toMatch(/input:|generateStory/);
    const input = graphqlErrors('input:1:21: createPrompt.input.content must not be empty', { code: 'BAD_USER_INPUT' }, ['createPrompt', 'input', 'content']);
    expect(describeError(input).message).toBe('Must not be empty.');
    const noCode = graphqlErrors('input: something odd', {});
    expect(describeError(noCode).message).toBe('Something odd.');
  });

  it('reads a non-2xx GraphQL response body, with the header as the fallback trace ID', () => {
    const body = JSON.stringify({ errors: [{ message: 'Unexpected <EOF>', extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] });
    const error = new ServerError('bad request', { response: response(400, { 'X-Trace-Id': 'hdr-1' }), bodyText: body });
    expect(describeError(error)).toEqual({ message: 'Unexpected <EOF>.', code: 'GRAPHQL_PARSE_FAILED', traceId: 'hdr-1' });
  });

  it('names the header trace ID in an INTERNAL error of a non-2xx response', () => {
    const body = JSON.stringify({ errors: [{ message: 'internal error', extensions: { code: 'INTERNAL' } }] });
    const error = new ServerError('oops', { response: response(500, { 'X-Trace-Id': 'hdr-9' }), bodyText: body });
    expect(describeError(error)).toMatchObject({ code: 'INTERNAL', traceId: 'hdr-9', message: expect.stringContaining('trace ID hdr-9') });
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

describe('withoutLocation', () => {
  it('strips the location, and the path when the error names it, and nothing else', () => {
    expect(withoutLocation('input:2:3: generateStory prompt not found', ['generateStory'])).toBe('prompt not found');
    expect(withoutLocation('input:1:2: a.b[0].c bad', ['a', 'b', 0, 'c'])).toBe('bad');
    expect(withoutLocation('input:1:2: prompt not found')).toBe('prompt not found');
    expect(withoutLocation('prompt not found', ['generateStory'])).toBe('prompt not found');
    expect(withoutLocation('inputs are fine')).toBe('inputs are fine');
  });
});
