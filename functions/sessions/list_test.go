package sessions_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
	"authfn/pkg/testenv"
)

const idle = 7 * 24 * time.Hour

func TestSessionList(t *testing.T) {
	t.Parallel()
	f := setup(t)
	t0 := f.Clock.Now().UTC()
	alice, bob := f.user(t, "alice"), f.user(t, "bob")
	c := f.HTTP(t)

	f.Clock.Advance(time.Second)
	t1 := f.Clock.Now().UTC()
	c.RemoteAddr = "203.0.113.7:1234"
	a1 := f.Login(t, "alice", password, "User-Agent", "Mozilla/5.0 (A1)")
	f.Clock.Advance(time.Second)
	t2 := f.Clock.Now().UTC()
	c.RemoteAddr = "198.51.100.8:999"
	a2 := f.Login(t, "alice", password, "User-Agent", "Mozilla/5.0 (A2)")
	f.Clock.Advance(time.Second)
	t3 := f.Clock.Now().UTC()
	b1 := f.Login(t, "bob", password, "User-Agent", "curl/8.5")
	c.RemoteAddr = "192.0.2.10:40000"
	f.Clock.Advance(time.Minute)
	t4 := f.Clock.Now().UTC()
	f.do(t, "GET", base+"/me", nil, testenv.Bearer(a1.AccessToken)...).Want(200)
	f.Clock.Advance(time.Minute)
	t5 := f.Clock.Now().UTC()

	r := f.as(t, "GET", base+"/sessions", nil).Want(200)
	// Each session has exactly the fields of docs/api.md: no refresh-token
	// hash, no absolute expiry, nothing else.
	var raw struct {
		Sessions []map[string]json.RawMessage `json:"sessions"`
	}
	r.JSON(&raw)
	wantKeys := []string{"created_at", "current", "expires_at", "id", "ip_address", "last_seen_at", "user_agent", "user_id", "username"}
	for _, s := range raw.Sessions {
		var keys []string
		for k := range s {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("session keys = %v, want %v", keys, wantKeys)
		}
	}
	for _, secret := range []string{a1.RefreshToken, a1.AccessToken, f.adminPair.RefreshToken} {
		if strings.Contains(r.Body.String(), secret) {
			t.Errorf("the listing contains a token")
		}
	}
	var got sessionList
	r.JSON(&got)
	want := []auth.Session{
		{ID: f.adminPair.SessionID, UserID: f.admin.ID, Username: "root", CreatedAt: t0, LastSeenAt: t5, ExpiresAt: t0.Add(idle), IP: "192.0.2.10", Current: true},
		{ID: a1.SessionID, UserID: alice.ID, Username: "alice", CreatedAt: t1, LastSeenAt: t4, ExpiresAt: t1.Add(idle), IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (A1)"},
		{ID: a2.SessionID, UserID: alice.ID, Username: "alice", CreatedAt: t2, LastSeenAt: t2, ExpiresAt: t2.Add(idle), IP: "198.51.100.8", UserAgent: "Mozilla/5.0 (A2)"},
		{ID: b1.SessionID, UserID: bob.ID, Username: "bob", CreatedAt: t3, LastSeenAt: t3, ExpiresAt: t3.Add(idle), IP: "198.51.100.8", UserAgent: "curl/8.5"},
	}
	if diff := cmp.Diff(want, got.Sessions); diff != "" {
		t.Errorf("sessions (-want +got):\n%s", diff)
	}
	if got.NextCursor != nil {
		t.Errorf("next_cursor = %q, want null on the only page", *got.NextCursor)
	}
	if want := (auth.SessionStats{ActiveSessions: 4, ActiveUsers: 3}); got.Stats != want {
		t.Errorf("stats = %+v, want %+v", got.Stats, want)
	}

	// A logout drops the session from the listing and the totals.
	f.do(t, "POST", base+"/logout", nil, testenv.Bearer(a2.AccessToken)...).Want(200)
	got = f.list(t, 0, "")
	if ids := sessionIDs(got.Sessions); !slices.Equal(ids, []string{f.adminPair.SessionID, a1.SessionID, b1.SessionID}) {
		t.Errorf("after a logout, sessions = %v", ids)
	}
	if want := (auth.SessionStats{ActiveSessions: 3, ActiveUsers: 3}); got.Stats != want {
		t.Errorf("after a logout, stats = %+v, want %+v", got.Stats, want)
	}

	// Six days on, bob refreshes (renewing his idle expiry) and the admin
	// logs in again; one more day and the rest expire.
	f.Clock.Advance(6 * 24 * time.Hour)
	var b2 auth.TokenPair
	f.do(t, "POST", base+"/refresh", map[string]string{"refresh_token": b1.RefreshToken}).Want(200).JSON(&b2)
	t6 := f.Clock.Now().UTC()
	mid := f.Login(t, "root", adminPassword)
	f.Clock.Advance(24*time.Hour + time.Second)
	f.adminPair = f.Login(t, "root", adminPassword)
	f.adminAuthz = testenv.Bearer(f.adminPair.AccessToken)

	got = f.list(t, 0, "")
	if ids := sessionIDs(got.Sessions); !slices.Equal(ids, []string{b1.SessionID, mid.SessionID, f.adminPair.SessionID}) {
		t.Errorf("after expiry, sessions = %v, want bob's, and the admin's two newest", ids)
	}
	if len(got.Sessions) == 3 && !got.Sessions[0].ExpiresAt.Equal(t6.Add(idle)) {
		t.Errorf("bob's refreshed session expires_at = %v, want %v", got.Sessions[0].ExpiresAt, t6.Add(idle))
	}
	for _, s := range got.Sessions {
		if s.Current != (s.ID == f.adminPair.SessionID) {
			t.Errorf("session %s current = %v", s.ID, s.Current)
		}
	}
	if want := (auth.SessionStats{ActiveSessions: 3, ActiveUsers: 2}); got.Stats != want {
		t.Errorf("after expiry, stats = %+v, want %+v", got.Stats, want)
	}
	if l := f.userSessions(t, alice.ID); len(l) != 0 {
		t.Errorf("alice's expired sessions are listed: %v", sessionIDs(l))
	}
}

// TestSessionListPages: a walk of pages sees every session exactly once,
// in order, and next_cursor is null on the last page.
func TestSessionListPages(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	want := []string{f.adminPair.SessionID}
	for i := range 3 {
		name := fmt.Sprintf("user%d", i)
		f.user(t, name)
		for range 4 {
			f.Clock.Advance(time.Millisecond)
			p, err := f.Auth.Sessions.Login(ctx, name, password)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, p.SessionID)
		}
	}
	for _, limit := range []int{1, 3, 4, 13, 50, 200} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			got, pages := f.walk(t, limit, nil)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("walk (-want +got):\n%s", diff)
			}
			if wantPages := (len(want) + limit - 1) / limit; pages < wantPages {
				t.Errorf("%d pages, want at least %d", pages, wantPages)
			}
		})
	}
}

// walk follows next_cursor from the first page to the last and returns the
// session ids seen, in order, and the number of pages. between, if set,
// runs after each page.
func (f *fixture) walk(t testing.TB, limit int, between func()) ([]string, int) {
	t.Helper()
	var ids []string
	cursor := ""
	for pages := 1; pages < 10000; pages++ {
		l := f.list(t, limit, cursor)
		if len(l.Sessions) > limit {
			t.Fatalf("page of %d sessions, limit %d", len(l.Sessions), limit)
		}
		ids = append(ids, sessionIDs(l.Sessions)...)
		if l.NextCursor == nil {
			return ids, pages
		}
		if *l.NextCursor == "" || *l.NextCursor == cursor {
			t.Fatalf("next_cursor = %q after cursor %q: the walk would not advance", *l.NextCursor, cursor)
		}
		cursor = *l.NextCursor
		if between != nil {
			between()
		}
	}
	t.Fatal("the walk never reached a page with next_cursor null")
	return nil, 0
}

// TestSessionListWhileLoggingIn: pages of 7 walk every session that existed
// before the walk exactly once, and none twice, while logins keep adding
// sessions (at the same instant as the old ones, so new index entries land
// both before and after the cursor).
func TestSessionListWhileLoggingIn(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	const users, perUser = 5, 12 // 60 logins
	var names []string
	for i := range users {
		names = append(names, fmt.Sprintf("user%d", i))
		f.user(t, names[i])
	}
	before := map[string]bool{f.adminPair.SessionID: true}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() {
			for range perUser {
				p, err := f.Auth.Sessions.Login(ctx, name, password)
				if err != nil {
					t.Errorf("login %s: %v", name, err)
					return
				}
				mu.Lock()
				before[p.SessionID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(before) != users*perUser+1 {
		t.Fatalf("%d sessions before the walk, want %d", len(before), users*perUser+1)
	}

	// A goroutine logs in over and over during the walk; the walker waits
	// for at least two new sessions between pages, so the two interleave
	// whatever the scheduler does.
	made := make(chan string, 10000)
	stop := make(chan struct{})
	var loginErr error
	var bg sync.WaitGroup
	bg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p, err := f.Auth.Sessions.Login(ctx, names[i%users], password)
			if err != nil {
				loginErr = err
				close(made)
				return
			}
			made <- p.SessionID
		}
	})
	var during []string
	wait := func() {
		for range 2 {
			if id, ok := <-made; ok {
				during = append(during, id)
			}
		}
	}
	seen, pages := f.walk(t, 7, wait)
	close(stop)
	bg.Wait()
	if loginErr != nil {
		t.Fatalf("background login: %v", loginErr)
	}
	t.Logf("%d pages, %d sessions seen, %d created during the walk", pages, len(seen), len(during))
	if len(during) < 2*(pages-1) {
		t.Fatalf("only %d logins during a walk of %d pages", len(during), pages)
	}

	count := map[string]int{}
	for _, id := range seen {
		count[id]++
		if count[id] == 2 {
			t.Errorf("session %s seen twice", id)
		}
	}
	for id := range before {
		if count[id] != 1 {
			t.Errorf("session %s that existed before the walk seen %d times, want 1", id, count[id])
		}
	}
	// Sessions made during the walk are listed by a walk afterwards.
	after, _ := f.walk(t, 200, nil)
	for len(made) > 0 {
		during = append(during, <-made)
	}
	for _, id := range append(slices.Collect(maps.Keys(before)), during...) {
		if !slices.Contains(after, id) {
			t.Errorf("session %s missing from a walk after the logins stopped", id)
		}
	}
	if len(after) != len(before)+len(during) {
		t.Errorf("a later walk saw %d sessions, want %d", len(after), len(before)+len(during))
	}
	if st := f.stats(t); st.ActiveSessions != int64(len(after)) || st.ActiveUsers != users+1 {
		t.Errorf("stats = %+v, want %d sessions of %d users", st, len(after), users+1)
	}
}

func TestSessionListBadQuery(t *testing.T) {
	t.Parallel()
	f := setup(t)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, query string
		status      int
		code        string
	}{
		{"limit 0", "limit=0", 422, "validation_failed"},
		{"limit 201", "limit=201", 422, "validation_failed"},
		{"limit -3", "limit=-3", 422, "validation_failed"},
		{"limit abc", "limit=abc", 422, "validation_failed"},
		{"limit 2.0", "limit=2.0", 422, "validation_failed"},
		{"garbage cursor", "cursor=garbage!!", 400, "invalid_request"},
		{"base64 of junk", "cursor=" + enc("hello"), 400, "invalid_request"},
		{"a users cursor", "cursor=" + enc("u:1"), 400, "invalid_request"},
		{"bad time", "cursor=" + enc("00000000000000xx:1:s_x"), 400, "invalid_request"},
		{"too long", "cursor=" + strings.Repeat("A", 600), 400, "invalid_request"},
		{"limit 200", "limit=200", 200, ""},
		{"limit 1", "limit=1", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.as(t, "GET", base+"/sessions?"+tc.query, nil)
			if tc.code == "" {
				r.Want(tc.status)
				return
			}
			r.Want(tc.status, tc.code)
			if tc.status == 422 {
				var fields []string
				for _, e := range r.Problem().Errors {
					fields = append(fields, e.Field)
				}
				if !slices.Equal(fields, []string{"limit"}) {
					t.Errorf("errors fields = %v, want [limit]", fields)
				}
			}
		})
	}
	// The default page is 50.
	ctx := context.Background()
	f.user(t, "alice")
	for range 55 {
		if _, err := f.Auth.Sessions.Login(ctx, "alice", password); err != nil {
			t.Fatal(err)
		}
	}
	if l := f.list(t, 0, ""); len(l.Sessions) != 50 || l.NextCursor == nil || l.Stats.ActiveSessions != 56 {
		t.Errorf("default page: %d sessions, next_cursor %v, stats %+v; want 50, a cursor, 56", len(l.Sessions), l.NextCursor, l.Stats)
	}
}
