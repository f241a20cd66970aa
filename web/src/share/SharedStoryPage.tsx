import { useQuery } from '@apollo/client/react';
import { SHARED_STORY, isTerminal } from '../graphql/operations';
import { describeError } from '../lib/errors';
import { exportHref } from '../lib/exports';
import { PromptQuote } from '../components/LongText';
import { StoryArticle } from '../components/StoryArticle';
import { useFollowStory } from '../stream/follow';

/**
 * The public page of a share link, /s/<token>: the story and its prompt, read-only, live while
 * the story is being written. It needs no account; the token stands in for one, for this story
 * alone.
 */
export function SharedStoryPage({ token }: { token: string }) {
  const { data, loading, error, refetch } = useQuery(SHARED_STORY, { variables: { token }, fetchPolicy: 'cache-and-network' });
  const story = data?.sharedStory ?? null;
  useFollowStory(story?.id ?? '', story !== null && !isTerminal(story.status), token);

  let content;
  if (story) {
    content = (
      <div className="detail">
        <section className="card prompt-detail" aria-labelledby="shared-prompt-heading">
          <h2 id="shared-prompt-heading">Prompt</h2>
          <PromptQuote text={story.prompt.content} />
        </section>
        <StoryArticle
          story={story}
          after={
            isTerminal(story.status) && (
              <div className="generate-row">
                <a className="button" href={exportHref(story.id, 'md', token)} download>
                  Download Markdown
                </a>
                <a className="button" href={exportHref(story.id, 'epub', token)} download>
                  Download EPUB
                </a>
              </div>
            )
          }
        />
      </div>
    );
  } else if (data) {
    content = (
      <section className="card empty-state" aria-labelledby="shared-heading">
        <h2 id="shared-heading">Nothing to read here</h2>
        <p data-testid="share-gone">This link does not share anything (any more): its owner may have stopped sharing the story.</p>
      </section>
    );
  } else if (error && !loading) {
    content = (
      <div className="inline-error" role="alert">
        <p>Could not load the story: {describeError(error).message}</p>
        <button type="button" className="button" onClick={() => void refetch()}>
          Try again
        </button>
      </div>
    );
  } else {
    content = (
      <p className="muted" role="status">
        Loading the story…
      </p>
    );
  }

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
        <nav aria-label="storybot">
          <a href="/">Write your own stories</a>
        </nav>
      </header>
      <main id="main" className="page">
        <p className="muted">A story shared from storybot. It is read-only here.</p>
        {content}
      </main>
    </div>
  );
}
