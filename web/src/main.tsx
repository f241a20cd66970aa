import { ApolloProvider } from '@apollo/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { ErrorBoundary } from './components/ErrorBoundary';
import { createApi } from './graphql/client';
import { LiveStatusContext } from './graphql/live';
import { SessionContext } from './graphql/session';
import { TraceContext } from './graphql/trace';
import { resolveEndpoints } from './lib/config';
import { CooldownProvider } from './lib/cooldown';
import { StoryFollowers } from './stream/follow';
import { ToastProvider } from './toast/toast';
import './styles.css';

const api = createApi(resolveEndpoints());
const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');

createRoot(root).render(
  <StrictMode>
    <TraceContext.Provider value={api.traces}>
      <ErrorBoundary scope="app">
        <ApolloProvider client={api.client}>
          <LiveStatusContext.Provider value={api.live}>
            <SessionContext.Provider value={api.session}>
              <ToastProvider>
                <CooldownProvider>
                  <StoryFollowers>
                    <App />
                  </StoryFollowers>
                </CooldownProvider>
              </ToastProvider>
            </SessionContext.Provider>
          </LiveStatusContext.Provider>
        </ApolloProvider>
      </ErrorBoundary>
    </TraceContext.Provider>
  </StrictMode>,
);
