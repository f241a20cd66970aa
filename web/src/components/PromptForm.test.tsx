import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { PAGE_SIZE, PROMPTS } from '../graphql/operations';
import { connection, fakeServer, prompt, renderWithApi } from '../test/harness';
import { PromptForm } from './PromptForm';

describe('PromptForm', () => {
  it('warns about an empty prompt and sends nothing', async () => {
    const user = userEvent.setup();
    const server = fakeServer(() => new Error('nothing should be sent'));
    const onCreated = vi.fn();
    renderWithApi(<PromptForm onCreated={onCreated} />, server.client);

    await user.click(screen.getByRole('button', { name: 'Add prompt' }));

    expect(screen.getByText(/Write a prompt first/)).toHaveAttribute('role', 'alert');
    const field = screen.getByLabelText('New prompt');
    expect(field).toHaveAttribute('aria-invalid', 'true');
    expect(field).toHaveFocus();

    await user.type(field, '   ');
    await user.keyboard('{Control>}{Enter}{/Control}');
    expect(screen.getByText(/Write a prompt first/)).toHaveAttribute('role', 'alert');
    expect(server.sent).toEqual([]);
    expect(onCreated).not.toHaveBeenCalled();
  });

  it('clears the warning once something is typed', async () => {
    const user = userEvent.setup();
    const server = fakeServer(() => new Error('nothing should be sent'));
    renderWithApi(<PromptForm onCreated={() => {}} />, server.client);

    await user.click(screen.getByRole('button', { name: 'Add prompt' }));
    await user.type(screen.getByLabelText('New prompt'), 'A');

    expect(screen.queryByText(/Write a prompt first/)).not.toBeInTheDocument();
    expect(screen.getByLabelText('New prompt')).not.toHaveAttribute('aria-invalid');
  });

  it('adds a trimmed prompt at the top of the cached list without refetching it', async () => {
    const user = userEvent.setup();
    const server = fakeServer((op) => {
      if (op.operationName === 'CreatePrompt') {
        return { data: { createPrompt: prompt('p-new', op.variables.content as string, '2025-01-03T09:00:00Z') } };
      }
      return new Error(`unexpected ${op.operationName}`);
    });
    server.client.writeQuery({
      query: PROMPTS,
      variables: { first: PAGE_SIZE },
      data: { prompts: connection('Prompt', [prompt('p-old', 'An older prompt')], true, 7) as never },
    });
    const onCreated = vi.fn();
    renderWithApi(<PromptForm onCreated={onCreated} />, server.client);

    await user.type(screen.getByLabelText('New prompt'), '  A dragon who collects teacups  ');
    await user.click(screen.getByRole('button', { name: 'Add prompt' }));

    expect(await screen.findByText('Prompt added.')).toBeInTheDocument();
    expect(server.named('CreatePrompt')).toEqual([{ operationName: 'CreatePrompt', variables: { content: 'A dragon who collects teacups' } }]);
    expect(screen.getByLabelText('New prompt')).toHaveValue('');
    expect(onCreated).toHaveBeenCalledWith(expect.objectContaining({ id: 'p-new' }));

    const cached = server.client.readQuery({ query: PROMPTS, variables: { first: PAGE_SIZE } });
    expect(cached?.prompts.edges?.map((e) => e?.node?.id)).toEqual(['p-new', 'p-old']);
    expect(cached?.prompts.totalCount).toBe(8);
    expect(server.named('Prompts')).toEqual([]);
  });

  it('shows the server error with its trace ID and keeps the text', async () => {
    const user = userEvent.setup();
    const server = fakeServer(() => ({
      errors: [{ message: 'content is too long', extensions: { code: 'BAD_USER_INPUT' } }],
      extensions: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736' },
    }));
    renderWithApi(<PromptForm onCreated={() => {}} />, server.client);

    await user.type(screen.getByLabelText('New prompt'), 'Once');
    await user.click(screen.getByRole('button', { name: 'Add prompt' }));

    await waitFor(() => expect(screen.getByText(/Could not add the prompt: content is too long/)).toBeInTheDocument());
    expect(screen.getByText('4bf92f3577b34da6a3ce929d0e0e4736')).toBeInTheDocument();
    expect(screen.getByLabelText('New prompt')).toHaveValue('Once');
  });
});
