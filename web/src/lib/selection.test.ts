import { describe, expect, it } from 'vitest';
import { formatSelection, parseSelection } from './selection';

describe('selection in the address', () => {
  it('round-trips a prompt and a story', () => {
    const search = formatSelection('', { promptId: 'PR_01', storyId: 'ST_02' });
    expect(search).toBe('?prompt=PR_01&story=ST_02');
    expect(parseSelection(search)).toEqual({ promptId: 'PR_01', storyId: 'ST_02' });
  });

  it('drops a story without its prompt and keeps other parameters', () => {
    expect(formatSelection('?lang=en&story=old', { promptId: null, storyId: 'ST_02' })).toBe('?lang=en');
    expect(formatSelection('?prompt=a', { promptId: null, storyId: null })).toBe('');
  });

  it('reads nothing from an empty address', () => {
    expect(parseSelection('')).toEqual({ promptId: null, storyId: null });
  });
});
