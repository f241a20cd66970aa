import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { STORY } from '../graphql/operations';
import { fakeServer, renderWithApi, story } from '../test/harness';
import { StoryViewer } from '../components/StoryViewer';
import { shareLink } from './ShareControls';

describe('sharing a story', () => {
  it('builds the link from the origin and the token', () => {
    expect(shareLink('sh_AbC-12_x', 'https://stories.example.com')).toBe('https://stories.example.com/s/sh_AbC-12_x');
    expect(shareLink('a/b?c', 'http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080/s/a%2Fb%3Fc');
  });

  it('shares a story, shows the link to copy, and stops sharing it', async () => {
    const user = userEvent.setup();
    const finished = story('s-1', 'p-1', { status: 'COMPLETED', text: 'Done.' });
    const server = fakeServer((op) => {
      switch (op.operationName) {
        case 'Story':
          return { data: { node: finished } };
        case 'ShareStory':
          return { data: { shareStory: { __typename: 'Story', id: 's-1', shareToken: 'sh_token1' } } };
        case 'UnshareStory':
          return { data: { unshareStory: { __typename: 'Story', id: 's-1', shareToken: null } } };
        default:
          return new Error(`unexpected ${op.operationName}`);
      }
    });
    renderWithApi(<StoryViewer storyId="s-1" />, server.client);

    await user.click(await screen.findByRole('button', { name: 'Share' }));
    const link = await screen.findByLabelText('Share link');
    expect(link).toHaveValue(`${window.location.origin}/s/sh_token1`);
    expect(server.named('ShareStory')[0]?.variables).toEqual({ id: 's-1' });
    // The answer updated the cached story.
    expect(server.client.readQuery({ query: STORY, variables: { id: 's-1' } })?.node).toMatchObject({ shareToken: 'sh_token1' });

    await user.click(screen.getByRole('button', { name: 'Copy link' }));
    expect(await navigator.clipboard.readText()).toBe(`${window.location.origin}/s/sh_token1`);

    await user.click(screen.getByRole('button', { name: 'Stop sharing' }));
    expect(await screen.findByRole('button', { name: 'Share' })).toBeInTheDocument();
    expect(screen.queryByLabelText('Share link')).not.toBeInTheDocument();
    expect(server.named('UnshareStory')[0]?.variables).toEqual({ id: 's-1' });
  });
});
