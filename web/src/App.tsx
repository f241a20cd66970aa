import { useApolloClient, useQuery } from '@apollo/client/react';
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { AccountMenu } from './account/AccountMenu';
import { AuthPage } from './account/AuthPage';
import { TokensPage } from './account/TokensPage';
import { ErrorBoundary } from './components/ErrorBoundary';
import { VIEWER, type Viewer } from './graphql/operations';
import { useSession } from './graphql/session';
import { describeError } from './lib/errors';
import { navigate, onLinkClick, useRoute, type Route } from './lib/route';
import { PromptsPage } from './pages/PromptsPage';
import { SharedStoryPage } from './share/SharedStoryPage';

/**
 * storybot in the browser. A share link's page is open to anyone; every other page needs an
 * account, so the app first asks who is signed in (viewer) and shows the sign-in page to
 * visitors who are not.
 */
export function App() {
  const route = useRoute();
  // Each session gets a fresh SignedInApp: clearing the cache at sign-out also detaches the
  // queries that were watching it, so the next visitor's start with new ones.
  const [sessions, setSessions] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const onSessionForgotten = useCallback((why: Leaving) => {
    setNotice(why === 'expired' ? 'Your session has ended. Sign in again to go on.' : null);
    setSessions((n) => n + 1);
  }, []);
  if (route.page === 'shared') {
    return (
      <ErrorBoundary key="shared" scope="page">
        <SharedStoryPage token={route.token} />
      </ErrorBoundary>
    );
  }
  return <SignedInApp key={sessions} route={route} notice={notice} onSessionForgotten={onSessionForgotten} />;
}

// Why the session is being forgotten: the user signed out, or the server stopped accepting it.
type Leaving = 'signed-out' | 'expired';

interface SignedInAppProps {
  route: Exclude<Route, { page: 'shared' }>;
  notice: string | null;
  onSessionForgotten(why: Leaving): void;
}

function SignedInApp({ route, notice, onSessionForgotten }: SignedInAppProps) {
  const client = useApolloClient();
  const session = useSession();
  const { data, error, refetch } = useQuery(VIEWER);
  const viewer = data?.viewer ?? null;
  const [leaving, setLeaving] = useState<Leaving | null>(null);

  // A request that comes back UNAUTHENTICATED while someone is signed in: the session ended.
  const signedIn = useRef(false);
  signedIn.current = viewer !== null;
  useEffect(() => session.onExpired(() => signedIn.current && setLeaving('expired')), [session]);

  // Forgetting the session happens once the signed-in pages are off the screen (the render
  // below shows none while leaving), so that nothing of theirs refetches meanwhile. The server
  // has already ended the session; the cache drops all it knew, and holds that no one is
  // signed in, which the next SignedInApp reads without asking the server.
  useEffect(() => {
    if (!leaving) return;
    session.changed();
    void client.clearStore().then(() => {
      client.writeQuery({ query: VIEWER, data: { viewer: null } });
      if (leaving === 'signed-out') navigate('/signin');
      onSessionForgotten(leaving);
    });
  }, [leaving, client, session, onSessionForgotten]);

  // Signed in on the sign-in or sign-up page (just now, or by a link): go to the prompts.
  const onAuthPage = route.page === 'signin' || route.page === 'signup';
  useEffect(() => {
    if (viewer && onAuthPage) navigate('/', { replace: true });
  }, [viewer, onAuthPage]);

  if (leaving) return <Splash status="Signing out…" />;
  if (!data) {
    if (!error) return <Splash status="Loading…" />;
    return (
      <Splash>
        <p className="inline-error" role="alert">
          Could not reach storybot: {describeError(error).message}
        </p>
        <button type="button" className="button" onClick={() => void refetch()}>
          Try again
        </button>
      </Splash>
    );
  }
  if (!viewer) {
    if (route.page === 'signup') return <AuthPage key="signup" mode="signup" />;
    const next = onAuthPage ? '/' : `${window.location.pathname}${window.location.search}`;
    return <AuthPage key="signin" mode="signin" oidcError={route.page === 'signin' ? route.error : null} notice={notice} next={next} />;
  }
  if (onAuthPage) return <Splash status="Loading…" />;
  return (
    <Shell viewer={viewer} route={route} onSignedOut={() => setLeaving('signed-out')}>
      {route.page === 'tokens' ? <TokensPage /> : <PromptsPage />}
    </Shell>
  );
}

/** The frame of the signed-in pages: the top bar with the navigation and the account menu. */
function Shell({ viewer, route, onSignedOut, children }: { viewer: Viewer; route: Route; onSignedOut(): void; children: ReactNode }) {
  const link = (to: string, page: Route['page'], label: string) => (
    <a href={to} onClick={onLinkClick(to)} aria-current={route.page === page ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <h1 className="brand">
          <img src="/favicon.svg" alt="" width="28" height="28" />
          storybot
        </h1>
        <nav aria-label="Pages">
          {link('/', 'prompts', 'Prompts')}
          {link('/tokens', 'tokens', 'API tokens')}
          <a href="/playground">GraphQL playground</a>
        </nav>
        <AccountMenu viewer={viewer} onSignedOut={onSignedOut} />
      </header>
      {/* A page that fails to render leaves the frame and its navigation in place. */}
      <ErrorBoundary key={route.page} scope="page" onBack={() => navigate('/')}>
        {children}
      </ErrorBoundary>
    </div>
  );
}

// What shows while the app cannot show a page yet: a status, or what went wrong.
function Splash({ status, children }: { status?: string; children?: ReactNode }) {
  return (
    <div className="auth">
      <main id="main" className="auth-main">
        <h1 className="brand">
          <img src="/favicon.svg" alt="" width="28" height="28" />
          storybot
        </h1>
        <div className="card splash">
          {status && (
            <p className="muted" role="status">
              {status}
            </p>
          )}
          {children}
        </div>
      </main>
    </div>
  );
}
