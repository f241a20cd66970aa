import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { fakeServer, renderWithApi } from '../test/harness';
import { TokensPage, expiryFrom } from './TokensPage';

function apiToken(id: string, name: string, overrides: Record<string, unknown> = {}) {
  return {
    __typename: 'ApiToken' as const,
    id,
    name,
    createdAt: '2025-01-02T10:00:00Z',
    lastUsedAt: null,
    expiresAt: null,
    revokedAt: null,
    ...overrides,
  };
}

const SECRET = 'sbt_9f8e7d6c5b4a39281706f5e4d3c2b1a0';

function setup() {
  const tokens = [
    apiToken('t-1', 'laptop script', { lastUsedAt: '2025-01-03T08:00:00Z' }),
    apiToken('t-2', 'old export', { revokedAt: '2025-01-02T12:00:00Z' }),
    apiToken('t-3', 'temporary', { expiresAt: '2020-01-01T00:00:00Z' }),
  ];
  const server = fakeServer((op) => {
    switch (op.operationName) {
      case 'ApiTokens':
        return { data: { apiTokens: tokens } };
      case 'CreateApiToken': {
        const input = op.variables.input as { name: string; expiresAt: string | null };
        return { data: { createApiToken: { __typename: 'NewApiToken', token: SECRET, apiToken: apiToken('t-4', input.name, { expiresAt: input.expiresAt }) } } };
      }
      case 'RevokeApiToken':
        return { data: { revokeApiToken: { ...tokens[0]!, revokedAt: '2025-01-04T09:00:00Z' } } };
      default:
        return new Error(`unexpected ${op.operationName}`);
    }
  });
  renderWithApi(<TokensPage />, server.client);
  return server;
}

const row = (name: string) => screen.getByText(name).closest('li') as HTMLElement;

describe('TokensPage', () => {
  it('lists the tokens with their dates and state', async () => {
    setup();
    await screen.findByText('laptop script');
    expect(within(row('laptop script')).getByText('Active', { selector: '.badge' })).toBeInTheDocument();
    expect(within(row('old export')).getByText('Revoked', { selector: '.badge' })).toBeInTheDocument();
    expect(within(row('temporary')).getByText('Expired', { selector: '.badge' })).toBeInTheDocument();
    expect(within(row('old export')).queryByRole('button')).not.toBeInTheDocument();
    expect(within(row('laptop script')).getByText('Expires').nextSibling).toHaveTextContent('Never');
  });

  it('shows a new token once, with a warning and a copy button, and keeps it out of the cache', async () => {
    const user = userEvent.setup();
    const server = setup();
    await screen.findByText('laptop script');

    await user.type(screen.getByLabelText('Token name'), 'nightly export');
    await user.selectOptions(screen.getByLabelText('Expires after'), 'Never');
    await user.click(screen.getByRole('button', { name: 'Create token' }));

    const shown = await screen.findByTestId('new-token');
    expect(within(shown).getByText(/it will not be shown again/)).toBeInTheDocument();
    expect(within(shown).getByLabelText('New API token')).toHaveValue(SECRET);
    expect(server.named('CreateApiToken')[0]?.variables).toEqual({ input: { name: 'nightly export', expiresAt: null } });
    // The new token heads the list, without a refetch.
    await waitFor(() => expect(screen.getAllByRole('listitem')[0]).toHaveTextContent('nightly export'));
    expect(server.named('ApiTokens')).toHaveLength(1);

    await user.click(within(shown).getByRole('button', { name: 'Copy token' }));
    expect(await navigator.clipboard.readText()).toBe(SECRET);
    expect(within(shown).getByRole('button', { name: 'Copied' })).toBeInTheDocument();

    expect(JSON.stringify(server.client.extract())).not.toContain(SECRET);
    await user.click(screen.getByRole('button', { name: 'I have copied it' }));
    expect(screen.queryByTestId('new-token')).not.toBeInTheDocument();
    expect(screen.queryByDisplayValue(SECRET)).not.toBeInTheDocument();
    expect(document.body.textContent).not.toContain(SECRET);
  });

  it('asks for a name before creating a token', async () => {
    const user = userEvent.setup();
    const server = setup();
    await screen.findByText('laptop script');
    await user.click(screen.getByRole('button', { name: 'Create token' }));
    expect(screen.getByText(/Name the token/)).toBeInTheDocument();
    expect(screen.getByLabelText('Token name')).toHaveAttribute('aria-invalid', 'true');
    expect(server.named('CreateApiToken')).toEqual([]);
  });

  it('revokes a token only once confirmed', async () => {
    const user = userEvent.setup();
    const server = setup();
    await screen.findByText('laptop script');

    await user.click(screen.getByRole('button', { name: 'Revoke token: laptop script' }));
    expect(server.named('RevokeApiToken')).toEqual([]);
    await user.click(screen.getByRole('button', { name: 'Keep it' }));
    expect(server.named('RevokeApiToken')).toEqual([]);

    await user.click(screen.getByRole('button', { name: 'Revoke token: laptop script' }));
    expect(screen.getByRole('button', { name: 'Revoke token' })).toHaveFocus();
    await user.click(screen.getByRole('button', { name: 'Revoke token' }));

    expect(await screen.findByText('Token “laptop script” revoked.')).toBeInTheDocument();
    expect(server.named('RevokeApiToken')[0]?.variables).toEqual({ id: 't-1' });
    await waitFor(() => expect(within(row('laptop script')).getByText('Revoked', { selector: '.badge' })).toBeInTheDocument());
  });

  it('works out expiry dates', () => {
    const now = new Date('2025-01-01T00:00:00Z');
    expect(expiryFrom(30, now)).toBe('2025-01-31T00:00:00.000Z');
    expect(expiryFrom(null, now)).toBeNull();
  });
});
