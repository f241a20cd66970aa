import { ApolloProvider } from '@apollo/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { createApi } from './graphql/client';
import { LiveStatusContext } from './graphql/live';
import { SessionContext } from './graphql/session';
import { resolveEndpoints } from './lib/config';
import { StoryFollowers } from './stream/follow';
import { ToastProvider } from './toast/toast';
import './styles.css';

const api = createApi(resolveEndpoints());
const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');

createRoot(root).render(
  <StrictMode>
    <ApolloProvider client={api.client}>
      <LiveStatusContext.Provider value={api.live}>
        <SessionContext.Provider value={api.session}>
          <ToastProvider>
            <StoryFollowers>
              <App />
            </StoryFollowers>
          </ToastProvider>
        </SessionContext.Provider>
      </LiveStatusContext.Provider>
    </ApolloProvider>
  </StrictMode>,
);
