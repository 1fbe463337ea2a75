package users_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
)

// eventPage is GET /audit's answer.
type eventPage struct {
	Events     []auth.Event `json:"events"`
	NextCursor *string      `json:"next_cursor"`
}

// audit reads one page of GET /audit with query q.
func (f *fixture) audit(t *testing.T, q url.Values) eventPage {
	t.Helper()
	var p eventPage
	f.as(t, "GET", base+"/audit?"+q.Encode(), nil).Want(200).JSON(&p)
	return p
}

// auditAll walks every page of GET /audit with query q, limit at a time,
// and returns the ids in the order served and the size of each page.
func (f *fixture) auditAll(t *testing.T, q url.Values, limit int) ([]int64, []int) {
	t.Helper()
	q = cloneQuery(q)
	q.Set("limit", strconv.Itoa(limit))
	var ids []int64
	var sizes []int
	for range 1000 {
		p := f.audit(t, q)
		for _, e := range p.Events {
			ids = append(ids, e.ID)
		}
		sizes = append(sizes, len(p.Events))
		if p.NextCursor == nil {
			return ids, sizes
		}
		q.Set("cursor", *p.NextCursor)
	}
	t.Fatal("the walk never reached a page with next_cursor null")
	return nil, nil
}

func cloneQuery(q url.Values) url.Values {
	c := url.Values{}
	for k, v := range q {
		c[k] = slices.Clone(v)
	}
	return c
}

// record writes events straight to the log, as the core would have.
func (f *fixture) record(t *testing.T, events ...auth.Event) {
	t.Helper()
	for _, e := range events {
		if err := f.SQL.RecordEvent(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuditListShowsWhatRoutesRecorded: an admin's change through the
// real routes comes back from GET /audit with every field of the
// contract, details included.
func TestAuditListShowsWhatRoutesRecorded(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.http(t).RemoteAddr = "198.51.100.23:5555"
	const ua = "AdminConsole/2.1 (audit list test)"
	alice := user(f.as(t, "POST", base+"/users", map[string]any{"username": "alice", "password": password},
		"User-Agent", ua, "X-Request-Id", "console-req-7").Want(201))

	p := f.audit(t, url.Values{"type": {auth.EventUserCreated}, "user_id": {fmt.Sprint(alice.ID)}})
	if len(p.Events) != 1 || p.NextCursor != nil {
		t.Fatalf("GET /audit = %+v, want alice's one user.created event on one page", p)
	}
	got := p.Events[0]
	want := auth.Event{
		ID: got.ID, Time: f.Clock.Now(), Type: auth.EventUserCreated, ActorID: &f.admin.ID, TargetID: &alice.ID,
		Username: "alice", IP: "198.51.100.23", UserAgent: ua, RequestID: "console-req-7",
		Details: map[string]any{"is_admin": false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}

	// Every field of the contract is there, null or empty included: an
	// event of the service itself has no actor, client or details.
	f.record(t, auth.Event{Time: f.Clock.Now(), Type: auth.EventCleanupRun})
	var raw struct {
		Events []map[string]any `json:"events"`
	}
	f.as(t, "GET", base+"/audit?type=cleanup.run", nil).Want(200).JSON(&raw)
	if len(raw.Events) != 1 {
		t.Fatalf("cleanup.run events = %d, want 1", len(raw.Events))
	}
	e := raw.Events[0]
	for _, k := range []string{"id", "time", "type", "actor_id", "target_id", "ip_address", "user_agent", "request_id", "details"} {
		if _, ok := e[k]; !ok {
			t.Errorf("event has no %q: %v", k, e)
		}
	}
	if e["actor_id"] != nil || e["target_id"] != nil || e["ip_address"] != "" {
		t.Errorf("actor_id, target_id, ip_address = %v, %v, %q; want null, null, empty", e["actor_id"], e["target_id"], e["ip_address"])
	}
	if d, ok := e["details"].(map[string]any); !ok || len(d) != 0 {
		t.Errorf("details = %#v, want {}", e["details"])
	}
}

// TestAuditListPages: newest first by time (then id), each page at most
// limit long, every event exactly once across pages, next_cursor null on
// the last page, also when events of one instant straddle a page and
// when ids and times disagree.
func TestAuditListPages(t *testing.T) {
	t.Parallel()
	f := setup(t)
	now := f.Clock.Now()
	for i := range 23 {
		// Three at each instant; every fourth recorded with an earlier
		// time than the one before it (another instance's clock).
		at := now.Add(time.Duration(i/3) * time.Second)
		if i%4 == 3 {
			at = at.Add(-5 * time.Second)
		}
		f.record(t, auth.Event{Time: at, Type: auth.EventLogout, Username: fmt.Sprint("u", i)})
	}
	all, err := f.SQL.Events(t.Context(), auth.EventQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, e := range all {
		want = append(want, e.ID)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Time.After(all[i-1].Time) || all[i].Time.Equal(all[i-1].Time) && all[i].ID > all[i-1].ID {
			t.Fatalf("the store's order is not newest first at %d: %+v, %+v", i, all[i-1], all[i])
		}
	}
	for _, limit := range []int{1, 3, 4, len(want), len(want) + 1, 200} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			got, sizes := f.auditAll(t, nil, limit)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ids over every page (-want +got):\n%s", diff)
			}
			for i, n := range sizes {
				if n > limit || (i < len(sizes)-1 && n != limit) {
					t.Errorf("page sizes = %v, want full pages of %d and a last one", sizes, limit)
					break
				}
			}
		})
	}
	t.Run("default limit", func(t *testing.T) {
		f.record(t, slices.Repeat([]auth.Event{{Time: now, Type: auth.EventLogout}}, 40)...)
		p := f.audit(t, nil)
		if len(p.Events) != auth.DefaultPageLimit || p.NextCursor == nil {
			t.Errorf("GET /audit = %d events, next_cursor %v; want %d and a cursor", len(p.Events), p.NextCursor, auth.DefaultPageLimit)
		}
	})
}

// TestAuditListFilters: type, user_id (as actor or as target), since
// (inclusive) and until (exclusive) each narrow the log, combine, and page.
func TestAuditListFilters(t *testing.T) {
	t.Parallel()
	f := setup(t)
	alice := f.mustCreate(t, "alice", "Alice", false)
	bob := f.mustCreate(t, "bob", "Bob", false)
	t0 := f.Clock.Now().Truncate(time.Second).Add(time.Second)
	id := func(u auth.User) *int64 { return &u.ID }
	f.record(t,
		auth.Event{Time: t0, Type: auth.EventLoginFailed, Username: "alice", TargetID: id(alice)},
		auth.Event{Time: t0.Add(time.Minute), Type: auth.EventLoginSucceeded, ActorID: id(alice), TargetID: id(alice)},
		auth.Event{Time: t0.Add(2 * time.Minute), Type: auth.EventUserUpdated, ActorID: id(alice), TargetID: id(bob)},
		auth.Event{Time: t0.Add(3 * time.Minute), Type: auth.EventLoginFailed, Username: "bob", TargetID: id(bob)},
		auth.Event{Time: t0.Add(4 * time.Minute), Type: auth.EventLoginFailed, Username: "nobody"},
		auth.Event{Time: t0.Add(5 * time.Minute), Type: auth.EventLogout, ActorID: id(alice), TargetID: id(alice)},
	)
	var everything eventPage
	f.as(t, "GET", base+"/audit?limit=200", nil).Want(200).JSON(&everything)
	is := func(p *int64, id int64) bool { return p != nil && *p == id }
	pick := func(keep func(e auth.Event) bool) []int64 {
		var ids []int64
		for _, e := range everything.Events {
			if keep(e) {
				ids = append(ids, e.ID)
			}
		}
		return ids
	}
	of := func(u auth.User) func(e auth.Event) bool {
		return func(e auth.Event) bool { return is(e.ActorID, u.ID) || is(e.TargetID, u.ID) }
	}
	ist := time.FixedZone("IST", 5*60*60+30*60)
	since, until := t0.Add(time.Minute), t0.Add(4*time.Minute)
	inWindow := func(e auth.Event) bool { return !e.Time.Before(since) && e.Time.Before(until) }

	tests := []struct {
		name string
		q    url.Values
		want []int64
	}{
		{"type", url.Values{"type": {auth.EventLoginFailed}}, pick(func(e auth.Event) bool { return e.Type == auth.EventLoginFailed })},
		{"a type never recorded", url.Values{"type": {auth.EventMFAReset}}, nil},
		{"user as actor or target", url.Values{"user_id": {fmt.Sprint(alice.ID)}}, pick(of(alice))},
		{"user as target only", url.Values{"user_id": {fmt.Sprint(bob.ID)}}, pick(of(bob))},
		{"a user who never was", url.Values{"user_id": {"999999"}}, nil},
		{"since is inclusive", url.Values{"since": {since.Format(time.RFC3339Nano)}}, pick(func(e auth.Event) bool { return !e.Time.Before(since) })},
		{"until is exclusive", url.Values{"until": {until.Format(time.RFC3339Nano)}}, pick(func(e auth.Event) bool { return e.Time.Before(until) })},
		{"window in another zone", url.Values{"since": {since.In(ist).Format(time.RFC3339)}, "until": {until.In(ist).Format(time.RFC3339)}}, pick(inWindow)},
		{"since a nanosecond after an event", url.Values{"since": {since.Add(time.Nanosecond).Format(time.RFC3339Nano)}},
			pick(func(e auth.Event) bool { return e.Time.After(since) })},
		{"type and user", url.Values{"type": {auth.EventLoginFailed}, "user_id": {fmt.Sprint(alice.ID)}},
			pick(func(e auth.Event) bool { return e.Type == auth.EventLoginFailed && of(alice)(e) })},
		{"user and window", url.Values{"user_id": {fmt.Sprint(alice.ID)}, "since": {since.Format(time.RFC3339)}, "until": {until.Format(time.RFC3339)}},
			pick(func(e auth.Event) bool { return of(alice)(e) && inWindow(e) })},
		{"all four", url.Values{"type": {auth.EventUserUpdated}, "user_id": {fmt.Sprint(bob.ID)}, "since": {since.Format(time.RFC3339)}, "until": {until.Format(time.RFC3339)}},
			pick(func(e auth.Event) bool { return e.Type == auth.EventUserUpdated && of(bob)(e) && inWindow(e) })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{200, 1} {
				got, _ := f.auditAll(t, tc.q, limit)
				if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("limit %d: ids (-want +got):\n%s", limit, diff)
				}
			}
		})
	}
	if n := len(pick(of(alice))); n < 4 {
		t.Fatalf("alice has %d events; the filter cases need more", n)
	}
}

// TestAuditListRejects: a parameter of the wrong type, out of range or
// given twice is 422 naming each such field; a cursor this service did
// not issue is 400; neither touches the log.
func TestAuditListRejects(t *testing.T) {
	t.Parallel()
	f := setup(t)
	idCursor := base64.RawURLEncoding.EncodeToString([]byte("u:5")) // a /users cursor
	tests := []struct {
		query  string
		status int
		fields []string
	}{
		{"limit=0", 422, []string{"limit"}},
		{"limit=201", 422, []string{"limit"}},
		{"limit=ten", 422, []string{"limit"}},
		{"type=no.such.type", 422, []string{"type"}},
		{"type=LOGIN.FAILED", 422, []string{"type"}},
		{"user_id=0", 422, []string{"user_id"}},
		{"user_id=-3", 422, []string{"user_id"}},
		{"user_id=05", 422, []string{"user_id"}},
		{"user_id=alice", 422, []string{"user_id"}},
		{"since=yesterday", 422, []string{"since"}},
		{"since=2026-06-29", 422, []string{"since"}},
		{"until=2026-13-01T00:00:00Z", 422, []string{"until"}},
		{"since=2026-06-29T10:00:00Z&until=2026-06-29T10:00:00Z", 422, []string{"until"}},
		{"since=2026-06-29T11:00:00Z&until=2026-06-29T10:00:00Z", 422, []string{"until"}},
		{"since=2026-06-29T12:00:00%2B02:00&until=2026-06-29T10:00:01Z", 200, nil}, // 10:00Z < 10:00:01Z
		{"type=logout&type=login.failed", 422, []string{"type"}},
		{"user_id=alice&since=later&limit=x", 422, []string{"limit", "since", "user_id"}},
		{"limit=0&type=bogus", 422, []string{"limit", "type"}},
		{"cursor=garbage!", 400, nil},
		{"cursor=" + idCursor, 400, nil},
		{"cursor=" + base64.RawURLEncoding.EncodeToString([]byte("a:1:0")), 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			r := f.as(t, "GET", base+"/audit?"+tc.query, nil)
			switch tc.status {
			case 422:
				r.Want(422, "validation_failed")
				got := fieldsOf(t, r)
				slices.Sort(got)
				if diff := cmp.Diff(tc.fields, got); diff != "" {
					t.Errorf("fields (-want +got):\n%s", diff)
				}
			case 400:
				r.Want(400, "invalid_request")
			default:
				r.Want(tc.status)
			}
		})
	}
}

// TestAuditListAfterDemotion: admin rights are read from the record, so a
// demoted admin's next GET /audit or GET /stats is 403 (docs/security.md 23).
func TestAuditListAfterDemotion(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustCreate(t, "carol", "Carol", true)
	carol := testenv.Bearer(f.Login(t, "carol", password).AccessToken)
	f.do(t, "GET", base+"/audit", nil, carol...).Want(200)
	f.do(t, "GET", base+"/stats", nil, carol...).Want(200)
	f.as(t, "PATCH", userPath(f.mustUser(t, "carol").ID), map[string]any{"is_admin": false}).Want(200)
	f.do(t, "GET", base+"/audit", nil, carol...).Want(403, "forbidden")
	f.do(t, "GET", base+"/stats", nil, carol...).Want(403, "forbidden")
}

// mustUser reads a user by name from the store.
func (f *fixture) mustUser(t *testing.T, username string) auth.User {
	t.Helper()
	u, err := f.SQL.UserByUsername(t.Context(), username)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
