import { useMutation } from '@apollo/client/react';
import { useId, useRef, useState, type FormEvent } from 'react';
import { SIGN_IN, SIGN_UP } from '../graphql/operations';
import { oidcLoginHref, resolveOidcName } from '../lib/config';
import { onLinkClick } from '../lib/route';
import { authErrorMessage, oidcErrorMessage, type AuthMode } from './messages';
import { useSignedIn } from './useSignedIn';

/** The shortest password the server accepts. */
export const MIN_PASSWORD_LENGTH = 8;

/** Props of AuthPage. */
export interface AuthPageProps {
  mode: AuthMode;
  /** The code of a failed OpenID Connect sign-in (/signin?error=…). */
  oidcError?: string | null;
  /** A note to show above the form, e.g. that the session ended. */
  notice?: string | null;
  /** Where the OpenID Connect sign-in comes back to: the page the visitor asked for. */
  next?: string;
  /** The provider's name; read from the page's meta tag by default. */
  oidcName?: string | null;
}

/**
 * Sign in, or create an account, with email and password; and, when the server has an
 * OpenID Connect provider, a "Sign in with …" link. Errors are explained by their code, next
 * to the form.
 */
export function AuthPage({ mode, oidcError = null, notice = null, next = '/', oidcName = resolveOidcName() }: AuthPageProps) {
  const signingUp = mode === 'signup';
  const ids = { email: useId(), password: useId(), name: useId(), hint: useId(), error: useId() };
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const [problem, setProblem] = useState<{ message: string; field?: 'email' | 'password' } | null>(
    oidcError ? { message: oidcErrorMessage(oidcError, oidcName ?? 'your provider') } : null,
  );
  const [busy, setBusy] = useState(false);
  const emailField = useRef<HTMLInputElement>(null);
  const passwordField = useRef<HTMLInputElement>(null);
  const [signIn] = useMutation(SIGN_IN);
  const [signUp] = useMutation(SIGN_UP);
  const signedIn = useSignedIn();

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (busy) return;
    const trimmed = email.trim();
    if (!trimmed.includes('@')) {
      setProblem({ message: 'Enter your email address.', field: 'email' });
      emailField.current?.focus();
      return;
    }
    if (password === '' || (signingUp && password.length < MIN_PASSWORD_LENGTH)) {
      setProblem({
        message: signingUp ? `Choose a password of at least ${MIN_PASSWORD_LENGTH} characters.` : 'Enter your password.',
        field: 'password',
      });
      passwordField.current?.focus();
      return;
    }
    setProblem(null);
    setBusy(true);
    try {
      if (signingUp) {
        await signUp({ variables: { input: { email: trimmed, password, name: name.trim() || null } } });
      } else {
        await signIn({ variables: { input: { email: trimmed, password } } });
      }
      await signedIn();
      // The app takes over from here: the viewer in the cache puts it on screen.
    } catch (err) {
      setProblem({ message: authErrorMessage(mode, err) });
      setBusy(false);
    }
  }

  const title = signingUp ? 'Create your account' : 'Sign in';
  const invalid = (field: 'email' | 'password') => (problem?.field === field ? true : undefined);
  const describedBy = (field: 'email' | 'password') => (problem?.field === field ? ids.error : undefined);

  return (
    <div className="auth">
      <main id="main" className="auth-main">
        <h1 className="brand">
          <img src="/favicon.svg" alt="" width="28" height="28" />
          storybot
        </h1>
        <section className="card auth-card" aria-labelledby="auth-heading">
          <h2 id="auth-heading">{title}</h2>
          {notice && (
            <p className="notice" role="status">
              {notice}
            </p>
          )}
          <form onSubmit={submit} noValidate aria-labelledby="auth-heading" className="auth-form">
            <div className="field">
              <label htmlFor={ids.email} className="field-label">
                Email
              </label>
              <input
                id={ids.email}
                ref={emailField}
                className="text-input"
                type="email"
                autoComplete={signingUp ? 'email' : 'username'}
                value={email}
                onChange={(e) => setEmail(e.target.value)}
                aria-invalid={invalid('email')}
                aria-describedby={describedBy('email')}
                required
              />
            </div>
            <div className="field">
              <label htmlFor={ids.password} className="field-label">
                Password
              </label>
              <input
                id={ids.password}
                ref={passwordField}
                className="text-input"
                type="password"
                autoComplete={signingUp ? 'new-password' : 'current-password'}
                value={password}
                onChange={(e) => setPassword(e.target.value)}
                aria-invalid={invalid('password')}
                aria-describedby={[signingUp ? ids.hint : '', describedBy('password') ?? ''].join(' ').trim() || undefined}
                minLength={signingUp ? MIN_PASSWORD_LENGTH : undefined}
                required
              />
              {signingUp && (
                <span id={ids.hint} className="hint">
                  At least {MIN_PASSWORD_LENGTH} characters.
                </span>
              )}
            </div>
            {signingUp && (
              <div className="field">
                <label htmlFor={ids.name} className="field-label">
                  Name <span className="muted">(optional)</span>
                </label>
                <input id={ids.name} className="text-input" type="text" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} />
              </div>
            )}
            {problem && (
              <p id={ids.error} className="inline-error" role="alert" data-testid="auth-error">
                {problem.message}
              </p>
            )}
            <button type="submit" className="button primary wide" aria-disabled={busy || undefined}>
              {busy ? (signingUp ? 'Creating your account…' : 'Signing in…') : signingUp ? 'Create account' : 'Sign in'}
            </button>
          </form>
          {oidcName && (
            <>
              <p className="or" aria-hidden="true">
                or
              </p>
              <a className="button wide" href={oidcLoginHref(next)}>
                Sign in with {oidcName}
              </a>
            </>
          )}
          <p className="muted">
            {signingUp ? (
              <>
                Already have an account?{' '}
                <a href="/signin" onClick={onLinkClick('/signin')}>
                  Sign in
                </a>
              </>
            ) : (
              <>
                No account yet?{' '}
                <a href="/signup" onClick={onLinkClick('/signup')}>
                  Create one
                </a>
              </>
            )}
          </p>
        </section>
      </main>
    </div>
  );
}
