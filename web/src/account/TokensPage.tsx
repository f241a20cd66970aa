import { useApolloClient, useMutation, useQuery } from '@apollo/client/react';
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { CopyField } from '../components/CopyField';
import { API_TOKENS, CREATE_API_TOKEN, REVOKE_API_TOKEN, type ApiToken } from '../graphql/operations';
import { describeError } from '../lib/errors';
import { formatTime } from '../lib/format';
import { useToast } from '../toast/toast';

/** The longest token name the server accepts. */
export const MAX_TOKEN_NAME_LENGTH = 100;

/** How long a new token may work, in days; null for no expiry. */
export const EXPIRY_CHOICES: ReadonlyArray<{ label: string; days: number | null }> = [
  { label: '7 days', days: 7 },
  { label: '30 days', days: 30 },
  { label: '90 days', days: 90 },
  { label: '1 year', days: 365 },
  { label: 'Never', days: null },
];

const DEFAULT_EXPIRY = '90 days';

/** When a token made now for that many days expires (ISO 8601); null for never. */
export function expiryFrom(days: number | null, now: Date = new Date()): string | null {
  return days === null ? null : new Date(now.getTime() + days * 86_400_000).toISOString();
}

type TokenState = 'active' | 'revoked' | 'expired';

function tokenState(token: ApiToken, now: number): TokenState {
  if (token.revokedAt) return 'revoked';
  if (token.expiresAt && new Date(token.expiresAt).getTime() <= now) return 'expired';
  return 'active';
}

const stateLabels: Record<TokenState, string> = { active: 'Active', revoked: 'Revoked', expired: 'Expired' };

/** The signed-in user's API tokens: create one (shown once), see them all, revoke one. */
export function TokensPage() {
  const { data, loading, error, refetch } = useQuery(API_TOKENS, { fetchPolicy: 'cache-and-network' });
  const [created, setCreated] = useState<{ token: string; name: string } | null>(null);
  const tokens = data?.apiTokens ?? [];

  return (
    <main id="main" className="page">
      <section className="card" aria-labelledby="tokens-heading">
        <h2 id="tokens-heading">API tokens</h2>
        <p className="muted">
          A token lets a script, or the GraphQL playground, act as you: send it as <code>Authorization: Bearer &lt;token&gt;</code> with
          each request, or as <code>{'{"authorization": "Bearer <token>"}'}</code> in a websocket's connection_init. Revoke a token you
          no longer use.
        </p>
        <CreateTokenForm onCreated={setCreated} />
        {created && <NewToken token={created.token} name={created.name} onDone={() => setCreated(null)} />}
      </section>
      <section className="card" aria-labelledby="token-list-heading" aria-busy={loading || undefined}>
        <h2 id="token-list-heading">
          Your tokens {data && <span className="count">{tokens.length}</span>}
        </h2>
        {loading && !data && (
          <p className="muted" role="status">
            Loading tokens…
          </p>
        )}
        {error && !data && (
          <div className="inline-error" role="alert">
            <p>Could not load your tokens: {describeError(error).message}</p>
            <button type="button" className="button" onClick={() => void refetch()}>
              Try again
            </button>
          </div>
        )}
        {data && tokens.length === 0 && <p className="muted">No tokens yet.</p>}
        {tokens.length > 0 && (
          <ul className="tokens">
            {tokens.map((token) => (
              <TokenRow key={token.id} token={token} />
            ))}
          </ul>
        )}
      </section>
    </main>
  );
}

function CreateTokenForm({ onCreated }: { onCreated(created: { token: string; name: string }): void }) {
  const client = useApolloClient();
  const toast = useToast();
  const ids = { name: useId(), expiry: useId(), warning: useId() };
  const [name, setName] = useState('');
  const [expiry, setExpiry] = useState(DEFAULT_EXPIRY);
  const [warning, setWarning] = useState<string | null>(null);
  const nameField = useRef<HTMLInputElement>(null);
  // The answer holds the token itself: keep it out of the cache, where it would outlive the page.
  const [createToken, { loading }] = useMutation(CREATE_API_TOKEN, { fetchPolicy: 'no-cache' });

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (loading) return;
    const trimmed = name.trim();
    if (!trimmed) {
      setWarning('Name the token after what will use it, e.g. "nightly export".');
      nameField.current?.focus();
      return;
    }
    setWarning(null);
    const days = EXPIRY_CHOICES.find((c) => c.label === expiry)?.days ?? null;
    try {
      const { data } = await createToken({ variables: { input: { name: trimmed, expiresAt: expiryFrom(days) } } });
      if (!data) return;
      const { token, apiToken } = data.createApiToken;
      client.cache.updateQuery({ query: API_TOKENS }, (cached) =>
        cached ? { apiTokens: [apiToken, ...cached.apiTokens.filter((t) => t.id !== apiToken.id)] } : cached,
      );
      setName('');
      onCreated({ token, name: apiToken.name });
    } catch (err) {
      toast.error('Could not create the token', err);
    }
  }

  return (
    <form className="token-form" onSubmit={submit} noValidate aria-label="Create a token">
      <div className="field">
        <label htmlFor={ids.name} className="field-label">
          Token name
        </label>
        <input
          id={ids.name}
          ref={nameField}
          className="text-input"
          value={name}
          maxLength={MAX_TOKEN_NAME_LENGTH}
          onChange={(e) => {
            setName(e.target.value);
            if (warning && e.target.value.trim()) setWarning(null);
          }}
          aria-invalid={warning ? true : undefined}
          aria-describedby={warning ? ids.warning : undefined}
        />
      </div>
      <div className="field">
        <label htmlFor={ids.expiry} className="field-label">
          Expires after
        </label>
        <select id={ids.expiry} className="text-input" value={expiry} onChange={(e) => setExpiry(e.target.value)}>
          {EXPIRY_CHOICES.map((c) => (
            <option key={c.label} value={c.label}>
              {c.label}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" className="button primary" aria-disabled={loading || undefined}>
        {loading ? 'Creating…' : 'Create token'}
      </button>
      {warning && (
        <p id={ids.warning} className="warning" role="alert">
          {warning}
        </p>
      )}
    </form>
  );
}

/** The token just created, shown this once. */
function NewToken({ token, name, onDone }: { token: string; name: string; onDone(): void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <section className="new-token" aria-labelledby="new-token-heading" data-testid="new-token">
      <h3 id="new-token-heading" ref={heading} tabIndex={-1}>
        Your new token “{name}”
      </h3>
      <p className="warning" role="alert">
        Copy it now: it will not be shown again. Anyone who has it can act as you, so keep it secret.
      </p>
      <CopyField label="New API token" value={token} copyLabel="Copy token" />
      <button type="button" className="button" onClick={onDone}>
        I have copied it
      </button>
    </section>
  );
}

function TokenRow({ token }: { token: ApiToken }) {
  const toast = useToast();
  const [confirming, setConfirming] = useState(false);
  const [revokeToken, { loading }] = useMutation(REVOKE_API_TOKEN);
  const state = tokenState(token, Date.now());
  const confirmButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);

  async function revoke() {
    if (loading) return;
    try {
      await revokeToken({ variables: { id: token.id } });
      toast.success(`Token “${token.name}” revoked.`);
    } catch (err) {
      toast.error('Could not revoke the token', err);
    } finally {
      setConfirming(false);
    }
  }

  return (
    <li className="token" data-token-id={token.id} data-state={state}>
      <div className="token-title">
        <strong className="token-name">{token.name}</strong>
        <span className={`badge badge-token-${state}`}>{stateLabels[state]}</span>
      </div>
      <dl className="token-dates small">
        <div>
          <dt>Created</dt>
          <dd>{formatTime(token.createdAt)}</dd>
        </div>
        <div>
          <dt>Last used</dt>
          <dd>{token.lastUsedAt ? formatTime(token.lastUsedAt) : 'Never'}</dd>
        </div>
        <div>
          <dt>{state === 'expired' ? 'Expired' : 'Expires'}</dt>
          <dd>{token.expiresAt ? formatTime(token.expiresAt) : 'Never'}</dd>
        </div>
        {token.revokedAt && (
          <div>
            <dt>Revoked</dt>
            <dd>{formatTime(token.revokedAt)}</dd>
          </div>
        )}
      </dl>
      {state === 'active' &&
        (confirming ? (
          <div className="confirm" role="group" aria-label={`Revoke token ${token.name}?`}>
            <p>Revoke “{token.name}”? Whatever uses it stops working at once.</p>
            <div className="form-row">
              <button ref={confirmButton} type="button" className="button danger" onClick={() => void revoke()} aria-disabled={loading || undefined}>
                {loading ? 'Revoking…' : 'Revoke token'}
              </button>
              <button type="button" className="button" onClick={() => setConfirming(false)}>
                Keep it
              </button>
            </div>
          </div>
        ) : (
          <button type="button" className="button ghost danger" aria-label={`Revoke token: ${token.name}`} onClick={() => setConfirming(true)}>
            Revoke…
          </button>
        ))}
    </li>
  );
}
