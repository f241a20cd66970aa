import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { connection, fakeServer, graphqlError, prompt, renderWithApi, story, viewer } from '../test/harness';
import { PromptDetail } from './PromptDetail';

function setup(models: string[], generate: (vars: Record<string, unknown>) => unknown = () => ({ data: { generateStory: story('s-1', 'p-1', { status: 'PENDING' }) } })) {
  const dragon = prompt('p-1', 'A dragon who collects teacups');
  const server = fakeServer((op) => {
    switch (op.operationName) {
      case 'PromptWithStories':
        return { data: { node: { ...dragon, stories: connection('Story', []) } } };
      case 'Models':
        return { data: { models } };
      case 'GenerateStory':
        return generate(op.variables) as never;
      case 'Usage':
        return { data: { viewer: viewer() } };
      default:
        return new Error(`unexpected ${op.operationName}`);
    }
  });
  renderWithApi(<PromptDetail promptId="p-1" storyId={null} onSelectStory={() => {}} />, server.client);
  return server;
}

describe('PromptDetail', () => {
  it('offers the models in a select when the server has several, the first by default', async () => {
    const user = userEvent.setup();
    const server = setup(['gpt-4o-mini', 'llama3.1:8b']);
    const select = await screen.findByLabelText('Model');
    expect(select).toHaveValue('gpt-4o-mini');

    await user.selectOptions(select, 'llama3.1:8b');
    await user.click(screen.getByRole('button', { name: 'Generate story' }));

    await waitFor(() => expect(server.named('GenerateStory')).toHaveLength(1));
    expect(server.named('GenerateStory')[0]?.variables).toEqual({ promptID: 'p-1', model: 'llama3.1:8b' });
    // A new story counts against the user's limits: the usage is read again.
    await waitFor(() => expect(server.named('Usage')).toHaveLength(1));
  });

  it('shows no choice with one model, and lets the server pick it', async () => {
    const user = userEvent.setup();
    const server = setup(['storyteller']);
    await user.click(await screen.findByRole('button', { name: 'Generate story' }));
    await waitFor(() => expect(server.named('GenerateStory')).toHaveLength(1));
    expect(screen.queryByLabelText('Model')).not.toBeInTheDocument();
    expect(server.named('GenerateStory')[0]?.variables).toEqual({ promptID: 'p-1' });
  });

  it('explains a spent quota', async () => {
    const user = userEvent.setup();
    setup(['storyteller'], () => graphqlError('QUOTA_EXCEEDED', 'daily token limit reached'));
    await user.click(await screen.findByRole('button', { name: 'Generate story' }));
    expect(await screen.findByText(/Could not start a story: You have reached your usage limit/)).toBeInTheDocument();
  });
});
