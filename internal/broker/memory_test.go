package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMemoryFanOut(t *testing.T) {
	a, b := textEvents("st_a", 3), textEvents("st_b", 2)
	tests := []struct {
		name    string
		subs    []string // story of each subscription
		publish []Event
		want    [][]Event // events of each subscription
	}{
		{
			name:    "one subscriber",
			subs:    []string{"st_a"},
			publish: a,
			want:    [][]Event{a},
		},
		{
			name:    "every subscriber of a story gets every event",
			subs:    []string{"st_a", "st_a", "st_a"},
			publish: a,
			want:    [][]Event{a, a, a},
		},
		{
			name:    "subscribers get only their story",
			subs:    []string{"st_a", "st_b", "st_c"},
			publish: append(append([]Event{}, a...), b...),
			want:    [][]Event{a, b, nil},
		},
		{
			name:    "no subscriber",
			publish: a,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory()
			defer m.Close()
			subs := make([]*Subscription, len(tt.subs))
			for i, id := range tt.subs {
				subs[i] = m.Subscribe(id)
			}
			for _, ev := range tt.publish {
				if err := m.Publish(context.Background(), ev); err != nil {
					t.Fatalf("Publish: %v", err)
				}
			}
			for i, sub := range subs {
				if diff := cmp.Diff(tt.want[i], drain(sub)); diff != "" {
					t.Errorf("subscription %d to %s (-want +got):\n%s", i, tt.subs[i], diff)
				}
			}
		})
	}
}

func TestMemoryOrder(t *testing.T) {
	const stories, events = 4, 500
	m := NewMemory(WithBufferSize(events + 1))
	defer m.Close()

	want := make(map[string][]Event)
	subs := make(map[string]*Subscription)
	for i := range stories {
		id := fmt.Sprintf("st_%d", i)
		want[id] = textEvents(id, events)
		subs[id] = m.Subscribe(id)
	}

	// Each story has its own publisher, all running at once.
	var wg sync.WaitGroup
	for _, evs := range want {
		wg.Go(func() {
			for _, ev := range evs {
				if err := m.Publish(context.Background(), ev); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	for id, sub := range subs {
		if diff := cmp.Diff(want[id], drain(sub)); diff != "" {
			t.Errorf("story %s (-want +got):\n%s", id, diff)
		}
	}
}

func TestMemoryClose(t *testing.T) {
	m := NewMemory()
	kept := m.Subscribe("st_a")
	gone := m.Subscribe("st_a")

	gone.Close()
	gone.Close() // a second Close does nothing
	if !isClosed(gone) {
		t.Error("channel of a closed subscription is still open")
	}
	if got := m.hub.count(); got != 1 {
		t.Errorf("broker holds %d subscriptions after one of two closed, want 1", got)
	}

	ev := textEvents("st_a", 1)[0]
	if err := m.Publish(context.Background(), ev); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if diff := cmp.Diff([]Event{ev}, drain(kept)); diff != "" {
		t.Errorf("open subscription (-want +got):\n%s", diff)
	}

	for i := range 2 {
		if err := m.Close(); err != nil {
			t.Errorf("Close #%d: %v", i+1, err)
		}
	}
	if !isClosed(kept) {
		t.Error("Close left a subscription open")
	}
	kept.Close() // closing after the broker is harmless
	if err := m.Publish(context.Background(), ev); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if late := m.Subscribe("st_a"); !isClosed(late) {
		t.Error("Subscribe after Close returned an open subscription")
	}
}

func TestPublishRejects(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
	}{
		{"no story ID", Event{Delta: "x"}},
		{"story ID too long", Event{StoryID: strings.Repeat("s", maxStoryIDLen+1)}},
		{"status too long", Event{StoryID: "st_a", Status: strings.Repeat("S", maxStatusLen+1)}},
		{"negative offset", Event{StoryID: "st_a", Offset: -1}},
		{"Resync set", Event{StoryID: "st_a", Resync: true}},
		{"invalid UTF-8 in Delta", Event{StoryID: "st_a", Delta: "caf\xe9"}},
		{"invalid UTF-8 in Error", Event{StoryID: "st_a", Status: "FAILED", Error: "\xff"}},
	}
	m := NewMemory()
	defer m.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := m.Publish(context.Background(), tt.ev); !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("Publish = %v, want ErrInvalidEvent", err)
			}
		})
	}
}
