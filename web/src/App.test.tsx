import type { ApolloLink } from '@apollo/client';
import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from './App';
import { connection, fakeServer, prompt, renderWithApi, story, streamEvent } from './test/harness';

afterEach(() => {
  window.history.replaceState(null, '', '/');
});

describe('App', () => {
  it('opens a prompt, generates a story, streams it and keeps the story list in step', async () => {
    const user = userEvent.setup();
    const events = new Subject<ApolloLink.Result>();
    const dragon = prompt('p-1', 'A dragon who collects teacups');
    const earlier = story('s-0', 'p-1', { status: 'COMPLETED', tokenCount: 12, text: 'An earlier tale.', createdAt: '2025-01-01T00:00:00Z' });
    const server = fakeServer((op) => {
      switch (op.operationName) {
        case 'Prompts':
          return { data: { prompts: connection('Prompt', [dragon]) } };
        case 'PromptWithStories':
          return { data: { node: { ...dragon, stories: connection('Story', [earlier]) } } };
        case 'GenerateStory':
          return { data: { generateStory: story('s-1', 'p-1', { status: 'PENDING', createdAt: '2025-01-05T00:00:00Z' }) } };
        case 'StoryStream':
          return events;
        case 'Story':
          return op.variables.id === 's-0'
            ? { data: { node: earlier } }
            : { data: { node: story('s-1', 'p-1', { status: 'COMPLETED', text: 'Steam rose. Tea', tokenCount: 3 }) } };
        default:
          return new Error(`unexpected ${op.operationName}`);
      }
    });
    renderWithApi(<App />, server.client);

    await user.click(await screen.findByRole('button', { name: /^A dragon who collects teacups/ }));
    expect(window.location.search).toBe('?prompt=p-1');
    const stories = await screen.findByRole('region', { name: /Stories/ });
    expect(within(stories).getAllByRole('listitem')).toHaveLength(1);

    await user.click(screen.getByRole('button', { name: 'Generate story' }));
    await waitFor(() => expect(server.named('StoryStream')).toHaveLength(1));
    expect(window.location.search).toBe('?prompt=p-1&story=s-1');
    // The mutation's answer already holds the story: opening it asks the server for nothing.
    expect(server.named('Story')).toEqual([]);

    // The new story heads the list at once, before any event, and follows the stream's status.
    const rows = () => within(stories).getAllByRole('listitem');
    expect(rows()).toHaveLength(2);
    expect(rows()[0]).toHaveTextContent('Pending');
    expect(within(stories).getByRole('heading')).toHaveTextContent('2');

    act(() => {
      events.next(streamEvent('s-1', 0, 'Steam', 'GENERATING', 1));
      events.next(streamEvent('s-1', 1, ' rose.', 'GENERATING', 2));
    });
    await waitFor(() => expect(screen.getByTestId('story-text').textContent).toBe('Steam rose.'));
    await waitFor(() => expect(rows()[0]).toHaveTextContent('Generating'));
    expect(rows()[0]).toHaveTextContent('2 tokens');

    // Open the earlier story: the new one keeps streaming into its row, on the same subscription.
    await user.click(within(rows()[1]!).getByRole('button'));
    expect(window.location.search).toBe('?prompt=p-1&story=s-0');
    await waitFor(() => expect(screen.getByTestId('story-text').textContent).toBe('An earlier tale.'));
    act(() => {
      events.next(streamEvent('s-1', 2, ' Tea', 'GENERATING', 3));
      events.next(streamEvent('s-1', 3, '', 'COMPLETED', 3));
    });
    await waitFor(() => expect(rows()[0]).toHaveTextContent('Completed'));
    expect(rows()[0]).toHaveTextContent('3 tokens');
    expect(server.named('StoryStream')).toHaveLength(1);
    expect(server.named('Prompts')).toHaveLength(1);
  });
});
