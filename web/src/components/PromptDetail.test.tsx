import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { PAGE_SIZE, PROMPTS } from '../graphql/operations';
import { connection, fakeServer, graphqlError, prompt, renderWithApi, story, viewer, type SentOperation } from '../test/harness';
import { PromptDetail } from './PromptDetail';
import { PromptList } from './PromptList';

const dragon = prompt('p-1', 'A dragon who collects teacups', '2025-01-02T10:00:00Z', 1);
const earlier = story('s-0', 'p-1', { status: 'COMPLETED', tokenCount: 12, text: 'Once upon a time, a dragon found a chipped teacup in the snow.' });

function setup(models: string[], answer: (op: SentOperation) => unknown = () => undefined, { withList = false, onGone = () => {} } = {}) {
  const server = fakeServer((op) => {
    const special = answer(op);
    if (special !== undefined) return special as never;
    switch (op.operationName) {
      case 'PromptWithStories':
        return { data: { node: { ...dragon, stories: connection('Story', [earlier]) } } };
      case 'Prompts':
        return { data: { prompts: connection('Prompt', [dragon, prompt('p-2', 'The last bakery on the moon')]) } };
      case 'Models':
        return { data: { models } };
      case 'GenerateStory':
        return { data: { generateStory: story('s-1', 'p-1', { status: 'PENDING' }) } };
      case 'Usage':
        return { data: { viewer: viewer() } };
      default:
        return new Error(`unexpected ${op.operationName}`);
    }
  });
  const detail = <PromptDetail promptId="p-1" storyId={null} onSelectStory={() => {}} onGone={onGone} />;
  renderWithApi(
    withList ? (
      <>
        <PromptList selectedId="p-1" onSelect={() => {}} onDeleted={() => {}} />
        {detail}
      </>
    ) : (
      detail
    ),
    server.client,
  );
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
    setup(['storyteller'], (op) => (op.operationName === 'GenerateStory' ? graphqlError('QUOTA_EXCEEDED', 'daily token limit reached') : undefined));
    await user.click(await screen.findByRole('button', { name: 'Generate story' }));
    expect(await screen.findByText(/Could not start a story: You have reached your usage limit/)).toBeInTheDocument();
  });

  it('tells the stories apart by their first words', async () => {
    setup(['storyteller']);
    const row = (await screen.findByRole('region', { name: /Stories/ })).querySelector('li')!;
    expect(within(row).getByTestId('story-label')).toHaveTextContent('Once upon a time, a dragon found a chipped teacup in the snow.');
  });

  it('drops a prompt deleted elsewhere when generating for it: from the list, the count and the page', async () => {
    const user = userEvent.setup();
    const onGone = vi.fn();
    // Deleted in another tab: the server knows the prompt no more.
    const notFound = (path: string) => ({ data: null, errors: [{ message: `input:2:3: ${path} prompt not found`, path: [path], extensions: { code: 'NOT_FOUND' } }] });
    let deleted = false;
    const server = setup(
      ['storyteller'],
      (op) => {
        if (op.operationName === 'GenerateStory') {
          deleted = true;
          return notFound('generateStory');
        }
        if (op.operationName === 'PromptWithStories' && deleted) return notFound('node');
        return undefined;
      },
      { withList: true, onGone },
    );
    const list = await screen.findByRole('region', { name: /^Prompts/ });
    await within(list).findByText('A dragon who collects teacups');
    expect(within(list).getByRole('heading')).toHaveTextContent('2');

    await user.click(await screen.findByRole('button', { name: 'Generate story' }));

    const toast = await screen.findByText(/^Could not start a story:/);
    expect(toast).toHaveTextContent('Could not start a story: This prompt no longer exists: it may have been deleted, perhaps in another tab.');
    expect(toast.textContent).not.toMatch(/input:|generateStory/);
    expect(onGone).toHaveBeenCalled();
    await waitFor(() => expect(within(list).queryByText('A dragon who collects teacups')).not.toBeInTheDocument());
    expect(within(list).getByRole('heading')).toHaveTextContent('1');
    const cached = server.client.readQuery({ query: PROMPTS, variables: { first: PAGE_SIZE } });
    expect(cached?.prompts.edges?.map((e) => e?.node?.id)).toEqual(['p-2']);
    expect(cached?.prompts.totalCount).toBe(1);
    expect((server.client.cache.extract() as Record<string, unknown>)['Prompt:p-1']).toBeUndefined();
  });

  it('holds Generate back with a countdown while the server asks to wait, then lets it go', async () => {
    const user = userEvent.setup();
    let limited = true;
    const server = setup(['storyteller'], (op) =>
      op.operationName === 'GenerateStory' && limited ? graphqlError('RATE_LIMITED', 'rate limit exceeded: try again in 2 seconds', { retryAfter: 2 }) : undefined,
    );
    const generate = await screen.findByRole('button', { name: 'Generate story' });
    await user.click(generate);

    const countdown = await screen.findByTestId('generate-cooldown');
    expect(countdown).toHaveTextContent('you can generate again in 2 s');
    expect(generate).toHaveAttribute('aria-disabled', 'true');
    expect(generate).toHaveAccessibleDescription(/generate again in 2 s/);
    expect(await screen.findByText(/Could not start a story: Too many requests just now. Try again in 2 seconds./)).toBeInTheDocument();

    // Clicks while it counts down send nothing.
    await user.click(generate);
    expect(server.named('GenerateStory')).toHaveLength(1);

    await waitFor(() => expect(screen.getByTestId('generate-cooldown')).toHaveTextContent('in 1 s'), { timeout: 2_000 });
    await waitFor(() => expect(screen.queryByTestId('generate-cooldown')).not.toBeInTheDocument(), { timeout: 2_000 });
    expect(generate).not.toHaveAttribute('aria-disabled');
    limited = false;
    await user.click(generate);
    await waitFor(() => expect(server.named('GenerateStory')).toHaveLength(2));
  });

  it('collapses a long prompt behind "Show more"', async () => {
    const user = userEvent.setup();
    const long = `${'A sentence about a dragon and its teacups. '.repeat(20)}The end.`;
    setup(['storyteller'], (op) =>
      op.operationName === 'PromptWithStories' ? { data: { node: { ...dragon, content: long, stories: connection('Story', []) } } } : undefined,
    );
    const quote = await screen.findByText(/The end\.$/, { selector: 'blockquote' });
    expect(quote).toHaveClass('clamp-6');
    await user.click(screen.getByRole('button', { name: 'Show more of the prompt' }));
    expect(quote).not.toHaveClass('clamp-6');
    expect(screen.getByRole('button', { name: 'Show less of the prompt' })).toHaveAttribute('aria-expanded', 'true');
  });
});

describe('editing a prompt', () => {
  it('saves the new text in place, and every list shows it', async () => {
    const user = userEvent.setup();
    const server = setup(['storyteller'], (op) =>
      op.operationName === 'UpdatePrompt'
        ? { data: { updatePrompt: { ...dragon, content: op.variables.content as string } } }
        : undefined,
      { withList: true },
    );
    await user.click(await screen.findByRole('button', { name: 'Edit' }));
    const field = screen.getByLabelText('Prompt text');
    expect(field).toHaveFocus();
    expect(field).toHaveValue('A dragon who collects teacups');
    expect(screen.getByTestId('char-counter')).toHaveTextContent('29 / 4,000 characters');

    await user.clear(field);
    await user.type(field, '  A dragon who collects saucers  ');
    await user.click(screen.getByRole('button', { name: 'Save' }));

    expect(await screen.findByText('Prompt saved.')).toBeInTheDocument();
    expect(server.named('UpdatePrompt')[0]?.variables).toEqual({ id: 'p-1', content: 'A dragon who collects saucers' });
    expect(screen.queryByLabelText('Prompt text')).not.toBeInTheDocument();
    expect(screen.getByText('A dragon who collects saucers', { selector: 'blockquote' })).toBeInTheDocument();
    expect(within(screen.getByRole('region', { name: /^Prompts/ })).getByText('A dragon who collects saucers')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByRole('button', { name: 'Edit' })).toHaveFocus());
  });

  it("shows the server's refusal under the field and keeps the text", async () => {
    const user = userEvent.setup();
    setup(['storyteller'], (op) =>
      op.operationName === 'UpdatePrompt' ? graphqlError('BAD_USER_INPUT', 'invalid content: must not contain the control character U+0007') : undefined,
    );
    await user.click(await screen.findByRole('button', { name: 'Edit' }));
    await user.type(screen.getByLabelText('Prompt text'), ' again');
    await user.keyboard('{Control>}{Enter}{/Control}');

    const problem = await screen.findByTestId('edit-error');
    expect(problem).toHaveAttribute('role', 'alert');
    expect(problem).toHaveTextContent('Not saved: Invalid content: must not contain the control character U+0007.');
    expect(screen.getByLabelText('Prompt text')).toHaveValue('A dragon who collects teacups again');
    expect(screen.getByLabelText('Prompt text')).toHaveAttribute('aria-invalid', 'true');
    expect(screen.queryAllByTestId('toast')).toHaveLength(0);
  });

  it('refuses an empty prompt without asking the server, and Escape leaves it as it was', async () => {
    const user = userEvent.setup();
    const server = setup(['storyteller']);
    await user.click(await screen.findByRole('button', { name: 'Edit' }));
    await user.clear(screen.getByLabelText('Prompt text'));
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(screen.getByTestId('edit-error')).toHaveTextContent(/cannot be empty/);
    expect(server.named('UpdatePrompt')).toEqual([]);

    await user.keyboard('{Escape}');
    expect(screen.queryByLabelText('Prompt text')).not.toBeInTheDocument();
    expect(screen.getByText('A dragon who collects teacups', { selector: 'blockquote' })).toBeInTheDocument();
  });

  it('closes a prompt deleted elsewhere', async () => {
    const user = userEvent.setup();
    const onGone = vi.fn();
    setup(['storyteller'], (op) => (op.operationName === 'UpdatePrompt' ? graphqlError('NOT_FOUND', 'prompt not found') : undefined), { onGone });
    await user.click(await screen.findByRole('button', { name: 'Edit' }));
    await user.type(screen.getByLabelText('Prompt text'), '!');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText(/Could not save the prompt: This prompt no longer exists/)).toBeInTheDocument();
    await act(async () => {});
    expect(onGone).toHaveBeenCalled();
  });
});
