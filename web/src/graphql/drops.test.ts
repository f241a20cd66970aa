import { ApolloClient, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeWebSockets } from '../test/fakeSocket';
import { streamEvent } from '../test/harness';
import { createWsClient } from './client';
import { ConnectionDroppedError, RESUMABLE, endOnDrop } from './drops';
import { STORY_STREAM } from './operations';

// These tests run the real graphql-ws client, configured as the app configures it, over fake
// sockets: they pin the behaviour of graphql-ws that endOnDrop works around (after a reconnect it
// sends a subscription again with the variables it started with) and fail the day it changes.

function setup() {
  const fake = fakeWebSockets();
  vi.stubGlobal('WebSocket', fake.WebSocket);
  const ws = createWsClient('ws://storybot.test/graphql');
  const client = new ApolloClient({ link: endOnDrop(ws).concat(new GraphQLWsLink(ws)), cache: new InMemoryCache() });
  const follow = (variables: { storyID: string; after?: string }, resumable = true) => {
    const results: Array<{ data?: unknown; error?: unknown }> = [];
    let completed = false;
    const subscription = client
      .subscribe({ query: STORY_STREAM, variables, fetchPolicy: 'no-cache', context: resumable ? RESUMABLE : {} })
      .subscribe({ next: (r) => results.push(r), complete: () => (completed = true) });
    return { results, subscription, completed: () => completed };
  };
  return { ...fake, ws, follow };
}

// The subscribe messages sent on the nth socket.
const subscribesOn = (sockets: ReturnType<typeof fakeWebSockets>['sockets'], n: number) => sockets[n]?.subscribes() ?? [];

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('endOnDrop', () => {
  it('ends a resumable subscription with ConnectionDroppedError when its socket drops after a result, and nothing stale goes out again', async () => {
    const { sockets, follow, ws } = setup();
    const first = follow({ storyID: 's-1' });
    await waitFor(() => expect(subscribesOn(sockets, 0)).toHaveLength(1));
    sockets[0]!.next(streamEvent('s-1', 1, 'Once', 'GENERATING', 1, null, 'c1'));
    await waitFor(() => expect(first.results).toHaveLength(1));

    sockets[0]!.drop();
    await waitFor(() => expect(first.completed()).toBe(true));
    const error = first.results[1]?.error;
    expect(error).toBeInstanceOf(ConnectionDroppedError);
    expect((error as ConnectionDroppedError).closeCode).toBe(1012);

    // Its owner subscribes again, after the cursor it got to: that is all the new socket carries.
    const second = follow({ storyID: 's-1', after: 'c1' });
    await waitFor(() => expect(subscribesOn(sockets, 1)).toHaveLength(1), { timeout: 2_000 });
    expect(subscribesOn(sockets, 1)[0]?.payload?.variables).toEqual({ storyID: 's-1', after: 'c1' });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(subscribesOn(sockets, 1)).toHaveLength(1);
    expect(sockets).toHaveLength(2);

    sockets[1]!.next(streamEvent('s-1', 1, ' upon', 'GENERATING', 2, null, 'c2'));
    await waitFor(() => expect(second.results).toEqual([{ data: { storyStream: expect.objectContaining({ delta: ' upon', cursor: 'c2' }) } }]));
    second.subscription.unsubscribe();
    await ws.dispose();
  });

  it('leaves a drop before the first result to graphql-ws, which subscribes again with the same variables', async () => {
    const { sockets, follow, ws } = setup();
    const resumed = follow({ storyID: 's-1', after: 'c7' });
    await waitFor(() => expect(subscribesOn(sockets, 0)).toHaveLength(1));
    sockets[0]!.drop();
    await waitFor(() => expect(subscribesOn(sockets, 1)).toHaveLength(1), { timeout: 2_000 });
    expect(subscribesOn(sockets, 1)[0]?.payload?.variables).toEqual({ storyID: 's-1', after: 'c7' });
    sockets[1]!.next(streamEvent('s-1', 1, ' and then', 'GENERATING', 8, null, 'c8'));
    await waitFor(() => expect(resumed.results).toHaveLength(1));
    expect(resumed.results[0]?.error).toBeUndefined();
    expect(resumed.completed()).toBe(false);
    resumed.subscription.unsubscribe();
    await ws.dispose();
  });

  it('leaves other subscriptions alone: graphql-ws sends them again with the variables they started with', async () => {
    const { sockets, follow, ws } = setup();
    const plain = follow({ storyID: 's-1' }, false);
    await waitFor(() => expect(subscribesOn(sockets, 0)).toHaveLength(1));
    sockets[0]!.next(streamEvent('s-1', 1, 'Once', 'GENERATING', 1, null, 'c1'));
    await waitFor(() => expect(plain.results).toHaveLength(1));
    sockets[0]!.drop();
    await waitFor(() => expect(subscribesOn(sockets, 1)).toHaveLength(1), { timeout: 2_000 });
    expect(subscribesOn(sockets, 1)[0]?.payload?.variables).toEqual({ storyID: 's-1' });
    expect(plain.completed()).toBe(false);
    plain.subscription.unsubscribe();
    await ws.dispose();
  });
});
