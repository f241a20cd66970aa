import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { REMEMBERED_KEY } from '../lib/storyOptions';
import { connection, fakeServer, graphqlError, prompt, renderWithApi, story, viewer, type SentOperation } from '../test/harness';
import { PromptDetail } from './PromptDetail';
import { PromptForm } from './PromptForm';

afterEach(() => localStorage.clear());

describe('PromptForm: story options', () => {
  function setup() {
    const server = fakeServer((op) => {
      if (op.operationName === 'CreatePrompt') {
        return { data: { createPrompt: prompt('p-new', op.variables.content as string, undefined, 0, (op.variables.options as Record<string, unknown>) ?? {}) } };
      }
      return new Error(`unexpected ${op.operationName}`);
    });
    const view = renderWithApi(<PromptForm onCreated={() => {}} />, server.client);
    return { server, view };
  }

  it('sends the options chosen with the prompt, and remembers them for the next one', async () => {
    const user = userEvent.setup();
    const { server, view } = setup();
    const form = screen.getByRole('form', { name: 'Add a prompt' });
    expect(within(form).getByText(/Story options:/)).toHaveTextContent("none (the server's defaults)");

    await user.click(within(form).getByText(/Story options:/));
    await user.selectOptions(within(form).getByLabelText('Audience'), 'CHILDREN');
    await user.type(within(form).getByLabelText('Genre'), ' fairy tale ');
    await user.selectOptions(within(form).getByLabelText('Length'), 'SHORT');
    await user.type(within(form).getByLabelText('Language'), 'zh-TW');
    expect(within(form).getByText(/Story options:/)).toHaveTextContent('for children · fairy tale · short · in Chinese (Taiwan) (zh-TW)');
    await user.type(within(form).getByLabelText('New prompt'), 'A lighthouse keeper');
    await user.click(screen.getByRole('button', { name: 'Add prompt' }));

    await screen.findByText('Prompt added.');
    expect(server.named('CreatePrompt')[0]?.variables).toEqual({
      content: 'A lighthouse keeper',
      options: { audience: 'CHILDREN', genre: 'fairy tale', length: 'SHORT', language: 'zh-TW' },
    });
    expect(JSON.parse(localStorage.getItem(REMEMBERED_KEY)!)).toMatchObject({ audience: 'CHILDREN', length: 'SHORT', language: 'zh-TW' });

    // A new form (a reload) starts from them.
    view.unmount();
    setup();
    const again = screen.getByRole('form', { name: 'Add a prompt' });
    expect(within(again).getByLabelText('Audience')).toHaveValue('CHILDREN');
    expect(within(again).getByLabelText('Genre')).toHaveValue(' fairy tale ');
  });

  it('says what is wrong with a language tag and sends nothing', async () => {
    const user = userEvent.setup();
    const { server } = setup();
    const form = screen.getByRole('form', { name: 'Add a prompt' });
    await user.type(within(form).getByLabelText('Language'), 'not a tag!');
    await user.type(within(form).getByLabelText('New prompt'), 'A lighthouse keeper');
    await user.click(screen.getByRole('button', { name: 'Add prompt' }));
    expect(await within(form).findByText(/"not a tag!" is not a language tag/)).toHaveAttribute('role', 'alert');
    expect(within(form).getByLabelText('Language')).toHaveAttribute('aria-invalid', 'true');
    expect(server.named('CreatePrompt')).toEqual([]);
  });
});

describe('PromptDetail: story options', () => {
  const fog = prompt('p-1', 'A lighthouse keeper who teaches the fog to sing', undefined, 1, { audience: 'CHILDREN', tone: 'gentle', length: 'SHORT' });

  function setup(answer: (op: SentOperation) => unknown = () => undefined) {
    const server = fakeServer((op) => {
      const special = answer(op);
      if (special !== undefined) return special as never;
      switch (op.operationName) {
        case 'PromptWithStories':
          return { data: { node: { ...fog, stories: connection('Story', [story('s-0', 'p-1', { status: 'COMPLETED', text: 'Once.' })]) } } };
        case 'Models':
          return { data: { models: ['storyteller'] } };
        case 'GenerateStory':
          return { data: { generateStory: story('s-1', 'p-1', { status: 'PENDING' }) } };
        case 'UpdatePrompt':
          return { data: { updatePrompt: { ...fog, options: { ...fog.options, ...(op.variables.options as object) } } } };
        case 'Usage':
          return { data: { viewer: viewer() } };
        default:
          return new Error(`unexpected ${op.operationName}`);
      }
    });
    renderWithApi(<PromptDetail promptId="p-1" storyId={null} onSelectStory={() => {}} />, server.client);
    return server;
  }

  it("shows the prompt's options, and sends only what a story changes of them", async () => {
    const user = userEvent.setup();
    const server = setup();
    expect(await screen.findByText(/for children · gentle tone · short/, { selector: '.prompt-options span' })).toBeInTheDocument();

    const panel = screen.getByText(/Options for the next story/).closest('details')!;
    await user.click(within(panel).getByText(/Options for the next story/));
    expect(within(panel).getByLabelText('Tone')).toHaveValue('gentle');
    await user.clear(within(panel).getByLabelText('Tone'));
    await user.type(within(panel).getByLabelText('Tone'), 'suspenseful');
    await user.selectOptions(within(panel).getByLabelText('Audience'), '');
    expect(within(panel).getByText(/Options for the next story/)).toHaveTextContent('(changed)');
    await user.click(screen.getByRole('button', { name: 'Generate story' }));

    await waitFor(() => expect(server.named('GenerateStory')).toHaveLength(1));
    expect(server.named('GenerateStory')[0]?.variables).toEqual({ promptID: 'p-1', options: { tone: 'suspenseful', audience: null } });

    // Back to the prompt's: nothing but the prompt goes.
    await user.click(within(panel).getByRole('button', { name: "Use the prompt's options" }));
    await user.click(screen.getByRole('button', { name: 'Generate story' }));
    await waitFor(() => expect(server.named('GenerateStory')).toHaveLength(2));
    expect(server.named('GenerateStory')[1]?.variables).toEqual({ promptID: 'p-1' });
  });

  it("edits the prompt's options in place", async () => {
    const user = userEvent.setup();
    const server = setup();
    await user.click(await screen.findByRole('button', { name: 'Edit' }));
    const editor = screen.getByRole('form', { name: 'Edit the prompt' });
    await user.type(within(editor).getByLabelText('Genre'), 'sea shanty');
    await user.click(within(editor).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(server.named('UpdatePrompt')).toHaveLength(1));
    expect(server.named('UpdatePrompt')[0]?.variables).toEqual({ id: 'p-1', content: fog.content, options: { genre: 'sea shanty' } });
    expect(await screen.findByText(/for children · sea shanty · gentle tone · short/, { selector: '.prompt-options span' })).toBeInTheDocument();
  });

  it("shows the server's refusal of an option", async () => {
    const user = userEvent.setup();
    setup((op) => (op.operationName === 'GenerateStory' ? graphqlError('BAD_USER_INPUT', 'options.language: "xx-QQ" names no language') : undefined));
    await user.click(await screen.findByRole('button', { name: 'Generate story' }));
    expect(await screen.findByText(/Could not start a story: Options.language: "xx-QQ" names no language./)).toBeInTheDocument();
  });
});
