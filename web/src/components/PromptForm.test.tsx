import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { PAGE_SIZE, PROMPTS } from '../graphql/operations';
import { connection, fakeServer, prompt, renderWithApi } from '../test/harness';
import { MAX_PROMPT_LENGTH, PROMPT_WARN_AT, charCount } from './PromptField';
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

    await waitFor(() => expect(screen.getByText(/Could not add the prompt: Content is too long\./)).toBeInTheDocument());
    expect(screen.getByText('4bf92f3577b34da6a3ce929d0e0e4736')).toBeInTheDocument();
    expect(screen.getByLabelText('New prompt')).toHaveValue('Once');
  });

  it('counts the characters and warns before the limit', async () => {
    const user = userEvent.setup();
    const server = fakeServer(() => new Error('nothing should be sent'));
    renderWithApi(<PromptForm onCreated={() => {}} />, server.client);
    const field = screen.getByLabelText('New prompt');
    const counter = screen.getByTestId('char-counter');
    expect(counter).toHaveTextContent('0 / 4,000 characters');
    expect(field.getAttribute('aria-describedby')).toContain(counter.parentElement!.id);

    await user.type(field, 'A 🐉');
    // Characters as the server counts them: the dragon is one, not two.
    expect(counter).toHaveTextContent('3 / 4,000 characters');
    expect(counter).toHaveAttribute('data-level', 'ok');

    await user.click(field);
    await user.paste('x'.repeat(PROMPT_WARN_AT - 3));
    expect(counter).toHaveTextContent('3,600 / 4,000 characters · 400 left');
    expect(counter).toHaveAttribute('data-level', 'near');
    expect(screen.getByText('Fewer than 400 characters left.')).toBeInTheDocument();
    expect(screen.queryByTestId('cut-warning')).not.toBeInTheDocument();
  });

  it('cuts a paste that does not fit, and says how much of it was added', async () => {
    const user = userEvent.setup();
    const server = fakeServer(() => new Error('nothing should be sent'));
    renderWithApi(<PromptForm onCreated={() => {}} />, server.client);
    const field = screen.getByLabelText<HTMLTextAreaElement>('New prompt');

    await user.type(field, 'Begin: ');
    await user.paste('y'.repeat(5000));

    expect(charCount(field.value)).toBe(MAX_PROMPT_LENGTH);
    expect(field.value.startsWith('Begin: yyy')).toBe(true);
    const warning = screen.getByTestId('cut-warning');
    expect(warning).toHaveAttribute('role', 'alert');
    expect(warning).toHaveTextContent('The pasted text was too long, so it was cut: only its first 3,993 of 5,000 characters were added. A prompt may have at most 4,000.');
    expect(field.getAttribute('aria-describedby')).toContain(warning.id);
    expect(screen.getByTestId('char-counter')).toHaveTextContent('4,000 / 4,000 characters · limit reached');

    // A paste into a full prompt adds nothing, and says so.
    await user.paste('more');
    expect(charCount(field.value)).toBe(MAX_PROMPT_LENGTH);
    expect(screen.getByTestId('cut-warning')).toHaveTextContent(/Nothing was pasted/);

    // The warning goes with the next edit.
    await user.type(field, '{Backspace}');
    expect(screen.queryByTestId('cut-warning')).not.toBeInTheDocument();
    expect(screen.getByTestId('char-counter')).toHaveTextContent('3,999 / 4,000');
  });

  it('keeps the text around the cursor when a paste into the middle is cut', async () => {
    const user = userEvent.setup();
    const server = fakeServer(() => new Error('nothing should be sent'));
    renderWithApi(<PromptForm onCreated={() => {}} />, server.client);
    const field = screen.getByLabelText<HTMLTextAreaElement>('New prompt');
    await user.type(field, 'start end');
    await user.keyboard('{ArrowLeft}{ArrowLeft}{ArrowLeft}');
    await user.paste('z'.repeat(4500));
    expect(field.value.startsWith('start z')).toBe(true);
    expect(field.value.endsWith('zend')).toBe(true);
    expect(charCount(field.value)).toBe(MAX_PROMPT_LENGTH);
    expect(field.selectionStart).toBe(MAX_PROMPT_LENGTH - 3);
  });
});
