import type { ApolloLink } from '@apollo/client';
import { act, screen, waitFor } from '@testing-library/react';
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StoryViewer } from '../components/StoryViewer';
import { createApi } from '../graphql/client';
import { ConnectionDroppedError } from '../graphql/drops';
import { LiveStatusContext } from '../graphql/live';
import { STORY } from '../graphql/operations';
import { SharedStoryPage } from '../share/SharedStoryPage';
import { fakeWebSockets } from '../test/fakeSocket';
import { fakeServer, graphqlError, renderWithApi, story, streamEvent } from '../test/harness';

afterEach(() => {
  vi.unstubAllGlobals();
});

const text = () => screen.getByTestId('story-text').textContent ?? '';

// Every text the story shows, as the page renders it, to check that it only ever grows.
function recordText(): string[] {
  const seen = [text()];
  const observer = new MutationObserver(() => {
    if (text() !== seen.at(-1)) seen.push(text());
  });
  observer.observe(screen.getByTestId('story-text'), { subtree: true, childList: true, characterData: true });
  return seen;
}

const onlyGrows = (seen: string[]) => seen.every((t, i) => i === 0 || t.startsWith(seen[i - 1]!));

// A fake server whose every StoryStream subscription gets a Subject of its own, for the test to
// push events through or end.
function streams(answers: Record<string, () => ApolloLink.Result>) {
  const subscriptions: Array<Subject<ApolloLink.Result>> = [];
  const server = fakeServer((op) => {
    if (op.operationName === 'StoryStream') {
      const events = new Subject<ApolloLink.Result>();
      subscriptions.push(events);
      return events;
    }
    const answer = answers[op.operationName];
    return answer ? answer() : new Error(`unexpected ${op.operationName}`);
  });
  const variables = () => server.named('StoryStream').map((op) => op.variables);
  return { server, subscriptions, variables };
}

describe('following a story across a dropped connection', () => {
  it('goes on after the last cursor shown, over the real websocket client, with no restart, nothing twice and nothing missing', async () => {
    const { WebSocket, sockets } = fakeWebSockets();
    vi.stubGlobal('WebSocket', WebSocket);
    const finished = story('s-1', 'p-1', { status: 'COMPLETED', text: 'Once upon a time.', tokenCount: 4, finishedAt: '2025-01-02T10:06:00Z' });
    vi.stubGlobal('fetch', async (_url: string, init: { body: string }) => {
      const { operationName } = JSON.parse(init.body) as { operationName: string };
      const data = operationName === 'Story' ? { node: finished } : { viewer: null };
      return new Response(JSON.stringify({ data }), { headers: { 'Content-Type': 'application/json' } });
    });
    const { client, live } = createApi({ http: 'http://storybot.test/graphql', ws: 'ws://storybot.test/graphql' });
    client.writeQuery({ query: STORY, variables: { id: 's-1' }, data: { node: story('s-1', 'p-1') as never } });
    renderWithApi(
      <LiveStatusContext.Provider value={live}>
        <StoryViewer storyId="s-1" />
      </LiveStatusContext.Provider>,
      client,
    );

    await waitFor(() => expect(sockets[0]?.subscribes()).toHaveLength(1));
    expect(sockets[0]!.subscribes()[0]?.payload?.variables).toEqual({ storyID: 's-1' });
    const seen = recordText();
    act(() => {
      sockets[0]!.next(streamEvent('s-1', 1, 'Once', 'GENERATING', 1, null, 'c1'));
      sockets[0]!.next(streamEvent('s-1', 2, ' upon', 'GENERATING', 2, null, 'c2'));
    });
    await waitFor(() => expect(text()).toBe('Once upon'));

    act(() => sockets[0]!.drop());
    expect(await screen.findByText(/Connection lost. Reconnecting/)).toBeInTheDocument();
    expect(text()).toBe('Once upon');

    // One subscription on the new socket, after the last cursor shown; none from the beginning.
    await waitFor(() => expect(sockets[1]?.subscribes()).toHaveLength(1), { timeout: 2_000 });
    expect(sockets[1]!.subscribes()[0]?.payload?.variables).toEqual({ storyID: 's-1', after: 'c2' });
    act(() => {
      sockets[1]!.next(streamEvent('s-1', 1, ' a', 'GENERATING', 3, null, 'c3'));
      sockets[1]!.next(streamEvent('s-1', 2, ' time.', 'COMPLETED', 4, null, 'c4'));
      sockets[1]!.complete();
    });
    await waitFor(() => expect(text()).toBe('Once upon a time.'));
    expect(await screen.findByText('Completed')).toBeInTheDocument();
    expect(onlyGrows(seen)).toBe(true);
    expect(seen).toEqual(['', 'Once upon', 'Once upon a time.']);
    expect(sockets.flatMap((s) => s.subscribes())).toHaveLength(2);
  });

  it('resumes the owner\'s story after the cursor of the last event applied, whenever it drops', async () => {
    const { server, subscriptions, variables } = streams({ Story: () => ({ data: { node: story('s-2', 'p-1') } }) });
    renderWithApi(<StoryViewer storyId="s-2" />, server.client);
    await waitFor(() => expect(subscriptions).toHaveLength(1));
    const seen = recordText();

    act(() => {
      subscriptions[0]!.next(streamEvent('s-2', 1, 'The sea', 'GENERATING', 2, null, 'a'));
      subscriptions[0]!.next(streamEvent('s-2', 2, ' was calm', 'GENERATING', 4, null, 'b'));
      subscriptions[0]!.error(new ConnectionDroppedError(1012));
    });
    await waitFor(() => expect(subscriptions).toHaveLength(2));
    // Dropped again before anything new arrived: the same cursor.
    act(() => subscriptions[1]!.error(new ConnectionDroppedError(1006)));
    await waitFor(() => expect(subscriptions).toHaveLength(3));
    act(() => {
      subscriptions[2]!.next(streamEvent('s-2', 1, '', 'GENERATING', 4, null, 'b'));
      subscriptions[2]!.next(streamEvent('s-2', 2, ' that night', 'GENERATING', 6, null, 'c'));
      subscriptions[2]!.error(new ConnectionDroppedError(1012));
    });
    await waitFor(() => expect(subscriptions).toHaveLength(4));
    act(() => subscriptions[3]!.next(streamEvent('s-2', 1, '.', 'GENERATING', 7, null, 'd')));
    await waitFor(() => expect(text()).toBe('The sea was calm that night.'));

    expect(variables()).toEqual([{ storyID: 's-2' }, { storyID: 's-2', after: 'b' }, { storyID: 's-2', after: 'b' }, { storyID: 's-2', after: 'c' }]);
    expect(onlyGrows(seen)).toBe(true);
    expect(screen.queryByText(/Live updates stopped/)).not.toBeInTheDocument();
  });

  it('resumes a shared story with its share token', async () => {
    const shared = { ...story('s-3', 'p-1', { shareToken: 'sh_3' }), prompt: { __typename: 'Prompt' as const, id: 'p-1', content: 'Tides' } };
    const { server, subscriptions, variables } = streams({ SharedStory: () => ({ data: { sharedStory: shared } }) });
    renderWithApi(<SharedStoryPage token="sh_3" />, server.client);
    await waitFor(() => expect(subscriptions).toHaveLength(1));
    act(() => {
      subscriptions[0]!.next(streamEvent('s-3', 1, 'High', 'GENERATING', 1, null, 'x1'));
      subscriptions[0]!.error(new ConnectionDroppedError(1012));
    });
    await waitFor(() => expect(subscriptions).toHaveLength(2));
    act(() => subscriptions[1]!.next(streamEvent('s-3', 1, ' tide', 'GENERATING', 2, null, 'x2')));
    await waitFor(() => expect(text()).toBe('High tide'));
    expect(variables()).toEqual([{ storyID: 's-3', shareToken: 'sh_3' }, { storyID: 's-3', after: 'x1', shareToken: 'sh_3' }]);
  });

  it('starts from the beginning, replacing the text, when the server refuses the cursor', async () => {
    const { server, subscriptions, variables } = streams({ Story: () => ({ data: { node: story('s-4', 'p-1') } }) });
    renderWithApi(<StoryViewer storyId="s-4" />, server.client);
    await waitFor(() => expect(subscriptions).toHaveLength(1));
    act(() => {
      subscriptions[0]!.next(streamEvent('s-4', 1, 'Once', 'GENERATING', 1, null, 'k1'));
      subscriptions[0]!.error(new ConnectionDroppedError(1012));
    });
    await waitFor(() => expect(subscriptions).toHaveLength(2));
    act(() => subscriptions[1]!.next(graphqlError('BAD_USER_INPUT', 'malformed cursor')));
    await waitFor(() => expect(subscriptions).toHaveLength(3));
    // The text stays until the new first event, which holds all of it.
    expect(text()).toBe('Once');
    act(() => subscriptions[2]!.next(streamEvent('s-4', 1, 'Once upon', 'GENERATING', 2, null, 'k2')));
    await waitFor(() => expect(text()).toBe('Once upon'));
    expect(variables()).toEqual([{ storyID: 's-4' }, { storyID: 's-4', after: 'k1' }, { storyID: 's-4' }]);

    // BAD_USER_INPUT of a subscription from the beginning is not about a cursor: it stops.
    act(() => subscriptions[2]!.next(graphqlError('BAD_USER_INPUT', 'no such story')));
    expect(await screen.findByText(/Live updates stopped: No such story/)).toBeInTheDocument();
    expect(subscriptions).toHaveLength(3);
  });

  it('tries again after the last cursor, after a pause, when the server is briefly unavailable or the stream ends early', async () => {
    const { server, subscriptions, variables } = streams({ Story: () => ({ data: { node: story('s-5', 'p-1') } }) });
    renderWithApi(<StoryViewer storyId="s-5" />, server.client);
    await waitFor(() => expect(subscriptions).toHaveLength(1));
    act(() => {
      subscriptions[0]!.next(streamEvent('s-5', 1, 'Fog', 'GENERATING', 1, null, 'f1'));
      subscriptions[0]!.next(graphqlError('UNAVAILABLE', 'busy'));
    });
    await waitFor(() => expect(subscriptions).toHaveLength(2), { timeout: 2_000 });
    act(() => {
      subscriptions[1]!.next(streamEvent('s-5', 1, ' lifted', 'GENERATING', 2, null, 'f2'));
      subscriptions[1]!.complete();
    });
    await waitFor(() => expect(subscriptions).toHaveLength(3), { timeout: 3_000 });
    act(() => subscriptions[2]!.next(streamEvent('s-5', 1, '.', 'COMPLETED', 3, null, 'f3')));
    await waitFor(() => expect(text()).toBe('Fog lifted.'));
    expect(variables()).toEqual([{ storyID: 's-5' }, { storyID: 's-5', after: 'f1' }, { storyID: 's-5', after: 'f2' }]);
    expect(screen.queryByText(/Live updates stopped/)).not.toBeInTheDocument();
  });
});
