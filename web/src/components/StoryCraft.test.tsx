import type { ApolloLink } from '@apollo/client';
import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Subject } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { PAGE_SIZE, PROMPT_WITH_STORIES, STORY } from '../graphql/operations';
import { connection, fakeServer, graphqlError, nodeAs, prompt, renderWithApi, story, storyOptions, streamEvent, viewer } from '../test/harness';
import { StoryViewer } from './StoryViewer';

const finished = story('s-1', 'p-1', {
  status: 'COMPLETED',
  text: 'Once upon a time, the fog sang.',
  tokenCount: 9,
  title: 'The Singing Fog',
  finishedAt: '2025-01-02T10:06:00Z',
  options: storyOptions({ audience: 'CHILDREN', length: 'SHORT' }),
});

function setup(initial: ReturnType<typeof story>, extra: Record<string, (vars: Record<string, unknown>) => ApolloLink.Result> = {}, onSelectStory = vi.fn()) {
  const events = new Subject<ApolloLink.Result>();
  let current = initial;
  const server = fakeServer((op) => {
    if (op.operationName === 'StoryStream') return events;
    if (op.operationName === 'Story') return { data: { node: current } };
    if (op.operationName === 'Usage') return { data: { viewer: viewer() } };
    const answer = extra[op.operationName];
    return answer ? answer(op.variables) : new Error(`unexpected ${op.operationName}`);
  });
  // The prompt's list of stories (its versions), as the prompt's page holds it.
  server.client.writeQuery({
    query: PROMPT_WITH_STORIES,
    variables: { id: 'p-1', first: PAGE_SIZE },
    data: { node: { ...prompt('p-1', 'Fog', undefined, 1), stories: connection('Story', [initial]) } as never },
  });
  const view = renderWithApi(<StoryViewer storyId={initial.id} onSelectStory={onSelectStory} />, server.client);
  return {
    ...view,
    server,
    events,
    onSelectStory,
    setServerStory(next: ReturnType<typeof story>) {
      current = next;
    },
  };
}

const text = () => screen.getByTestId('story-text');

describe('StoryViewer: title, continue, regenerate, downloads', () => {
  it('shows the title, the options and the downloads of a finished story', async () => {
    setup(finished);
    expect(await screen.findByRole('heading', { name: 'The Singing Fog' })).toBeInTheDocument();
    expect(screen.getByRole('article')).toHaveTextContent('Options: for children · short');
    expect(screen.getByRole('link', { name: 'Download Markdown' })).toHaveAttribute('href', '/stories/s-1.md');
    expect(screen.getByRole('link', { name: 'Download EPUB' })).toHaveAttribute('href', '/stories/s-1.epub');
    expect(screen.getByRole('button', { name: 'Continue story' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Regenerate' })).toBeInTheDocument();
  });

  it('offers no Continue, Regenerate or downloads while the story is being written', async () => {
    const { server } = setup(story('s-2', 'p-1'));
    await waitFor(() => expect(server.named('StoryStream')).toHaveLength(1));
    expect(screen.getByRole('heading', { name: 'Story' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Continue story' })).not.toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Download EPUB' })).not.toBeInTheDocument();
  });

  it('continues a story with an instruction: back to generating, the new text appended after the end it had seen', async () => {
    const user = userEvent.setup();
    const { server, events, setServerStory } = setup(story('s-3', 'p-1'), {
      ContinueStory: () => ({ data: { continueStory: story('s-3', 'p-1', { status: 'PENDING', text: 'Once upon a time.', tokenCount: 4 }) } }),
    });
    await waitFor(() => expect(server.named('StoryStream')).toHaveLength(1));
    setServerStory(story('s-3', 'p-1', { status: 'COMPLETED', text: 'Once upon a time.', tokenCount: 4, finishedAt: '2025-01-02T10:06:00Z' }));
    act(() => {
      events.next(streamEvent('s-3', 1, 'Once upon'));
      events.next(streamEvent('s-3', 2, ' a time.', 'COMPLETED', 4));
    });
    await screen.findByText('Completed');

    await user.type(screen.getByLabelText(/What happens next/), '  A letter answers back.  ');
    await user.click(screen.getByRole('button', { name: 'Continue story' }));

    await waitFor(() => expect(server.named('ContinueStory')).toHaveLength(1));
    expect(server.named('ContinueStory')[0]?.variables).toEqual({ id: 's-3', input: { instruction: 'A letter answers back.' } });
    // The finished story goes back to being written, and is followed again after its end's cursor.
    expect(await screen.findByText('Pending')).toBeInTheDocument();
    await waitFor(() => expect(server.named('StoryStream')).toHaveLength(2));
    expect(server.named('StoryStream')[1]?.variables).toEqual({ storyID: 's-3', after: 's-3@2' });
    expect(text().textContent).toBe('Once upon a time.');
    expect(screen.queryByRole('button', { name: 'Continue story' })).not.toBeInTheDocument();
    expect(screen.getByRole('heading', { name: 'Story' })).toHaveFocus();

    // The continuation's first event holds only the new text: it is appended.
    act(() => {
      events.next(streamEvent('s-3', 1, ' A letter', 'GENERATING', 6));
      events.next(streamEvent('s-3', 2, ' answered.', 'COMPLETED', 8));
    });
    await waitFor(() => expect(text().textContent).toBe('Once upon a time. A letter answered.'));
    expect(await screen.findByText('Completed')).toBeInTheDocument();
    // One more story running counts in the usage.
    expect(server.named('Usage').length).toBeGreaterThan(0);
  });

  it('continues a story it did not see being written from the beginning of its stream', async () => {
    const user = userEvent.setup();
    const { server, events } = setup(finished, {
      ContinueStory: () => ({ data: { continueStory: { ...finished, status: 'GENERATING', finishedAt: null } } }),
    });
    await user.click(await screen.findByRole('button', { name: 'Continue story' }));
    await waitFor(() => expect(server.named('StoryStream')).toHaveLength(1));
    expect(server.named('ContinueStory')[0]?.variables).toEqual({ id: 's-1', input: null });
    expect(server.named('StoryStream')[0]?.variables).toEqual({ storyID: 's-1' });
    act(() => events.next(streamEvent('s-1', 1, 'Once upon a time, the fog sang. And then', 'GENERATING', 11)));
    await waitFor(() => expect(text().textContent).toBe('Once upon a time, the fog sang. And then'));
  });

  it('explains a refused continuation with the app\'s error messages, and holds the buttons back when rate-limited', async () => {
    const user = userEvent.setup();
    setup(finished, {
      ContinueStory: () => graphqlError('RATE_LIMITED', 'rate limited', { retryAfter: 30 }),
    });
    await user.click(await screen.findByRole('button', { name: 'Continue story' }));
    expect(await screen.findByText(/Could not continue the story: Too many requests just now. Try again in 30 seconds./)).toBeInTheDocument();
    await waitFor(() => expect(screen.getByRole('button', { name: 'Regenerate' })).toHaveAttribute('aria-disabled', 'true'));
    expect(screen.getByText(/you can go on in/)).toBeInTheDocument();
  });

  it('regenerates: a new version, opened, and listed with the prompt\'s stories', async () => {
    const user = userEvent.setup();
    const { server, onSelectStory } = setup(finished, {
      RegenerateStory: () => ({ data: { regenerateStory: story('s-9', 'p-1', { status: 'PENDING', options: finished.options, createdAt: '2025-01-02T11:00:00Z' }) } }),
    });
    await user.click(await screen.findByRole('button', { name: 'Regenerate' }));
    await waitFor(() => expect(onSelectStory).toHaveBeenCalledWith('s-9'));
    expect(server.named('RegenerateStory')[0]?.variables).toEqual({ id: 's-1' });
    expect(await screen.findByText('A new version is being written.', { selector: '.toast-message' })).toBeInTheDocument();
    const cached = server.client.readQuery({ query: PROMPT_WITH_STORIES, variables: { id: 'p-1', first: PAGE_SIZE } });
    const cachedPrompt = nodeAs(cached?.node, 'Prompt');
    expect(cachedPrompt.stories.edges?.map((e) => e?.node?.id)).toEqual(['s-9', 's-1']);
    expect(cachedPrompt.stories.totalCount).toBe(2);
  });

  it('lets the owner rename the story, and remove its title; Escape leaves it as it was', async () => {
    const user = userEvent.setup();
    const { server } = setup(finished, {
      UpdateStory: (vars) => ({ data: { updateStory: { __typename: 'Story', id: 's-1', title: vars.title } } }),
    });
    await user.click(await screen.findByRole('button', { name: 'Rename' }));
    const field = screen.getByLabelText('Title');
    expect(field).toHaveFocus();
    expect(field).toHaveValue('The Singing Fog');
    await user.keyboard('{Escape}');
    expect(screen.getByRole('heading', { name: 'The Singing Fog' })).toBeInTheDocument();
    expect(server.named('UpdateStory')).toEqual([]);

    await user.click(screen.getByRole('button', { name: 'Rename' }));
    await user.clear(screen.getByLabelText('Title'));
    await user.type(screen.getByLabelText('Title'), '  The Fog   That Sang {Enter}');
    expect(await screen.findByRole('heading', { name: 'The Fog That Sang' })).toBeInTheDocument();
    expect(server.named('UpdateStory')[0]?.variables).toEqual({ id: 's-1', title: 'The Fog That Sang' });
    expect(await screen.findByText('Title saved.', { selector: '.toast-message' })).toBeInTheDocument();
    await waitFor(() => expect(screen.getByRole('heading', { name: 'The Fog That Sang' })).toHaveFocus());

    await user.click(screen.getByRole('button', { name: 'Rename' }));
    await user.clear(screen.getByLabelText('Title'));
    await user.click(screen.getByRole('button', { name: 'Save title' }));
    expect(await screen.findByRole('heading', { name: 'Story' })).toBeInTheDocument();
    expect(server.named('UpdateStory')[1]?.variables).toEqual({ id: 's-1', title: null });
  });

  it('shows a refused title under the field', async () => {
    const user = userEvent.setup();
    setup(finished, { UpdateStory: () => graphqlError('BAD_USER_INPUT', 'title: must not contain control characters') });
    await user.click(await screen.findByRole('button', { name: 'Rename' }));
    await user.type(screen.getByLabelText('Title'), ' again{Enter}');
    expect(await screen.findByTestId('title-error')).toHaveTextContent('Not saved: Title: must not contain control characters.');
  });

  it('reads a story that just finished again until its title is there', async () => {
    const { server, events, setServerStory } = setup(story('s-5', 'p-1'));
    await waitFor(() => expect(server.named('StoryStream')).toHaveLength(1));
    setServerStory(story('s-5', 'p-1', { status: 'COMPLETED', text: 'The end.', tokenCount: 3, finishedAt: new Date().toISOString() }));
    act(() => events.next(streamEvent('s-5', 1, 'The end.', 'COMPLETED', 3)));
    await screen.findByText('Completed');
    setServerStory(story('s-5', 'p-1', { status: 'COMPLETED', text: 'The end.', tokenCount: 3, finishedAt: new Date().toISOString(), title: 'An Ending' }));
    expect(await screen.findByRole('heading', { name: 'An Ending' }, { timeout: 4_000 })).toBeInTheDocument();
    const row = server.client.readQuery({ query: STORY, variables: { id: 's-5' } });
    expect(nodeAs(row?.node, 'Story').title).toBe('An Ending');
    expect(within(screen.getByRole('article')).getByText('Completed')).toBeInTheDocument();
  });
});
