import type { ApolloLink } from '@apollo/client';
import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { SessionContext } from './graphql/session';
import { connection, fakeServer, prompt, renderWithApi, story, streamEvent, viewer } from './test/harness';

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
        case 'Viewer':
        case 'Usage':
          return { data: { viewer: viewer() } };
        case 'Models':
          return { data: { models: ['storyteller'] } };
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

describe('App: accounts', () => {
  // A fake server with a session: SignIn and SignUp start it, SignOut ends it.
  function accountServer(initiallySignedIn: boolean) {
    let signedIn = initiallySignedIn;
    const secret = prompt('p-9', 'A secret only Ada may read');
    const server = fakeServer((op) => {
      switch (op.operationName) {
        case 'Viewer':
        case 'Usage':
          return { data: { viewer: signedIn ? viewer() : null } };
        case 'SignIn':
          signedIn = true;
          return { data: { signIn: { __typename: 'User', id: 'u-1', email: 'ada@example.com' } } };
        case 'SignOut':
          signedIn = false;
          return { data: { signOut: true } };
        case 'Prompts':
          return signedIn
            ? { data: { prompts: connection('Prompt', [secret]) } }
            : { data: null, errors: [{ message: 'sign in', extensions: { code: 'UNAUTHENTICATED' } }] };
        default:
          return new Error(`unexpected ${op.operationName}`);
      }
    });
    return server;
  }

  it('shows the sign-in page to a visitor who is not signed in, and the app once signed in', async () => {
    const user = userEvent.setup();
    const server = accountServer(false);
    renderWithApi(<App />, server.client);

    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(server.named('Prompts')).toEqual([]);

    await user.type(screen.getByLabelText('Email'), 'ada@example.com');
    await user.type(screen.getByLabelText('Password'), 'correct horse');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('button', { name: /^A secret only Ada may read/ })).toBeInTheDocument();
    expect(server.named('SignIn')[0]?.variables).toEqual({ input: { email: 'ada@example.com', password: 'correct horse' } });
    // The viewer was asked again after signing in, with the new cookie.
    expect(server.named('Viewer').length).toBeGreaterThanOrEqual(2);
  });

  it('signs out: back at sign-in, with nothing of the user left on screen or in the cache', async () => {
    const user = userEvent.setup();
    window.history.replaceState(null, '', '/?prompt=p-9');
    const server = accountServer(true);
    renderWithApi(<App />, server.client);

    await screen.findByRole('button', { name: /^A secret only Ada may read/ });
    await user.click(screen.getByRole('button', { name: /Account/ }));
    expect(screen.getByTestId('account-role')).toHaveTextContent('Administrator');
    expect(screen.getByTestId('usage-tokens')).toHaveTextContent('1,234 (no limit)');
    expect(screen.getByTestId('usage-running')).toHaveTextContent('0 of 3');
    await user.click(screen.getByRole('button', { name: 'Sign out' }));

    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(window.location.pathname).toBe('/signin');
    expect(screen.queryByText(/A secret only Ada/)).not.toBeInTheDocument();
    expect(screen.queryByText('ada@example.com')).not.toBeInTheDocument();
    expect(JSON.stringify(server.client.extract())).not.toMatch(/secret only Ada|ada@example\.com/);
    expect(server.named('SignOut')).toHaveLength(1);
  });

  it('goes back to sign-in when the server no longer takes the session', async () => {
    let expire: () => void = () => {};
    const session = {
      changed: vi.fn(),
      onExpired(listener: () => void) {
        expire = listener;
        return () => {};
      },
    };
    const server = accountServer(true);
    renderWithApi(
      <SessionContext.Provider value={session}>
        <App />
      </SessionContext.Provider>,
      server.client,
    );
    await screen.findByRole('button', { name: /^A secret only Ada may read/ });

    act(() => expire());

    expect(await screen.findByText(/Your session has ended/)).toBeInTheDocument();
    expect(screen.getByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(screen.queryByText(/A secret only Ada/)).not.toBeInTheDocument();
    // The websocket starts over, so that it no longer carries the old session.
    expect(session.changed).toHaveBeenCalled();
  });

  it('shows a share link to a visitor without asking who they are', async () => {
    window.history.replaceState(null, '', '/s/gone-token');
    const server = fakeServer((op) => (op.operationName === 'SharedStory' ? { data: { sharedStory: null } } : new Error(`unexpected ${op.operationName}`)));
    renderWithApi(<App />, server.client);

    expect(await screen.findByText(/This link does not share anything \(any more\)/)).toBeInTheDocument();
    expect(server.named('SharedStory')[0]?.variables).toEqual({ token: 'gone-token' });
    expect(server.named('Viewer')).toEqual([]);
  });
});

describe('App: errors while showing a page', () => {
  it('keeps the frame and offers a way back when a page fails to render', async () => {
    const user = userEvent.setup();
    vi.spyOn(console, 'error').mockImplementation(() => {});
    window.history.replaceState(null, '', '/?prompt=p-1&story=s-1');
    const dragon = prompt('p-1', 'A dragon who collects teacups');
    // A status this app does not know: what a page older than its server would get.
    const strange = story('s-1', 'p-1', { status: 'FROM_THE_FUTURE', text: 'Tea' });
    const server = fakeServer((op) => {
      switch (op.operationName) {
        case 'Viewer':
        case 'Usage':
          return { data: { viewer: viewer() } };
        case 'Models':
          return { data: { models: ['storyteller'] } };
        case 'Prompts':
          return { data: { prompts: connection('Prompt', [dragon]) } };
        case 'PromptWithStories':
          return { data: { node: { ...dragon, stories: connection('Story', []) } } };
        case 'Story':
          return { data: { node: strange } };
        case 'StoryStream':
          return new Subject<ApolloLink.Result>();
        default:
          return new Error(`unexpected ${op.operationName}`);
      }
    });
    renderWithApi(<App />, server.client);

    expect(await screen.findByRole('heading', { name: 'Something went wrong' })).toBeInTheDocument();
    expect(screen.getByTestId('error-boundary')).toHaveTextContent('older than the server');
    // The navigation is still there.
    expect(screen.getByRole('navigation', { name: 'Pages' })).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Back to the prompts' }));
    expect(window.location.search).toBe('');
    expect(await screen.findByRole('button', { name: /^A dragon who collects teacups/ })).toBeInTheDocument();
    expect(screen.queryByTestId('error-boundary')).not.toBeInTheDocument();
    vi.restoreAllMocks();
  });
});
