import { describe, expect, it } from 'vitest';
import { storyLabel } from './StoryList';

describe('storyLabel', () => {
  it('tells stories apart by their first words, or their title once they have one', () => {
    expect(storyLabel({ status: 'COMPLETED', text: 'Once upon a time, in a lighthouse by the sea, there lived a keeper who collected umbrellas.' })).toBe(
      'Once upon a time, in a lighthouse by the sea, there lived a keeper who…',
    );
    expect(storyLabel({ status: 'GENERATING', text: '  The\n\nsea  ' })).toBe('The sea');
    expect(storyLabel({ status: 'COMPLETED', text: 'Once', title: 'The Umbrella Keeper' })).toBe('The Umbrella Keeper');
    expect(storyLabel({ status: 'PENDING', text: '' })).toBe('Waiting for the first words…');
    expect(storyLabel({ status: 'CANCELLED', text: '' })).toBe('No text');
  });
});
