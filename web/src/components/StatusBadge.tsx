import type { StoryStatus } from '../graphql/operations';

const labels: Record<StoryStatus, string> = {
  PENDING: 'Pending',
  GENERATING: 'Generating',
  COMPLETED: 'Completed',
  FAILED: 'Failed',
  CANCELLED: 'Cancelled',
};

/**
 * A story status this app does not know. The server sends only the statuses of its schema, and
 * it serves this app too, so the page is older than the server (open during an upgrade): the
 * error boundary asks for a reload, which brings the app that knows it.
 */
export class UnknownStatusError extends Error {
  constructor(readonly status: string) {
    super(`unknown story status ${JSON.stringify(status)}`);
    this.name = 'UnknownStatusError';
  }
}

/** The word a badge shows for a status; an unknown one throws UnknownStatusError. */
export function statusLabel(status: StoryStatus): string {
  const label = Object.hasOwn(labels, status) ? labels[status] : undefined;
  if (!label) throw new UnknownStatusError(status);
  return label;
}

/** A story's status as a labelled badge (the colour only repeats what the word says). */
export function StatusBadge({ status }: { status: StoryStatus }) {
  return (
    <span className={`badge badge-${status.toLowerCase()}`} data-status={status}>
      {statusLabel(status)}
    </span>
  );
}
