package broker

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSubscriptionOverflow(t *testing.T) {
	evs := textEvents("st_a", 20)
	r := resync("st_a")

	// A step publishes events [from, to), reads n events, or asks for a
	// Resync of every subscription.
	type step struct {
		publish    [2]int
		read       int
		resyncAll  bool
		wantRead   []Event
		wantQueued int
	}
	tests := []struct {
		name  string
		size  int
		steps []step
	}{
		{
			name: "events that fit are all delivered",
			size: 4,
			steps: []step{
				{publish: [2]int{0, 3}, wantQueued: 3},
				{read: 3, wantRead: evs[0:3]},
			},
		},
		{
			name: "overflow is one Resync behind the buffered events",
			size: 4,
			steps: []step{
				{publish: [2]int{0, 10}, wantQueued: 4},
				{read: 4, wantRead: []Event{evs[0], evs[1], evs[2], r}},
			},
		},
		{
			name: "events after the Resync is read flow again",
			size: 4,
			steps: []step{
				{publish: [2]int{0, 10}},
				{read: 4, wantRead: []Event{evs[0], evs[1], evs[2], r}},
				{publish: [2]int{10, 12}},
				{read: 2, wantRead: evs[10:12]},
			},
		},
		{
			name: "events queue behind an unread Resync once there is room",
			size: 4,
			steps: []step{
				{publish: [2]int{0, 10}},
				{read: 2, wantRead: evs[0:2]},
				{publish: [2]int{10, 11}, wantQueued: 3},
				{publish: [2]int{11, 14}, wantQueued: 4},
				{read: 4, wantRead: []Event{evs[2], r, evs[10], r}},
			},
		},
		{
			name: "smallest buffer",
			size: 2,
			steps: []step{
				{publish: [2]int{0, 5}, wantQueued: 2},
				{read: 2, wantRead: []Event{evs[0], r}},
				{publish: [2]int{5, 6}},
				{read: 1, wantRead: evs[5:6]},
			},
		},
		{
			name: "Resyncs for every subscription coalesce until read",
			size: 4,
			steps: []step{
				{resyncAll: true},
				{resyncAll: true, wantQueued: 1},
				{read: 1, wantRead: []Event{r}},
				{resyncAll: true, wantQueued: 1},
			},
		},
		{
			name: "a Resync for every subscription fits in a full buffer",
			size: 4,
			steps: []step{
				{publish: [2]int{0, 3}},
				{resyncAll: true, wantQueued: 4},
				{publish: [2]int{3, 5}, wantQueued: 4},
				{read: 4, wantRead: []Event{evs[0], evs[1], evs[2], r}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory(WithBufferSize(tt.size))
			defer m.Close()
			sub := m.Subscribe("st_a")
			for i, st := range tt.steps {
				for _, ev := range evs[st.publish[0]:st.publish[1]] {
					if err := m.Publish(context.Background(), ev); err != nil {
						t.Fatalf("step %d: Publish: %v", i, err)
					}
				}
				if st.resyncAll {
					m.hub.resyncAll()
				}
				if st.read > 0 {
					if diff := cmp.Diff(st.wantRead, collect(t, sub, st.read)); diff != "" {
						t.Errorf("step %d: read (-want +got):\n%s", i, diff)
					}
				}
				if st.wantQueued > 0 && len(sub.Events()) != st.wantQueued {
					t.Errorf("step %d: %d events queued, want %d", i, len(sub.Events()), st.wantQueued)
				}
			}
		})
	}
}

func TestPublishDoesNotWaitForSubscribers(t *testing.T) {
	m := NewMemory(WithBufferSize(2))
	defer m.Close()
	stuck := m.Subscribe("st_a") // never read until the end
	evs := textEvents("st_a", 10000)

	done := make(chan error, 1)
	go func() {
		for _, ev := range evs {
			if err := m.Publish(context.Background(), ev); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
	case <-time.After(waitTime):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	if diff := cmp.Diff([]Event{evs[0], resync("st_a")}, drain(stuck)); diff != "" {
		t.Errorf("stuck subscriber (-want +got):\n%s", diff)
	}
}
