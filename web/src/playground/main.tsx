import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import { GraphiQL } from 'graphiql';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { resolveEndpoints } from '../lib/config';
import { createPlaygroundFetcher } from './fetcher';

// GraphiQL, its editor and its workers are all bundled by Vite: the playground loads nothing
// from anywhere but the storybot that serves it, so it works on a machine with no internet.

const defaultQuery = `# Welcome to the storybot playground.
#
# Signed in to storybot in this browser, you are signed in here too. Otherwise, create an
# API token (storybot's "API tokens" page) and put it in the Headers tab below:
#   {"Authorization": "Bearer <token>"}
# Subscriptions send it over the websocket too.
#
# Run an operation with Ctrl-Enter (or the ▶ button). Try, in order:
#   1. createPrompt, 2. generateStory with the prompt's id,
#   3. storyStream with the story's id, and watch the events arrive.

query Me {
  viewer { email role usage { tokensToday dailyTokenLimit storiesRunning maxRunning } }
}

query Prompts {
  prompts(first: 10) {
    totalCount
    edges {
      node {
        id
        content
        stories(first: 5) {
          edges { node { id status tokenCount } }
        }
      }
    }
  }
}

mutation CreatePrompt {
  createPrompt(input: { content: "A clockmaker who repairs time itself" }) { id content }
}

mutation GenerateStory($promptID: ID!) {
  generateStory(input: { promptID: $promptID }) { id status }
}

subscription StoryStream($storyID: ID!) {
  storyStream(storyID: $storyID) { seq delta status tokenCount error }
}
`;

const fetcher = createPlaygroundFetcher(resolveEndpoints());

// ?query=…&variables=… open the playground on a given operation (handy for links and tests).
const params = new URLSearchParams(window.location.search);

const root = document.getElementById('graphiql');
if (!root) throw new Error('playground.html has no #graphiql element');

createRoot(root).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      defaultQuery={defaultQuery}
      initialQuery={params.get('query') ?? undefined}
      initialVariables={params.get('variables') ?? undefined}
      defaultEditorToolsVisibility={params.has('variables') ? 'variables' : undefined}
    >
      <GraphiQL.Logo>
        <a href="/" style={{ color: 'inherit', textDecoration: 'none' }}>
          storybot
        </a>
      </GraphiQL.Logo>
    </GraphiQL>
  </StrictMode>,
);
