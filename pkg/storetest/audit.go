package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"authfn/pkg/auth"
)

// recordAll records events in order and returns them as the store keeps
// them (with IDs), oldest first.
func recordAll(t *testing.T, s SQLStores, events []auth.Event) []auth.Event {
	t.Helper()
	for _, e := range events {
		if err := s.RecordEvent(t.Context(), e); err != nil {
			t.Fatalf("RecordEvent(%s) error = %v", e.Type, err)
		}
	}
	got, err := s.Events(t.Context(), auth.EventQuery{Limit: len(events) + 10})
	if err != nil {
		t.Fatalf("Events error = %v", err)
	}
	if len(got) != len(events) {
		t.Fatalf("Events returned %d events, want %d", len(got), len(events))
	}
	for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
		got[i], got[j] = got[j], got[i]
	}
	return got
}

func eventIDs(es []auth.Event) []int64 {
	ids := make([]int64, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

func testRecordEvent(t *testing.T, s SQLStores) {
	at := baseTime()
	in := []auth.Event{
		{
			Time: at, Type: auth.EventUserUpdated, ActorID: new(int64(1)), TargetID: new(int64(2)),
			Username: "bob", IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11)", RequestID: "req-1",
			Details: map[string]any{
				"changed": []any{"is_admin", "full_name"},
				"count":   float64(2), // JSON numbers come back as float64
				"nested":  map[string]any{"ok": true, "none": nil, "text": "ünïcödé \"quoted\""},
			},
		},
		{Time: at.Add(time.Second), Type: auth.EventLoginFailed, Username: "nobody", IP: "2001:db8::1"},
		{Time: at.Add(2 * time.Second), Type: auth.EventCleanupRun, Details: map[string]any{}},
	}
	// Stored without details, an event reads back without them; empty and
	// nil details are the same thing.
	opts := cmpopts.EquateEmpty()

	got := recordAll(t, s, in)
	for i := range got {
		if got[i].ID <= 0 {
			t.Errorf("event %d: ID = %d, want > 0", i, got[i].ID)
		}
		if i > 0 && got[i].ID <= got[i-1].ID {
			t.Errorf("event %d: ID = %d, want > %d (IDs grow in recording order)", i, got[i].ID, got[i-1].ID)
		}
		if loc := got[i].Time.Location(); loc != time.UTC {
			t.Errorf("event %d: Time location = %v, want UTC", i, loc)
		}
		want := in[i]
		want.ID = got[i].ID
		if diff := cmp.Diff(want, got[i], opts); diff != "" {
			t.Errorf("event %d (-want +got):\n%s", i, diff)
		}
	}
}

func testEventsFilter(t *testing.T, s SQLStores) {
	types := []string{auth.EventLoginSucceeded, auth.EventLoginFailed, auth.EventUserUpdated}
	var in []auth.Event
	for i := range 12 {
		e := auth.Event{Time: baseTime().Add(time.Duration(i) * time.Minute), Type: types[i%3], Username: fmt.Sprint("user", i)}
		if i%4 != 3 {
			e.TargetID = new(int64(i%4 + 1)) // targets 1, 2, 3; every fourth event has none
		}
		in = append(in, e)
	}
	all := recordAll(t, s, in)

	// pick returns the recorded events (newest first) that keep accepts.
	pick := func(keep func(i int, e auth.Event) bool) []int64 {
		var ids []int64
		for i := len(all) - 1; i >= 0; i-- {
			if keep(i, all[i]) {
				ids = append(ids, all[i].ID)
			}
		}
		return ids
	}
	first := func(n int, ids []int64) []int64 { return ids[:min(n, len(ids))] }
	mid := all[6].ID

	tests := []struct {
		name string
		q    auth.EventQuery
		want []int64
	}{
		{"all, newest first", auth.EventQuery{Limit: 100}, pick(func(int, auth.Event) bool { return true })},
		{"limit", auth.EventQuery{Limit: 5}, first(5, pick(func(int, auth.Event) bool { return true }))},
		{"no limit means a bounded default", auth.EventQuery{}, pick(func(int, auth.Event) bool { return true })},
		{"type", auth.EventQuery{Type: auth.EventLoginFailed, Limit: 100},
			pick(func(_ int, e auth.Event) bool { return e.Type == auth.EventLoginFailed })},
		{"unknown type", auth.EventQuery{Type: "no.such.type", Limit: 100}, nil},
		{"target", auth.EventQuery{TargetID: 2, Limit: 100},
			pick(func(_ int, e auth.Event) bool { return e.TargetID != nil && *e.TargetID == 2 })},
		{"before", auth.EventQuery{BeforeID: mid, Limit: 100}, pick(func(_ int, e auth.Event) bool { return e.ID < mid })},
		{"before, page", auth.EventQuery{BeforeID: mid, Limit: 2}, first(2, pick(func(_ int, e auth.Event) bool { return e.ID < mid }))},
		{"type and target", auth.EventQuery{Type: auth.EventLoginSucceeded, TargetID: 1, Limit: 100},
			pick(func(_ int, e auth.Event) bool {
				return e.Type == auth.EventLoginSucceeded && e.TargetID != nil && *e.TargetID == 1
			})},
		{"type, target and before", auth.EventQuery{Type: auth.EventUserUpdated, TargetID: 3, BeforeID: all[11].ID, Limit: 100},
			pick(func(_ int, e auth.Event) bool {
				return e.Type == auth.EventUserUpdated && e.TargetID != nil && *e.TargetID == 3 && e.ID < all[11].ID
			})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Events(t.Context(), tc.q)
			if err != nil {
				t.Fatalf("Events error = %v", err)
			}
			if diff := cmp.Diff(tc.want, eventIDs(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Events(%+v) ids (-want +got):\n%s", tc.q, diff)
			}
		})
	}
}

func testEventsOutliveUsers(t *testing.T, s SQLStores) {
	u := createUser(t, s, "leaver", false)
	if err := s.RecordEvent(t.Context(), auth.Event{Time: baseTime(), Type: auth.EventUserCreated, ActorID: &u.ID, TargetID: &u.ID}); err != nil {
		t.Fatalf("RecordEvent error = %v", err)
	}
	if err := s.DeleteUser(t.Context(), u.ID); err != nil {
		t.Fatalf("DeleteUser error = %v", err)
	}
	// An event about a user who never existed here (deleted long ago, or upstream).
	if err := s.RecordEvent(t.Context(), auth.Event{Time: baseTime(), Type: auth.EventUserDeleted, ActorID: new(int64(999_999)), TargetID: &u.ID}); err != nil {
		t.Fatalf("RecordEvent(unknown actor) error = %v", err)
	}
	got, err := s.Events(t.Context(), auth.EventQuery{TargetID: u.ID, Limit: 10})
	if err != nil {
		t.Fatalf("Events error = %v", err)
	}
	if len(got) != 2 {
		t.Errorf("events about the deleted user = %d, want 2", len(got))
	}
}

func testDeleteEventsBefore(t *testing.T, s SQLStores) {
	var in []auth.Event
	for i := range 5 {
		in = append(in, auth.Event{Time: baseTime().Add(time.Duration(i) * time.Minute), Type: auth.EventLogout})
	}
	all := recordAll(t, s, in)
	cutoff := baseTime().Add(3 * time.Minute) // events 0, 1, 2 are older; 3 is exactly at it

	steps := []struct {
		limit int
		want  int
	}{{0, 0}, {2, 2}, {2, 1}, {2, 0}}
	for i, step := range steps {
		n, err := s.DeleteEventsBefore(t.Context(), cutoff, step.limit)
		if err != nil {
			t.Fatalf("step %d: DeleteEventsBefore error = %v", i, err)
		}
		if n != step.want {
			t.Errorf("step %d: DeleteEventsBefore(limit %d) = %d, want %d", i, step.limit, n, step.want)
		}
	}
	got, err := s.Events(t.Context(), auth.EventQuery{Limit: 100})
	if err != nil {
		t.Fatalf("Events error = %v", err)
	}
	if diff := cmp.Diff([]int64{all[4].ID, all[3].ID}, eventIDs(got)); diff != "" {
		t.Errorf("events left (-want +got):\n%s", diff)
	}
}
