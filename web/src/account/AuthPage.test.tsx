import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { fakeServer, graphqlError, renderWithApi, viewer } from '../test/harness';
import { AuthPage } from './AuthPage';

async function fill(user: ReturnType<typeof userEvent.setup>, email: string, password: string) {
  await user.type(screen.getByLabelText('Email'), email);
  await user.type(screen.getByLabelText('Password'), password);
}

describe('sign-in', () => {
  it.each([
    ['UNAUTHENTICATED', {}, 'Wrong email or password.'],
    ['RATE_LIMITED', { retryAfter: 42 }, 'Too many attempts. Wait and try again in 42 seconds.'],
    ['RATE_LIMITED', {}, 'Too many attempts. Wait and try again in a moment.'],
    ['INTERNAL', {}, 'The server ran into a problem.'],
  ])('explains %s %j', async (code, extensions, message) => {
    const user = userEvent.setup();
    const server = fakeServer(() => graphqlError(code, 'nope', extensions));
    renderWithApi(<AuthPage mode="signin" oidcName={null} />, server.client);

    await fill(user, 'ada@example.com', 'wrong password');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByTestId('auth-error')).toHaveTextContent(message);
    expect(screen.getByRole('button', { name: 'Sign in' })).not.toHaveAttribute('aria-disabled');
    expect(server.named('SignIn')).toHaveLength(1);
  });

  it('says so when the server cannot be reached', async () => {
    const user = userEvent.setup();
    const server = fakeServer(() => new TypeError('Failed to fetch'));
    renderWithApi(<AuthPage mode="signin" oidcName={null} />, server.client);
    await fill(user, 'ada@example.com', 'whatever1');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByTestId('auth-error')).toHaveTextContent(/Could not reach the server/);
  });

  it('asks for the email and the password before sending anything', async () => {
    const user = userEvent.setup();
    const server = fakeServer(() => new Error('nothing should be sent'));
    renderWithApi(<AuthPage mode="signin" oidcName={null} />, server.client);

    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(screen.getByTestId('auth-error')).toHaveTextContent('Enter your email address.');
    expect(screen.getByLabelText('Email')).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByLabelText('Email')).toHaveFocus();

    await user.type(screen.getByLabelText('Email'), 'ada@example.com');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(screen.getByTestId('auth-error')).toHaveTextContent('Enter your password.');
    expect(screen.getByLabelText('Password')).toHaveFocus();
    expect(server.sent).toEqual([]);
  });

  it('asks who is signed in once the server accepted the password', async () => {
    const user = userEvent.setup();
    const server = fakeServer((op) =>
      op.operationName === 'SignIn'
        ? { data: { signIn: { __typename: 'User', id: 'u-1', email: 'ada@example.com' } } }
        : { data: { viewer: viewer() } },
    );
    renderWithApi(<AuthPage mode="signin" oidcName={null} />, server.client);
    await fill(user, ' ada@example.com ', 'correct horse');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    await waitFor(() => expect(server.named('Viewer')).toHaveLength(1));
    expect(server.named('SignIn')[0]?.variables).toEqual({ input: { email: 'ada@example.com', password: 'correct horse' } });
    expect(screen.queryByTestId('auth-error')).not.toBeInTheDocument();
  });

  it('explains a session cookie that the browser did not keep', async () => {
    const user = userEvent.setup();
    const server = fakeServer((op) =>
      op.operationName === 'SignIn' ? { data: { signIn: { __typename: 'User', id: 'u-1', email: 'a@b.c' } } } : { data: { viewer: null } },
    );
    renderWithApi(<AuthPage mode="signin" oidcName={null} />, server.client);
    await fill(user, 'a@b.c', 'correct horse');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByTestId('auth-error')).toHaveTextContent(/did not keep the session cookie/);
  });

  it('offers the OpenID Connect provider, coming back to the page asked for', () => {
    const server = fakeServer(() => new Error('nothing should be sent'));
    renderWithApi(<AuthPage mode="signin" oidcName="Acme SSO" next="/?prompt=p-1" />, server.client);
    expect(screen.getByRole('link', { name: 'Sign in with Acme SSO' })).toHaveAttribute('href', '/auth/oidc/login?next=%2F%3Fprompt%3Dp-1');
  });

  it('offers no provider when the server has none', () => {
    const server = fakeServer(() => new Error('nothing should be sent'));
    renderWithApi(<AuthPage mode="signin" oidcName={null} />, server.client);
    expect(screen.queryByRole('link', { name: /Sign in with/ })).not.toBeInTheDocument();
  });

  it('explains a failed OpenID Connect sign-in (/signin?error=…)', () => {
    const server = fakeServer(() => new Error('nothing should be sent'));
    renderWithApi(<AuthPage mode="signin" oidcName="Acme SSO" oidcError="access_denied" />, server.client);
    expect(screen.getByTestId('auth-error')).toHaveTextContent('Signing in with Acme SSO was cancelled or refused.');
  });
});

describe('sign-up', () => {
  it('creates an account with the optional name', async () => {
    const user = userEvent.setup();
    const server = fakeServer((op) =>
      op.operationName === 'SignUp' ? { data: { signUp: { __typename: 'User', id: 'u-1', email: 'ada@example.com' } } } : { data: { viewer: viewer() } },
    );
    renderWithApi(<AuthPage mode="signup" oidcName={null} />, server.client);
    await fill(user, 'ada@example.com', 'correct horse');
    await user.type(screen.getByLabelText(/Name/), 'Ada');
    await user.click(screen.getByRole('button', { name: 'Create account' }));

    await waitFor(() => expect(server.named('Viewer')).toHaveLength(1));
    expect(server.named('SignUp')[0]?.variables).toEqual({ input: { email: 'ada@example.com', password: 'correct horse', name: 'Ada' } });
  });

  it.each([
    ['BAD_USER_INPUT', 'email already taken', 'An account with this email already exists.'],
    ['BAD_USER_INPUT', 'email: not a valid address', 'Check what you entered: Email: not a valid address.'],
    ['FORBIDDEN', 'sign-up is by invitation', 'This server does not take sign-ups: its accounts are by invitation.'],
  ])('explains %s "%s"', async (code, serverMessage, message) => {
    const user = userEvent.setup();
    const server = fakeServer(() => graphqlError(code, serverMessage));
    renderWithApi(<AuthPage mode="signup" oidcName={null} />, server.client);
    await fill(user, 'ada@example.com', 'correct horse');
    await user.click(screen.getByRole('button', { name: 'Create account' }));
    expect(await screen.findByTestId('auth-error')).toHaveTextContent(message);
  });

  it('asks for a password of 8 characters or more', async () => {
    const user = userEvent.setup();
    const server = fakeServer(() => new Error('nothing should be sent'));
    renderWithApi(<AuthPage mode="signup" oidcName={null} />, server.client);
    await fill(user, 'ada@example.com', 'short');
    await user.click(screen.getByRole('button', { name: 'Create account' }));
    expect(screen.getByTestId('auth-error')).toHaveTextContent('Choose a password of at least 8 characters.');
    expect(screen.getByLabelText('Password')).toHaveAttribute('aria-invalid', 'true');
    expect(server.sent).toEqual([]);
  });
});

describe('oidcErrorMessage', () => {
  it('explains each code the server sends back, and any other', async () => {
    const { oidcErrorMessage } = await import('./messages');
    for (const code of ['access_denied', 'provider', 'state', 'exchange', 'id_token', 'forbidden', 'email_in_use', 'internal', 'new_one']) {
      expect(oidcErrorMessage(code, 'Acme')).toMatch(/Acme/);
    }
    expect(oidcErrorMessage('email_in_use', 'Acme')).toMatch(/already uses the email/);
    expect(oidcErrorMessage('new_one', 'Acme')).toMatch(/\(new_one\)/);
  });
});
