import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { connection, fakeServer, prompt, renderWithApi } from '../test/harness';
import { PromptList } from './PromptList';

const first = prompt('p-3', 'A lighthouse keeper who collects umbrellas', '2025-01-03T10:00:00Z');
const second = prompt('p-2', 'The last bakery on the moon', '2025-01-02T10:00:00Z');
const third = prompt('p-1', 'A cat that files tax returns', '2025-01-01T10:00:00Z');

function items() {
  return screen.getAllByRole('listitem').map((li) => within(li).getAllByRole('button')[0]!.textContent);
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

  it('deletes a prompt: it leaves the list, the count drops, a toast confirms, nothing is refetched', async () => {
    const user = userEvent.setup();
    const onDeleted = vi.fn();
    const server = fakeServer((op) =>
      op.operationName === 'DeletePrompt'
        ? { data: { deletePrompt: op.variables.id as string } }
        : { data: { prompts: connection('Prompt', [first, second, third]) } },
    );
    renderWithApi(<PromptList selectedId={null} onSelect={() => {}} onDeleted={onDeleted} />, server.client);

    await user.click(await screen.findByRole('button', { name: 'Delete prompt: The last bakery on the moon' }));

    expect(await screen.findByText('Prompt deleted.')).toBeInTheDocument();
    expect(screen.queryByText('The last bakery on the moon')).not.toBeInTheDocument();
    expect(items()).toHaveLength(2);
    expect(screen.getByRole('heading', { name: /Prompts/ })).toHaveTextContent('2');
    expect(server.named('DeletePrompt')[0]?.variables).toEqual({ id: 'p-2' });
    expect(server.named('Prompts')).toHaveLength(1);
    expect(onDeleted).toHaveBeenCalledWith('p-2', expect.objectContaining({ id: 'p-1' }));
  });

  it('shows a failed delete with its trace ID, and drops a prompt that was already gone', async () => {
    const user = userEvent.setup();
    const server = fakeServer((op) =>
      op.operationName === 'DeletePrompt'
        ? {
            data: null,
            errors: [{ message: 'prompt not found', extensions: { code: 'NOT_FOUND' } }],
            extensions: { traceId: 'trace-0af7651916cd43dd' },
          }
        : { data: { prompts: connection('Prompt', [first, second]) } },
    );
    renderWithApi(<PromptList selectedId={null} onSelect={() => {}} onDeleted={() => {}} />, server.client);

    await user.click(await screen.findByRole('button', { name: /Delete prompt: A lighthouse/ }));

    const toast = await screen.findByText(/Could not delete the prompt: prompt not found/);
    const alert = toast.closest('[data-testid="toast"]') as HTMLElement;
    expect(within(alert).getByText('trace-0af7651916cd43dd')).toBeInTheDocument();
    expect(alert.closest('[role="alert"]')).not.toBeNull();
    await waitFor(() => expect(screen.queryByText(/lighthouse keeper/)).not.toBeInTheDocument());
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
