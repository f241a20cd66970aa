import type { ApolloLink } from '@apollo/client';
import { act, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, PROMPT_WITH_STORIES, STORY } from '../graphql/operations';
import { connection, fakeServer, graphqlError, nodeAs, prompt, renderWithApi, story, streamEvent } from '../test/harness';
import { StoryViewer } from './StoryViewer';

function setup(initial: ReturnType<typeof story>, extra: Record<string, (vars: Record<string, unknown>) => ApolloLink.Result> = {}) {
  const events = new Subject<ApolloLink.Result>();
  let current = initial;
  const server = fakeServer((op) => {
    if (op.operationName === 'StoryStream') return events;
    if (op.operationName === 'Story') return { data: { node: current } };
    const answer = extra[op.operationName];
    return answer ? answer(op.variables) : new Error(`unexpected ${op.operationName}`);
  });
  const view = renderWithApi(<StoryViewer storyId={initial.id} />, server.client);
  return {
    ...view,
    server,
    events,
    setServerStory(next: ReturnType<typeof story>) {
      current = next;
    },
  };
}

const text = () => screen.getByTestId('story-text');

describe('StoryViewer', () => {
  it('applies every stream event, even several delivered in one tick', async () => {
    const { events, server, setServerStory } = setup(story('s-1', 'p-1'));
    await waitFor(() => expect(server.named('StoryStream')).toHaveLength(1));
    expect(server.named('StoryStream')[0]?.variables).toEqual({ storyID: 's-1' });
    expect(screen.getByText('Waiting for the first words…')).toBeInTheDocument();

    act(() => {
      events.next(streamEvent('s-1', 1, 'Once'));
      events.next(streamEvent('s-1', 2, ' upon'));
      events.next(streamEvent('s-1', 3, ' a'));
      events.next(streamEvent('s-1', 4, ' time'));
    });
    await waitFor(() => expect(text().textContent).toBe('Once upon a time'));
    await waitFor(() => expect(screen.getByTestId('token-count')).toHaveTextContent('4 tokens'));

    // The server has stored the finished story by the time it sends the last event.
    setServerStory(story('s-1', 'p-1', { status: 'COMPLETED', text: 'Once upon a time,\n\nthere was a story.', tokenCount: 8, finishedAt: '2025-01-02T10:06:00Z' }));
    act(() => {
      events.next(streamEvent('s-1', 5, ',\n\nthere was', 'GENERATING', 6));
      events.next(streamEvent('s-1', 6, ' a story.', 'COMPLETED', 8));
    });
    await waitFor(() => expect(text().textContent).toBe('Once upon a time,\n\nthere was a story.'));
    expect(await screen.findByText('Completed')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Cancel' })).not.toBeInTheDocument();

    // The cache holds the finished story, so lists and a reopened viewer agree with the stream.
    const cached = server.client.readQuery({ query: STORY, variables: { id: 's-1' } });
    expect(cached?.node).toMatchObject({ status: 'COMPLETED', tokenCount: 8, text: 'Once upon a time,\n\nthere was a story.' });
    // One read of the finished story brings the timestamps the stream does not carry.
    await screen.findByText(/Finished/);
    expect(server.named('Story')).toHaveLength(2);
  });

  it('takes the text from the first event again when graphql-ws sends the same subscription again (seq starts over)', async () => {
    const { events, server } = setup(story('s-2', 'p-1', { text: 'Once' }));
    await waitFor(() => expect(server.named('StoryStream')).toHaveLength(1));
    await waitFor(() => expect(text().textContent).toBe('Once'));

    act(() => {
      events.next(streamEvent('s-2', 1, 'Once'));
      events.next(streamEvent('s-2', 2, ' upon'));
      // The same subscription again, from the beginning: its first event carries all the text so far.
      events.next(streamEvent('s-2', 1, 'Once upon a'));
      events.next(streamEvent('s-2', 2, ' time'));
    });
    await waitFor(() => expect(text().textContent).toBe('Once upon a time'));
  });

  it('reopening a story being written resumes from all the text so far', async () => {
    const { events, server } = setup(story('s-3', 'p-1', { text: 'stale', tokenCount: 1 }));
    await waitFor(() => expect(server.named('StoryStream')).toHaveLength(1));
    act(() => events.next(streamEvent('s-3', 0, 'The sea was calm that night', 'GENERATING', 6)));
    await waitFor(() => expect(text().textContent).toBe('The sea was calm that night'));
    act(() => events.next(streamEvent('s-3', 1, ' and')));
    await waitFor(() => expect(text().textContent).toBe('The sea was calm that night and'));
  });

  it('follows the story again when a stream ends without a terminal event', async () => {
    const { events, server } = setup(story('s-7', 'p-1'));
    await waitFor(() => expect(server.named('StoryStream')).toHaveLength(1));
    act(() => {
      events.next(streamEvent('s-7', 0, 'Half', 'GENERATING', 1));
      events.complete();
    });
    await waitFor(() => expect(server.named('StoryStream')).toHaveLength(2), { timeout: 2_000 });
  });

  it('shows a finished story without subscribing', async () => {
    const { server } = setup(story('s-4', 'p-1', { status: 'FAILED', text: 'Half a', error: 'model server went away' }));
    expect(await screen.findByText('Failed')).toBeInTheDocument();
    await waitFor(() => expect(text().textContent).toBe('Half a'));
    expect(screen.getByText(/Generation failed: model server went away/)).toBeInTheDocument();
    expect(server.named('StoryStream')).toEqual([]);
  });

  it('cancels a story, keeps its text and confirms with a toast', async () => {
    const user = userEvent.setup();
    const { events, server } = setup(story('s-5', 'p-1'), {
      CancelStory: () => ({ data: { cancelStory: story('s-5', 'p-1', { status: 'CANCELLED', text: 'It began', tokenCount: 2 }) } }),
    });
    await waitFor(() => expect(server.named('StoryStream')).toHaveLength(1));
    act(() => events.next(streamEvent('s-5', 1, 'It began', 'GENERATING', 2)));

    await user.click(screen.getByRole('button', { name: 'Cancel story' }));

    expect(await screen.findByText('Story cancelled.', { selector: '.toast-message' })).toBeInTheDocument();
    expect(server.named('CancelStory')[0]?.variables).toEqual({ id: 's-5' });
    expect(screen.getByText('Cancelled')).toBeInTheDocument();
    await waitFor(() => expect(text().textContent).toBe('It began'));
    expect(screen.getByRole('heading', { name: 'Story' })).toHaveFocus();
  });

  it('shows a failed subscription with the trace ID the server gave', async () => {
    const { events, server } = setup(story('s-6', 'p-1'));
    await waitFor(() => expect(server.named('StoryStream')).toHaveLength(1));
    act(() =>
      events.next({
        data: null,
        errors: [{ message: 'too many subscriptions', extensions: { code: 'RATE_LIMITED', traceId: 'ws-trace-77' } }],
      }),
    );
    expect(await screen.findByText(/Live updates stopped: Too many requests/)).toBeInTheDocument();
    expect(screen.getByText('ws-trace-77')).toBeInTheDocument();
  });

  it('says a story is gone, and takes it out of its prompt\'s list, when the server no longer finds it', async () => {
    const server = fakeServer((op) => (op.operationName === 'Story' ? graphqlError('NOT_FOUND', 'story not found') : new Error(`unexpected ${op.operationName}`)));
    const { prompt: _p, error: _e, startedAt: _s, shareToken: _t, ...gone } = story('s-9', 'p-1', { status: 'COMPLETED', text: 'Gone' });
    server.client.writeQuery({
      query: PROMPT_WITH_STORIES,
      variables: { id: 'p-1', first: PAGE_SIZE },
      data: { node: { ...prompt('p-1', 'Dragons', undefined, 1), stories: connection('Story', [gone]) } as never },
    });
    renderWithApi(<StoryViewer storyId="s-9" />, server.client);
    expect(await screen.findByText(/Story not found/)).toBeInTheDocument();
    await waitFor(() => {
      const cached = server.client.readQuery({ query: PROMPT_WITH_STORIES, variables: { id: 'p-1', first: PAGE_SIZE } });
      expect(nodeAs(cached?.node, 'Prompt').stories.edges).toEqual([]);
      expect(nodeAs(cached?.node, 'Prompt').stories.totalCount).toBe(0);
    });
    expect(server.named('Story')).toHaveLength(1);
  });
});
