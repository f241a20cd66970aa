import type { StoryStatus } from '../graphql/operations';

const labels: Record<StoryStatus, string> = {
  PENDING: 'Pending',
  GENERATING: 'Generating',
  COMPLETED: 'Completed',
  FAILED: 'Failed',
  CANCELLED: 'Cancelled',
};

/** A story's status as a labelled badge (the colour only repeats what the word says). */
export function StatusBadge({ status }: { status: StoryStatus }) {
  return (
    <span className={`badge badge-${status.toLowerCase()}`} data-status={status}>
      {labels[status]}
    </span>
  );
}

/** The word a badge shows for a status. */
export function statusLabel(status: StoryStatus): string {
  return labels[status];
}
