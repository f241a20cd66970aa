import { describeError, retryIn } from '../lib/errors';

/** Which form failed. */
export type AuthMode = 'signin' | 'signup';

/** Thrown when the server accepted a sign-in but the browser then sent no session cookie. */
export class CookieNotKeptError extends Error {
  constructor() {
    super('cookie not kept');
    this.name = 'CookieNotKeptError';
  }
}

/** What the sign-in or sign-up form says about a failed attempt, by the server's error code. */
export function authErrorMessage(mode: AuthMode, error: unknown): string {
  if (error instanceof CookieNotKeptError) {
    return 'You were signed in, but this browser did not keep the session cookie. storybot must be served over HTTPS (or from localhost) for cookies to work.';
  }
  const report = describeError(error);
  switch (report.code) {
    case 'UNAUTHENTICATED':
      return 'Wrong email or password.';
    case 'BAD_USER_INPUT':
      if (mode === 'signup' && /taken|already|exists|in use|registered/i.test(report.message)) {
        return 'An account with this email already exists. Sign in instead, or use another email.';
      }
      return `Check what you entered: ${report.message}`;
    case 'FORBIDDEN':
      return mode === 'signup'
        ? 'This server does not take sign-ups: its accounts are by invitation. Ask its administrator for one.'
        : 'This account may not sign in.';
    case 'RATE_LIMITED':
      return `Too many attempts. Wait and try again ${retryIn(report.retryAfter)}.`;
    default:
      return report.message;
  }
}

/**
 * What the sign-in page says when the OpenID Connect sign-in sent the browser back with
 * ?error=code (the server's codes: access_denied, provider, state, exchange, id_token,
 * forbidden, email_in_use, internal).
 */
export function oidcErrorMessage(code: string, provider: string): string {
  switch (code) {
    case 'access_denied':
      return `Signing in with ${provider} was cancelled or refused.`;
    case 'state':
      return `Signing in with ${provider} took too long, or was started in another tab. Try again.`;
    case 'forbidden':
      return `Your ${provider} account has no storybot account, and this server does not take sign-ups. Ask its administrator for one.`;
    case 'email_in_use':
      return `A storybot account already uses the email of your ${provider} account. Sign in with its password instead.`;
    case 'provider':
    case 'exchange':
    case 'id_token':
      return `${provider} did not complete the sign-in (${code}). Try again in a moment.`;
    case 'internal':
      return `Signing in with ${provider} failed on storybot's side. Try again in a moment.`;
    default:
      return `Signing in with ${provider} failed (${code}). Try again, or sign in with your email and password.`;
  }
}
