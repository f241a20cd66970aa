import type { ApolloLink } from '@apollo/client';
import { act, screen, waitFor } from '@testing-library/react';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { fakeServer, renderWithApi, story, streamEvent } from '../test/harness';
import { SharedStoryPage } from './SharedStoryPage';

function shared(overrides: Record<string, unknown> = {}) {
  return {
    ...story('s-1', 'p-1', { shareToken: 'sh_1', ...overrides }),
    prompt: { __typename: 'Prompt' as const, id: 'p-1', content: 'A lighthouse keeper who collects umbrellas' },
  };
}

describe('SharedStoryPage', () => {
  it('says the link shares nothing when the server has no story for it', async () => {
    const server = fakeServer(() => ({ data: { sharedStory: null } }));
    renderWithApi(<SharedStoryPage token="sh_gone" />, server.client);
    expect(await screen.findByText(/This link does not share anything \(any more\)/)).toBeInTheDocument();
    expect(server.named('SharedStory')[0]?.variables).toEqual({ token: 'sh_gone' });
    expect(server.named('StoryStream')).toEqual([]);
  });

  it('shows the prompt and streams the story with the share token, read-only', async () => {
    const events = new Subject<ApolloLink.Result>();
    const server = fakeServer((op) => {
      if (op.operationName === 'StoryStream') return events;
      if (op.operationName === 'SharedStory') return { data: { sharedStory: shared() } };
      return new Error(`unexpected ${op.operationName}`);
    });
    renderWithApi(<SharedStoryPage token="sh_1" />, server.client);

    expect(await screen.findByText('A lighthouse keeper who collects umbrellas')).toBeInTheDocument();
    await waitFor(() => expect(server.named('StoryStream')).toHaveLength(1));
    expect(server.named('StoryStream')[0]?.variables).toEqual({ storyID: 's-1', shareToken: 'sh_1' });

    act(() => {
      events.next(streamEvent('s-1', 1, 'The rain'));
      events.next(streamEvent('s-1', 2, ' came.'));
    });
    await waitFor(() => expect(screen.getByTestId('story-text').textContent).toBe('The rain came.'));

    // Nothing here changes the story.
    for (const name of [/Cancel/, /Share/, /Generate/, /Delete/, /Stop sharing/]) {
      expect(screen.queryByRole('button', { name })).not.toBeInTheDocument();
    }
    expect(screen.queryByRole('textbox', { name: /prompt/i })).not.toBeInTheDocument();
  });

  it('says so when the link is withdrawn while the story is being read', async () => {
    const events = new Subject<ApolloLink.Result>();
    let stillShared = true;
    const server = fakeServer((op) => {
      if (op.operationName === 'StoryStream') return events;
      return { data: { sharedStory: stillShared ? shared() : null } };
    });
    renderWithApi(<SharedStoryPage token="sh_1" />, server.client);
    await waitFor(() => expect(server.named('StoryStream')).toHaveLength(1));
    act(() => events.next(streamEvent('s-1', 1, 'Half')));

    stillShared = false;
    act(() => events.complete());

    expect(await screen.findByText(/This link does not share anything \(any more\)/)).toBeInTheDocument();
  });
});
