import { useApolloClient, useMutation } from '@apollo/client/react';
import { useEffect, useId, useRef, useState } from 'react';
import { SIGN_OUT, USAGE, type Role, type Usage, type Viewer } from '../graphql/operations';
import { useToast } from '../toast/toast';

const roles: Record<Role, string> = { ADMIN: 'Administrator', USER: 'User' };

const count = new Intl.NumberFormat();

/** "1,234 of 10,000", or "1,234 (no limit)". */
export function ofLimit(used: number, limit: number | null): string {
  return limit === null ? `${count.format(used)} (no limit)` : `${count.format(used)} of ${count.format(limit)}`;
}

/** Today's usage against the user's limits. */
export function UsageSummary({ usage }: { usage: Usage }) {
  return (
    <dl className="usage">
      <div>
        <dt>Tokens today</dt>
        <dd data-testid="usage-tokens">{ofLimit(usage.tokensToday, usage.dailyTokenLimit)}</dd>
      </div>
      <div>
        <dt>Stories being written</dt>
        <dd data-testid="usage-running">{ofLimit(usage.storiesRunning, usage.maxRunning)}</dd>
      </div>
    </dl>
  );
}

/** Props of AccountMenu. */
export interface AccountMenuProps {
  viewer: Viewer;
  /** Called once the server has ended the session. */
  onSignedOut(): void;
}

/**
 * The account button of the top bar and the panel it opens: who is signed in, their role,
 * today's usage (read again each time the panel opens) and Sign out.
 */
export function AccountMenu({ viewer, onSignedOut }: AccountMenuProps) {
  const client = useApolloClient();
  const toast = useToast();
  const [open, setOpen] = useState(false);
  const panelId = useId();
  const root = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const [signOut, { loading: signingOut }] = useMutation(SIGN_OUT);

  useEffect(() => {
    if (!open) return;
    client.query({ query: USAGE, fetchPolicy: 'network-only' }).catch(() => {});
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Escape') return;
      setOpen(false);
      button.current?.focus();
    };
    const onPointer = (event: PointerEvent) => {
      if (!root.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('pointerdown', onPointer);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('pointerdown', onPointer);
    };
  }, [open, client]);

  async function leave() {
    if (signingOut) return;
    try {
      await signOut();
      onSignedOut();
    } catch (err) {
      toast.error('Could not sign out', err);
    }
  }

  return (
    <div className="account" ref={root}>
      <button
        ref={button}
        type="button"
        className="button ghost account-button"
        aria-expanded={open}
        aria-controls={panelId}
        onClick={() => setOpen((o) => !o)}
      >
        <span className="sr-only">Account: </span>
        <span className="account-email">{viewer.email}</span>
        <span aria-hidden="true" className="caret">
          ▾
        </span>
      </button>
      {open && (
        <section id={panelId} className="card account-panel" aria-label="Account">
          <div>
            {viewer.name && <p className="account-name">{viewer.name}</p>}
            <p className="account-email-full">{viewer.email}</p>
            <p className="muted small">
              Role: <span data-testid="account-role">{roles[viewer.role] ?? viewer.role}</span>
            </p>
          </div>
          <UsageSummary usage={viewer.usage} />
          <button type="button" className="button" onClick={() => void leave()} aria-disabled={signingOut || undefined}>
            {signingOut ? 'Signing out…' : 'Sign out'}
          </button>
        </section>
      )}
    </div>
  );
}
