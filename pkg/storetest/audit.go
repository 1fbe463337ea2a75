package storetest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"authfn/pkg/auth"
)

// recordAll records events in order and returns them as the store keeps
// them (with IDs), in recording order.
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
	sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
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

// newestFirst sorts events as Events returns them: by time, then ID.
func newestFirst(es []auth.Event) {
	sort.Slice(es, func(i, j int) bool {
		a, b := es[i], es[j]
		return a.Time.After(b.Time) || a.Time.Equal(b.Time) && a.ID > b.ID
	})
}

func testEventsOrder(t *testing.T, s SQLStores) {
	// Recorded out of time order (two Lambdas with their own clocks), and
	// three at one instant: the log is newest first by time, then by ID.
	at := baseTime()
	all := recordAll(t, s, []auth.Event{
		{Time: at.Add(2 * time.Second), Type: auth.EventLogout},
		{Time: at, Type: auth.EventLogout},
		{Time: at.Add(time.Second), Type: auth.EventLogout},
		{Time: at.Add(time.Second), Type: auth.EventLogout},
		{Time: at.Add(time.Second), Type: auth.EventLogout},
	})
	want := []int64{all[0].ID, all[4].ID, all[3].ID, all[2].ID, all[1].ID}
	got, err := s.Events(t.Context(), auth.EventQuery{Limit: 10})
	if err != nil {
		t.Fatalf("Events error = %v", err)
	}
	if diff := cmp.Diff(want, eventIDs(got)); diff != "" {
		t.Errorf("Events order (-want +got):\n%s", diff)
	}
	// A page that ends inside the instant goes on inside it.
	got, err = s.Events(t.Context(), auth.EventQuery{Before: auth.EventKey{Time: all[3].Time, ID: all[3].ID}, Limit: 10})
	if err != nil {
		t.Fatalf("Events error = %v", err)
	}
	if diff := cmp.Diff(want[3:], eventIDs(got)); diff != "" {
		t.Errorf("Events after %d (-want +got):\n%s", all[3].ID, diff)
	}
}

func testEventsFilter(t *testing.T, s SQLStores) {
	types := []string{auth.EventLoginSucceeded, auth.EventLoginFailed, auth.EventUserUpdated}
	ids := []*int64{nil, new(int64(1)), new(int64(2)), new(int64(3))}
	var in []auth.Event
	for i := range 36 {
		in = append(in, auth.Event{
			// Minutes repeat (i/2) so that pages meet ties, and run
			// backwards every fifth event so that time and ID disagree.
			Time:     baseTime().Add(time.Duration(i/2-(i%5/4)*3) * time.Minute),
			Type:     types[i%3],
			ActorID:  ids[i%3],     // none, 1, 2
			TargetID: ids[(i/3)%4], // none, 1, 2, 3 in runs of three
			Username: fmt.Sprint("user", i),
		})
	}
	all := recordAll(t, s, in)
	newestFirst(all)
	is := func(p *int64, id int64) bool { return p != nil && *p == id }
	since, until := baseTime().Add(4*time.Minute), baseTime().Add(13*time.Minute)

	for _, typ := range []string{"", auth.EventLoginFailed, "no.such.type"} {
		for _, user := range []int64{0, 1, 2, 3, 99} {
			for _, window := range []struct{ since, until time.Time }{{}, {since, time.Time{}}, {time.Time{}, until}, {since, until}} {
				q := auth.EventQuery{Type: typ, UserID: user, Since: window.since, Until: window.until}
				var want []int64
				for _, e := range all {
					if (typ == "" || e.Type == typ) &&
						(user == 0 || is(e.ActorID, user) || is(e.TargetID, user)) &&
						(window.since.IsZero() || !e.Time.Before(window.since)) &&
						(window.until.IsZero() || e.Time.Before(window.until)) {
						want = append(want, e.ID)
					}
				}
				for _, limit := range []int{100, 4, 1} {
					name := fmt.Sprintf("type=%q user=%d since=%v until=%v limit=%d", typ, user, !window.since.IsZero(), !window.until.IsZero(), limit)
					t.Run(name, func(t *testing.T) {
						got := pageAll(t, s, q, limit)
						if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
							t.Errorf("Events ids, paged (-want +got):\n%s", diff)
						}
					})
				}
			}
		}
	}
	t.Run("no limit means a bounded default", func(t *testing.T) {
		got, err := s.Events(t.Context(), auth.EventQuery{})
		if err != nil {
			t.Fatalf("Events error = %v", err)
		}
		if len(got) != len(all) {
			t.Errorf("Events({}) returned %d events, want all %d", len(got), len(all))
		}
	})
}

// pageAll reads every event matching q, limit at a time, each page after
// the last event of the one before, as GET /audit's cursor does, and
// returns their IDs.
func pageAll(t *testing.T, s SQLStores, q auth.EventQuery, limit int) []int64 {
	t.Helper()
	var ids []int64
	q.Limit = limit
	for range 100 {
		page, err := s.Events(t.Context(), q)
		if err != nil {
			t.Fatalf("Events(%+v) error = %v", q, err)
		}
		if len(page) > limit {
			t.Fatalf("Events(%+v) returned %d events, more than the limit", q, len(page))
		}
		ids = append(ids, eventIDs(page)...)
		if len(page) < limit {
			return ids
		}
		last := page[len(page)-1]
		q.Before = auth.EventKey{Time: last.Time, ID: last.ID}
	}
	t.Fatalf("Events(%+v) did not end after 100 pages", q)
	return nil
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
	got, err := s.Events(t.Context(), auth.EventQuery{UserID: u.ID, Limit: 10})
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

func testCountEventsByHour(t *testing.T, s SQLStores) {
	// Events in a zone half an hour off UTC: hours are UTC hours
	// whatever zone a time comes in.
	ist := time.FixedZone("IST", 5*60*60+30*60)
	h0 := time.Date(2026, 6, 29, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return h0.Add(d).In(ist) }
	recordAll(t, s, []auth.Event{
		{Time: at(-time.Microsecond), Type: auth.EventLoginSucceeded}, // the hour before the window
		{Time: at(0), Type: auth.EventLoginSucceeded},
		{Time: at(59*time.Minute + 59*time.Second + 999999*time.Microsecond), Type: auth.EventLoginSucceeded},
		{Time: at(30 * time.Minute), Type: auth.EventLogout}, // a type not asked for
		{Time: at(time.Hour + time.Minute), Type: auth.EventLoginSucceeded},
		{Time: at(time.Hour + 2*time.Minute), Type: auth.EventLoginFailed},
		{Time: at(3*time.Hour + 30*time.Minute), Type: auth.EventLoginFailed},
		{Time: at(5 * time.Hour), Type: auth.EventLoginFailed}, // the end of the window is not in it
	})
	types := []string{auth.EventLoginSucceeded, auth.EventLoginFailed}
	count := func() []auth.HourCount {
		t.Helper()
		got, err := s.CountEventsByHour(t.Context(), types, h0.In(ist), h0.Add(5*time.Hour))
		if err != nil {
			t.Fatalf("CountEventsByHour error = %v", err)
		}
		for _, c := range got {
			if c.Hour.Location() != time.UTC {
				t.Errorf("hour %v: location = %v, want UTC", c.Hour, c.Hour.Location())
			}
		}
		slices.SortFunc(got, func(a, b auth.HourCount) int {
			if c := a.Hour.Compare(b.Hour); c != 0 {
				return c
			}
			return strings.Compare(a.Type, b.Type)
		})
		return got
	}
	want := []auth.HourCount{
		{Type: auth.EventLoginSucceeded, Hour: h0, Count: 2},
		{Type: auth.EventLoginFailed, Hour: h0.Add(time.Hour), Count: 1},
		{Type: auth.EventLoginSucceeded, Hour: h0.Add(time.Hour), Count: 1},
		{Type: auth.EventLoginFailed, Hour: h0.Add(3 * time.Hour), Count: 1},
	}
	if diff := cmp.Diff(want, count()); diff != "" {
		t.Errorf("CountEventsByHour (-want +got):\n%s", diff)
	}
	// Retention takes its events out of the counts too, in the same step.
	if n, err := s.DeleteEventsBefore(t.Context(), h0.Add(time.Hour+90*time.Second), 100); err != nil || n != 5 {
		t.Fatalf("DeleteEventsBefore = %d, %v; want 5, nil", n, err)
	}
	want = []auth.HourCount{
		{Type: auth.EventLoginFailed, Hour: h0.Add(time.Hour), Count: 1},
		{Type: auth.EventLoginFailed, Hour: h0.Add(3 * time.Hour), Count: 1},
	}
	if diff := cmp.Diff(want, count()); diff != "" {
		t.Errorf("CountEventsByHour after retention (-want +got):\n%s", diff)
	}
	if got, err := s.CountEventsByHour(t.Context(), []string{auth.EventMFAReset}, h0, h0.Add(5*time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("CountEventsByHour(a type never recorded) = %v, %v; want none", got, err)
	}
}
