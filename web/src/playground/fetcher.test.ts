import { parse } from 'graphql';
import type { Client, ClientOptions, SubscribePayload, Sink } from 'graphql-ws';
import { describe, expect, it, vi } from 'vitest';
import { authorizationOf, createPlaygroundFetcher } from './fetcher';

function fakeWs() {
  const made: ClientOptions[] = [];
  const subscribed: Array<{ client: number; query: string }> = [];
  const makeWsClient = (options: ClientOptions): Client => {
    const index = made.push(options) - 1;
    return {
      subscribe(payload: SubscribePayload, sink: Sink) {
        subscribed.push({ client: index, query: payload.query });
        setTimeout(() => {
          sink.next({ data: { storyStream: { seq: 1 } } });
          sink.complete();
        }, 0);
        return () => {};
      },
      iterate: vi.fn(),
      on: vi.fn(),
      dispose: vi.fn(),
      terminate: vi.fn(),
    } as unknown as Client;
  };
  return { made, subscribed, makeWsClient };
}

const subscription = 'subscription Follow { storyStream(storyID: "s-1") { seq } }';

// The events of a fetcher's answer: one result, or those of an async iterable.
async function drain(result: unknown) {
  const answer = await result;
  if (!(typeof answer === 'object' && answer !== null && Symbol.asyncIterator in answer)) return [answer];
  const events: unknown[] = [];
  for await (const event of answer as AsyncIterable<unknown>) events.push(event);
  return events;
}

describe('the playground fetcher', () => {
  it('finds the Authorization header whatever its case', () => {
    expect(authorizationOf({ Authorization: 'Bearer sbt_1' })).toBe('Bearer sbt_1');
    expect(authorizationOf({ authorization: ' Bearer sbt_2 ' })).toBe('Bearer sbt_2');
    expect(authorizationOf({ 'X-Other': 'x' })).toBeUndefined();
    expect(authorizationOf({ Authorization: '' })).toBeUndefined();
    expect(authorizationOf(undefined)).toBeUndefined();
  });

  it('sends a pasted token in the websocket connection_init payload', async () => {
    const ws = fakeWs();
    const fetcher = createPlaygroundFetcher({ http: 'http://h/graphql', ws: 'ws://h/graphql', makeWsClient: ws.makeWsClient });
    const opts = { headers: { Authorization: 'Bearer sbt_secret' }, documentAST: parse(subscription) };

    const events = await drain(fetcher({ query: subscription, operationName: 'Follow' }, opts));

    expect(events).toEqual([{ data: { storyStream: { seq: 1 } } }]);
    expect(ws.made).toHaveLength(1);
    expect(ws.made[0]).toMatchObject({ url: 'ws://h/graphql', connectionParams: { authorization: 'Bearer sbt_secret' } });
  });

  it('opens a socket per credential, and one without any when no header is set', async () => {
    const ws = fakeWs();
    const fetcher = createPlaygroundFetcher({ http: 'http://h/graphql', ws: 'ws://h/graphql', makeWsClient: ws.makeWsClient });
    const run = (headers?: Record<string, string>) => drain(fetcher({ query: subscription, operationName: 'Follow' }, { headers, documentAST: parse(subscription) }));

    await run();
    await run({ Authorization: 'Bearer a' });
    await run({ authorization: 'Bearer a' });
    await run({ Authorization: 'Bearer b' });

    expect(ws.made.map((o) => o.connectionParams)).toEqual([undefined, { authorization: 'Bearer a' }, { authorization: 'Bearer b' }]);
    expect(ws.subscribed.map((s) => s.client)).toEqual([0, 1, 1, 2]);
  });

  it('sends queries over HTTP with the editor headers', async () => {
    const ws = fakeWs();
    const fetchImpl = vi.fn(async () => new Response(JSON.stringify({ data: { viewer: null } }), { headers: { 'Content-Type': 'application/json' } }));
    const fetcher = createPlaygroundFetcher({ http: 'http://h/graphql', ws: 'ws://h/graphql', makeWsClient: ws.makeWsClient, fetch: fetchImpl });
    const query = 'query Me { viewer { id } }';

    const events = await drain(fetcher({ query, operationName: 'Me' }, { headers: { Authorization: 'Bearer sbt_x' }, documentAST: parse(query) }));

    expect(events).toEqual([{ data: { viewer: null } }]);
    const [url, init] = fetchImpl.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('http://h/graphql');
    expect(init.headers).toMatchObject({ Authorization: 'Bearer sbt_x' });
    expect(ws.subscribed).toEqual([]);
  });
});
