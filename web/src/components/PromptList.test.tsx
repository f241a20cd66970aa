import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { connection, fakeServer, prompt, renderWithApi } from '../test/harness';
import { PromptList } from './PromptList';

const first = prompt('p-3', 'A lighthouse keeper who collects umbrellas', '2025-01-03T10:00:00Z', 2);
const second = prompt('p-2', 'The last bakery on the moon', '2025-01-02T10:00:00Z', 3);
const third = prompt('p-1', 'A cat that files tax returns', '2025-01-01T10:00:00Z');

function items() {
  return screen.getAllByRole('listitem').map((li) => within(li).getAllByRole('button')[0]!.textContent);
}

// Answers the list, the story counts (as given), and deletes.
function listServer(prompts: ReturnType<typeof prompt>[], counts: Record<string, number> = {}, remove?: (id: string) => unknown) {
  return fakeServer((op) => {
    switch (op.operationName) {
      case 'Prompts':
        return { data: { prompts: connection('Prompt', prompts) } };
      case 'PromptStoryCount': {
        const id = op.variables.id as string;
        const total = counts[id] ?? prompts.find((p) => p.id === id)?.storyCount.totalCount ?? 0;
        return { data: { node: { __typename: 'Prompt', id, storyCount: { __typename: 'StoryConnection', totalCount: total } } } };
      }
      case 'DeletePrompt':
        return (remove?.(op.variables.id as string) ?? { data: { deletePrompt: op.variables.id as string } }) as never;
      default:
        return new Error(`unexpected ${op.operationName}`);
    }
  });
}

describe('PromptList', () => {
  it('shows a loading state, then the prompts in the order the API gives', async () => {
    const server = fakeServer(() => ({ data: { prompts: connection('Prompt', [first, second]) } }));
    renderWithApi(<PromptList selectedId={null} onSelect={() => {}} onDeleted={() => {}} />, server.client);

    expect(screen.getByText('Loading prompts…')).toBeInTheDocument();
    await screen.findByText('The last bakery on the moon');
    expect(items()[0]).toContain('lighthouse keeper');
    expect(items()[1]).toContain('last bakery');
    expect(screen.getByRole('heading', { name: /Prompts/ })).toHaveTextContent('2');
  });

  it('says so when there are no prompts', async () => {
    const server = fakeServer(() => ({ data: { prompts: connection('Prompt', []) } }));
    renderWithApi(<PromptList selectedId={null} onSelect={() => {}} onDeleted={() => {}} />, server.client);
    expect(await screen.findByText(/No prompts yet/)).toBeInTheDocument();
  });

  it('marks the selected prompt and opens one on click', async () => {
    const user = userEvent.setup();
    const onSelect = vi.fn();
    const server = fakeServer(() => ({ data: { prompts: connection('Prompt', [first, second]) } }));
    renderWithApi(<PromptList selectedId="p-2" onSelect={onSelect} onDeleted={() => {}} />, server.client);

    const bakery = await screen.findByRole('button', { name: /^The last bakery/ });
    expect(bakery).toHaveAttribute('aria-current', 'true');
    await user.click(screen.getByRole('button', { name: /^A lighthouse keeper/ }));
    expect(onSelect).toHaveBeenCalledWith(expect.objectContaining({ id: 'p-3' }));
  });

  it('asks before deleting, naming the stories that go too, read again from the server', async () => {
    const user = userEvent.setup();
    const server = listServer([first, second, third], { 'p-2': 4 });
    renderWithApi(<PromptList selectedId={null} onSelect={() => {}} onDeleted={() => {}} />, server.client);

    await user.click(await screen.findByRole('button', { name: 'Delete prompt: The last bakery on the moon' }));
    const dialog = await screen.findByRole('dialog', { name: 'Delete this prompt and its 4 stories?' });
    expect(within(dialog).getByText('The last bakery on the moon')).toBeInTheDocument();
    expect(within(dialog).getByText('This cannot be undone.')).toBeInTheDocument();
    // The safe answer has the focus: Enter keeps the prompt.
    expect(within(dialog).getByRole('button', { name: 'Keep it' })).toHaveFocus();

    await user.click(within(dialog).getByRole('button', { name: 'Keep it' }));
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(server.named('DeletePrompt')).toEqual([]);
    expect(items()).toHaveLength(3);

    // A prompt without stories says so.
    await user.click(screen.getByRole('button', { name: 'Delete prompt: A cat that files tax returns' }));
    expect(await screen.findByRole('dialog', { name: 'Delete this prompt?' })).toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(server.named('DeletePrompt')).toEqual([]);
  });

  it('deletes a prompt once confirmed: it leaves the list, the count drops, a toast confirms, nothing is refetched', async () => {
    const user = userEvent.setup();
    const onDeleted = vi.fn();
    const server = listServer([first, second, third]);
    renderWithApi(<PromptList selectedId={null} onSelect={() => {}} onDeleted={onDeleted} />, server.client);

    await user.click(await screen.findByRole('button', { name: 'Delete prompt: The last bakery on the moon' }));
    const dialog = await screen.findByRole('dialog', { name: 'Delete this prompt and its 3 stories?' });
    await user.click(within(dialog).getByRole('button', { name: 'Delete prompt and 3 stories' }));

    expect(await screen.findByText('Prompt deleted.')).toBeInTheDocument();
    expect(screen.queryByText('The last bakery on the moon')).not.toBeInTheDocument();
    expect(screen.getByRole('heading', { name: /Prompts/ })).toHaveTextContent('2');
    expect(server.named('DeletePrompt')).toEqual([{ operationName: 'DeletePrompt', variables: { id: 'p-2' } }]);
    expect(server.named('Prompts')).toHaveLength(1);
    expect(onDeleted).toHaveBeenCalledWith('p-2', expect.objectContaining({ id: 'p-1' }));
  });

  it('never confirms with the second click of a double-click', async () => {
    const user = userEvent.setup();
    const server = listServer([first, second, third]);
    renderWithApi(<PromptList selectedId={null} onSelect={() => {}} onDeleted={() => {}} />, server.client);
    await user.click(await screen.findByRole('button', { name: 'Delete prompt: The last bakery on the moon' }));
    const confirm = within(await screen.findByRole('dialog')).getByRole('button', { name: 'Delete prompt and 3 stories' });

    fireEvent.click(confirm, { detail: 2 });
    await act(() => new Promise((resolve) => setTimeout(resolve, 20)));
    expect(server.named('DeletePrompt')).toEqual([]);
    expect(screen.getByRole('dialog')).toBeInTheDocument();

    // From the keyboard (detail 0), it does.
    fireEvent.click(confirm, { detail: 0 });
    await waitFor(() => expect(server.named('DeletePrompt')).toHaveLength(1));
  });

  it('keeps the space of a row deleted with the pointer until the pointer leaves the list', async () => {
    const user = userEvent.setup();
    const server = listServer([first, second, third]);
    renderWithApi(<PromptList selectedId={null} onSelect={() => {}} onDeleted={() => {}} />, server.client);
    await user.click(await screen.findByRole('button', { name: 'Delete prompt: The last bakery on the moon' }));
    await user.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Delete prompt and 3 stories' }));

    await screen.findByText('Prompt deleted.');
    const list = screen.getByRole('list');
    const gap = screen.getByTestId('deleted-gap');
    // In the deleted row's place, between its neighbours, and hidden from assistive technology.
    expect([...list.children].indexOf(gap)).toBe(1);
    expect(gap).toHaveAttribute('aria-hidden', 'true');

    fireEvent.pointerMove(gap);
    expect(screen.getByTestId('deleted-gap')).toBeInTheDocument();
    fireEvent.pointerMove(document.body);
    expect(screen.queryByTestId('deleted-gap')).not.toBeInTheDocument();
    expect(items()).toHaveLength(2);
  });

  it('keeps no space after a delete confirmed from the keyboard', async () => {
    const user = userEvent.setup();
    const server = listServer([first, second, third]);
    renderWithApi(<PromptList selectedId={null} onSelect={() => {}} onDeleted={() => {}} />, server.client);
    (await screen.findByRole('button', { name: 'Delete prompt: The last bakery on the moon' })).focus();
    await user.keyboard('{Enter}');
    await screen.findByRole('dialog');
    await user.keyboard('{Tab}{Enter}');
    await screen.findByText('Prompt deleted.');
    expect(screen.queryByTestId('deleted-gap')).not.toBeInTheDocument();
  });

  it('shows a failed delete with its trace ID, and drops a prompt that was already gone', async () => {
    const user = userEvent.setup();
    const server = listServer([first, second], {}, () => ({
      data: null,
      errors: [{ message: 'prompt not found', extensions: { code: 'NOT_FOUND' } }],
      extensions: { traceId: 'trace-0af7651916cd43dd' },
    }));
    renderWithApi(<PromptList selectedId={null} onSelect={() => {}} onDeleted={() => {}} />, server.client);

    await user.click(await screen.findByRole('button', { name: /Delete prompt: A lighthouse/ }));
    await user.click(within(await screen.findByRole('dialog')).getByRole('button', { name: /^Delete prompt/ }));

    const toast = await screen.findByText(/Could not delete the prompt: This prompt no longer exists/);
    const alert = toast.closest('[data-testid="toast"]') as HTMLElement;
    expect(within(alert).getByText('trace-0af7651916cd43dd')).toBeInTheDocument();
    expect(alert.closest('[role="alert"]')).not.toBeNull();
    await waitFor(() => expect(screen.queryByText(/lighthouse keeper/)).not.toBeInTheDocument());
    expect(screen.getByRole('heading', { name: /Prompts/ })).toHaveTextContent('1');
  });

  it('shows how many stories each prompt has, and collapses a long prompt with "Show more"', async () => {
    const user = userEvent.setup();
    const long = prompt('p-9', `A very long prompt. ${'It goes on and on. '.repeat(30)}The end.`, '2025-01-04T10:00:00Z', 1);
    const server = listServer([long, first]);
    renderWithApi(<PromptList selectedId={null} onSelect={() => {}} onDeleted={() => {}} />, server.client);

    const row = (await screen.findByText(/^A very long prompt/)).closest('li')!;
    expect(within(row).getByText('1 story')).toBeInTheDocument();
    expect(screen.getByText(first.content).closest('li')).toHaveTextContent('2 stories');
    const text = within(row).getByText(/^A very long prompt/);
    expect(text).toHaveClass('clamp-2');
    // Short prompts have nothing to show more of.
    expect(within(screen.getByText(first.content).closest('li')!).queryByRole('button', { name: /Show more/ })).not.toBeInTheDocument();

    const more = within(row).getByRole('button', { name: /^Show more/ });
    expect(more).toHaveAttribute('aria-expanded', 'false');
    await user.click(more);
    expect(text).not.toHaveClass('clamp-2');
    expect(within(row).getByRole('button', { name: /^Show less/ })).toHaveAttribute('aria-expanded', 'true');
  });

  it('loads the next page after the last cursor and appends it', async () => {
    const user = userEvent.setup();
    const server = fakeServer((op) =>
      op.variables.after
        ? { data: { prompts: connection('Prompt', [third], false, 3) } }
        : { data: { prompts: connection('Prompt', [first, second], true, 3) } },
    );
    renderWithApi(<PromptList selectedId={null} onSelect={() => {}} onDeleted={() => {}} />, server.client);

    await user.click(await screen.findByRole('button', { name: 'Load more prompts' }));

    await screen.findByText('A cat that files tax returns');
    expect(items()).toHaveLength(3);
    expect(server.named('Prompts')[1]?.variables.after).toBe('cursor-p-2');
    expect(screen.queryByRole('button', { name: 'Load more prompts' })).not.toBeInTheDocument();
  });
});
