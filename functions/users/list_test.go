package users_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"authfn/pkg/auth"
)

type userPage struct {
	Users      []auth.User `json:"users"`
	NextCursor *string     `json:"next_cursor"`
}

// page reads one page of GET /users with the query q.
func (f *fixture) page(t *testing.T, q url.Values) userPage {
	t.Helper()
	r := f.as(t, "GET", base+"/users?"+q.Encode(), nil).Want(200)
	var raw map[string]json.RawMessage
	r.JSON(&raw)
	if _, ok := raw["next_cursor"]; !ok {
		t.Fatalf("page has no next_cursor key: %s", r.Body)
	}
	if string(raw["users"]) == "null" {
		t.Fatalf("users = null, want a list: %s", r.Body)
	}
	var p userPage
	r.JSON(&p)
	return p
}

// walk follows next_cursor from the first page to the last and returns
// every user seen, in order, and the size of each page.
func (f *fixture) walk(t *testing.T, search string, limit int) ([]auth.User, []int) {
	t.Helper()
	var all []auth.User
	var sizes []int
	q := url.Values{"limit": {fmt.Sprint(limit)}}
	if search != "" {
		q.Set("q", search)
	}
	for range 1000 {
		p := f.page(t, q)
		all = append(all, p.Users...)
		sizes = append(sizes, len(p.Users))
		if p.NextCursor == nil {
			return all, sizes
		}
		if *p.NextCursor == "" {
			t.Fatalf("next_cursor = \"\", want null or a cursor")
		}
		q.Set("cursor", *p.NextCursor)
	}
	t.Fatal("the walk never reached a page with next_cursor null")
	return nil, nil
}

func ids(us []auth.User) []int64 {
	out := make([]int64, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

// bulkUsers inserts n users straight into the store (no bcrypt), named
// prefix0..prefixN-1, and returns them.
func (f *fixture) bulkUsers(t *testing.T, prefix string, n int) []auth.User {
	t.Helper()
	var out []auth.User
	for i := range n {
		u, err := f.SQL.CreateUser(context.Background(), auth.NewUser{
			Username: fmt.Sprintf("%s%03d", prefix, i), FullName: "Bulk " + prefix, PasswordHash: "x",
			Source: auth.SourceLocal, CreatedAt: f.Clock.Now(),
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func TestUserList(t *testing.T) {
	t.Parallel()
	f := setup(t)
	want := append([]auth.User{f.admin}, f.bulkUsers(t, "user", 11)...) // 12 users
	for _, tc := range []struct {
		limit int
		sizes []int
	}{
		{1, slices.Repeat([]int{1}, 12)},
		{5, []int{5, 5, 2}},
		{4, []int{4, 4, 4}}, // the last page is full and still says it is the last
		{12, []int{12}},
		{200, []int{12}},
	} {
		t.Run(fmt.Sprintf("limit=%d", tc.limit), func(t *testing.T) {
			got, sizes := f.walk(t, "", tc.limit)
			if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
				t.Errorf("ids walked (-want +got):\n%s", diff)
			}
			if !slices.Equal(sizes, tc.sizes) {
				t.Errorf("page sizes = %v, want %v", sizes, tc.sizes)
			}
		})
	}
	// A user created mid-walk (with a higher id) shows up on a later page;
	// none is seen twice.
	p := f.page(t, url.Values{"limit": {"6"}})
	late := f.bulkUsers(t, "late", 1)
	second := f.page(t, url.Values{"limit": {"200"}, "cursor": {*p.NextCursor}})
	got := append(ids(p.Users), ids(second.Users)...)
	if diff := cmp.Diff(append(ids(want), late[0].ID), got); diff != "" {
		t.Errorf("walk with a user created mid-walk (-want +got):\n%s", diff)
	}

	// Without a limit, a page holds 50.
	f.bulkUsers(t, "more", 48) // 61 with the admin
	p = f.page(t, url.Values{})
	if len(p.Users) != 50 || p.NextCursor == nil {
		t.Fatalf("first page without limit: %d users, next_cursor %v, want 50 and a cursor", len(p.Users), p.NextCursor)
	}
	rest := f.page(t, url.Values{"cursor": {*p.NextCursor}})
	if len(rest.Users) != 11 || rest.NextCursor != nil {
		t.Errorf("second page: %d users, next_cursor %v, want 11 and null", len(rest.Users), rest.NextCursor)
	}
}

func TestUserListSearch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	alice := f.mustCreate(t, "alice", "Alice Liddell", false)
	bob := f.mustCreate(t, "bob", "Robert ALICEson", false)
	carol := f.mustCreate(t, "Carol.K", "Carol King", false)
	underscore := f.mustCreate(t, "a_b", "Under Score", false)
	axb := f.mustCreate(t, "axb", "Ax B", false)
	percent := f.mustCreate(t, "dave", "Dave 100% Sure", false)
	plain := f.mustCreate(t, "erin", "Erin 100 Sure", false)
	backslash := f.mustCreate(t, "fred", `Fred \ Slash`, false)

	for _, tc := range []struct {
		q    string
		want []auth.User
	}{
		{"alice", []auth.User{alice, bob}},    // username of one, full name of the other
		{"ALICE", []auth.User{alice, bob}},    // without regard to case
		{"liddell", []auth.User{alice}},       // full name only
		{"carol.k", []auth.User{carol}},       // username in another case
		{"a_b", []auth.User{underscore}},      // _ is not a wildcard: axb does not match
		{"_", []auth.User{underscore}},        // nor on its own
		{"%", []auth.User{percent}},           // % is not a wildcard
		{"100%", []auth.User{percent}},        // "Erin 100 Sure" does not match
		{`\`, []auth.User{backslash}},         // nor is the escape character
		{"nobody", nil},                       // no match is an empty list
		{"ax", []auth.User{axb}},              // substring
		{"SURE", []auth.User{percent, plain}}, // several, in id order
	} {
		t.Run(tc.q, func(t *testing.T) {
			got, _ := f.walk(t, tc.q, 1) // one a page, so the cursor carries the search
			if diff := cmp.Diff(ids(tc.want), ids(got)); diff != "" {
				t.Errorf("q=%q ids (-want +got):\n%s", tc.q, diff)
			}
		})
	}

	// 64 characters (not bytes) is the most a search may have.
	f.as(t, "GET", base+"/users?"+url.Values{"q": {strings.Repeat("é", 64)}}.Encode(), nil).Want(200)
	r := f.as(t, "GET", base+"/users?"+url.Values{"q": {strings.Repeat("a", 65)}}.Encode(), nil).Want(422, "validation_failed")
	if got := fieldsOf(t, r); !slices.Equal(got, []string{"q"}) {
		t.Errorf("errors fields = %v, want [q]", got)
	}
	// Text that is not UTF-8, or holds a NUL, is refused as such (not as too long).
	for _, q := range []string{"%FF", "a%00b"} {
		r := f.as(t, "GET", base+"/users?q="+q, nil).Want(422, "validation_failed")
		if errs := r.Problem().Errors; len(errs) != 1 || errs[0].Field != "q" || strings.Contains(errs[0].Message, "64") {
			t.Errorf("q=%s: errors = %+v, want one for q that does not blame the length", q, errs)
		}
	}

	t.Run("bad query", func(t *testing.T) { badListQueries(t, f) })
}

// badListQueries: limit and cursor are checked before anything is read.
func badListQueries(t *testing.T, f *fixture) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, query string
		status      int
		code        string
		field       string
	}{
		{"limit 0", "limit=0", 422, "validation_failed", "limit"},
		{"limit 201", "limit=201", 422, "validation_failed", "limit"},
		{"limit -1", "limit=-1", 422, "validation_failed", "limit"},
		{"limit abc", "limit=abc", 422, "validation_failed", "limit"},
		{"limit 1.5", "limit=1.5", 422, "validation_failed", "limit"},
		{"limit huge", "limit=99999999999999999999999", 422, "validation_failed", "limit"},
		{"garbage cursor", "cursor=garbage!!", 400, "invalid_request", ""},
		{"base64 of junk", "cursor=" + enc("hello"), 400, "invalid_request", ""},
		{"negative id", "cursor=" + enc("u:-5"), 400, "invalid_request", ""},
		{"not a number", "cursor=" + enc("u:abc"), 400, "invalid_request", ""},
		{"padded base64", "cursor=" + url.QueryEscape(base64.URLEncoding.EncodeToString([]byte("u:12"))), 400, "invalid_request", ""},
		{"very long", "cursor=" + strings.Repeat("A", 5000), 400, "invalid_request", ""},
		{"limit 200", "limit=200", 200, "", ""},
		{"limit 1", "limit=1", 200, "", ""},
		{"a cursor this service made", "cursor=" + enc("u:1"), 200, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.as(t, "GET", base+"/users?"+tc.query, nil)
			if tc.code == "" {
				r.Want(tc.status)
				return
			}
			r.Want(tc.status, tc.code)
			if tc.field != "" {
				if got := fieldsOf(t, r); !slices.Equal(got, []string{tc.field}) {
					t.Errorf("errors fields = %v, want [%s]", got, tc.field)
				}
			}
		})
	}
}
