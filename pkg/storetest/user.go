package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"authfn/pkg/auth"
)

// createUser creates an active user; admin makes it an admin.
func createUser(t *testing.T, s SQLStores, username string, admin bool) auth.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), auth.NewUser{
		Username:     username,
		FullName:     "Full " + username,
		PasswordHash: "$2a$12$hash-of-" + username,
		IsAdmin:      admin,
		Source:       auth.SourceLocal,
		CreatedAt:    baseTime(),
	})
	if err != nil {
		t.Fatalf("CreateUser(%q) error = %v", username, err)
	}
	return u
}

// deactivate makes u inactive; the store must hold another active admin if u is one.
func deactivate(t *testing.T, s SQLStores, u auth.User) auth.User {
	t.Helper()
	u, err := s.UpdateUser(t.Context(), u.ID, auth.UserPatch{IsActive: new(false), UpdatedAt: baseTime()})
	if err != nil {
		t.Fatalf("UpdateUser(%d, inactive) error = %v", u.ID, err)
	}
	return u
}

func userIDs(us []auth.User) []int64 {
	ids := make([]int64, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return ids
}

func testCreateUser(t *testing.T, s SQLStores) {
	ctx := t.Context()
	at := baseTime()
	got, err := s.CreateUser(ctx, auth.NewUser{
		Username:     "Ada.Lovelace@example.org",
		FullName:     "Ada Lovelace",
		PasswordHash: "$2a$12$abcdefghijklmnopqrstuv",
		IsAdmin:      true,
		Source:       auth.SourceGPUStack,
		CreatedAt:    at,
	})
	if err != nil {
		t.Fatalf("CreateUser error = %v", err)
	}
	if got.ID <= 0 {
		t.Errorf("ID = %d, want > 0", got.ID)
	}
	want := auth.User{
		ID:           got.ID,
		Username:     "Ada.Lovelace@example.org",
		FullName:     "Ada Lovelace",
		IsAdmin:      true,
		IsActive:     true,
		Source:       auth.SourceGPUStack,
		CreatedAt:    at,
		UpdatedAt:    at,
		PasswordHash: "$2a$12$abcdefghijklmnopqrstuv",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CreateUser mismatch (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name string
		get  func() (auth.User, error)
	}{
		{"User", func() (auth.User, error) { return s.User(ctx, got.ID) }},
		{"UserByUsername", func() (auth.User, error) { return s.UserByUsername(ctx, "Ada.Lovelace@example.org") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read, err := tc.get()
			if err != nil {
				t.Fatalf("error = %v", err)
			}
			if diff := cmp.Diff(want, read); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			// cmp compares times with Equal; the API prints them, so the zone matters too.
			if loc := read.CreatedAt.Location(); loc != time.UTC {
				t.Errorf("CreatedAt location = %v, want UTC", loc)
			}
			if loc := read.UpdatedAt.Location(); loc != time.UTC {
				t.Errorf("UpdatedAt location = %v, want UTC", loc)
			}
		})
	}

	second := createUser(t, s, "second", false)
	if second.ID <= got.ID {
		t.Errorf("second ID = %d, want > %d", second.ID, got.ID)
	}
}

func testCreateUserDefaultSource(t *testing.T, s SQLStores) {
	u, err := s.CreateUser(t.Context(), auth.NewUser{Username: "nosource", CreatedAt: baseTime()})
	if err != nil {
		t.Fatalf("CreateUser error = %v", err)
	}
	if u.Source != auth.SourceLocal {
		t.Errorf("Source = %q, want %q", u.Source, auth.SourceLocal)
	}
	if u.FullName != "" || u.PasswordHash != "" {
		t.Errorf("FullName, PasswordHash = %q, %q, want empty", u.FullName, u.PasswordHash)
	}
}

func testCreateUserTaken(t *testing.T, s SQLStores) {
	first := createUser(t, s, "admin", true)
	for _, name := range []string{"admin", "Admin", "ADMIN", "aDmIn"} {
		t.Run(name, func(t *testing.T) {
			_, err := s.CreateUser(t.Context(), auth.NewUser{Username: name, CreatedAt: baseTime()})
			if !errors.Is(err, auth.ErrUsernameTaken) {
				t.Errorf("CreateUser(%q) error = %v, want ErrUsernameTaken", name, err)
			}
			if got := auth.ErrorCode(err); got != auth.CodeConflict {
				t.Errorf("ErrorCode = %q, want %q", got, auth.CodeConflict)
			}
		})
	}
	got, err := s.UserByUsername(t.Context(), "admin")
	if err != nil {
		t.Fatalf("UserByUsername error = %v", err)
	}
	if diff := cmp.Diff(first, got); diff != "" {
		t.Errorf("original user changed (-want +got):\n%s", diff)
	}
}

func testUserNotFound(t *testing.T, s SQLStores) {
	u := createUser(t, s, "someone", false)
	if _, err := s.User(t.Context(), u.ID+1000); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("User(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.UserByUsername(t.Context(), "someone-else"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("UserByUsername(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.UserByUsername(t.Context(), "someon_"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("UserByUsername(%q) error = %v, want ErrNotFound (no pattern matching)", "someon_", err)
	}
}

func testUserByUsernameIgnoresCase(t *testing.T, s SQLStores) {
	want := createUser(t, s, "Mixed.Case-User_1@Example.COM", false)
	createUser(t, s, "other", false)
	for _, name := range []string{
		"Mixed.Case-User_1@Example.COM",
		"mixed.case-user_1@example.com",
		"MIXED.CASE-USER_1@EXAMPLE.COM",
	} {
		t.Run(name, func(t *testing.T) {
			got, err := s.UserByUsername(t.Context(), name)
			if err != nil {
				t.Fatalf("UserByUsername error = %v", err)
			}
			if got.ID != want.ID {
				t.Errorf("ID = %d, want %d", got.ID, want.ID)
			}
		})
	}
}

func testListUsersPages(t *testing.T, s SQLStores) {
	var want []int64
	for i := range 7 {
		want = append(want, createUser(t, s, fmt.Sprintf("user%d", i), false).ID)
	}

	var got []int64
	var sizes []int
	after := int64(0)
	for range 10 {
		page, err := s.ListUsers(t.Context(), auth.UserQuery{AfterID: after, Limit: 3})
		if err != nil {
			t.Fatalf("ListUsers(after %d) error = %v", after, err)
		}
		sizes = append(sizes, len(page))
		if len(page) == 0 {
			break
		}
		got = append(got, userIDs(page)...)
		after = page[len(page)-1].ID
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids over all pages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{3, 3, 1, 0}, sizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}

	page, err := s.ListUsers(t.Context(), auth.UserQuery{AfterID: want[4], Limit: 100})
	if err != nil {
		t.Fatalf("ListUsers error = %v", err)
	}
	if diff := cmp.Diff(want[5:], userIDs(page)); diff != "" {
		t.Errorf("ids after %d (-want +got):\n%s", want[4], diff)
	}
}

func testListUsersSearch(t *testing.T, s SQLStores) {
	ids := map[string]int64{}
	for _, u := range []struct{ username, fullName string }{
		{"alice", "Alice Liddell"},
		{"bob", "Robert Paulson"},
		{"carol_1", "Carol Danvers"},
		{"dave", "100% Pure"},
		{"erin", `Back\slash`},
		{"frank", "Ævar Arnfjörð"},
		{"zabcz", "Zed"},
	} {
		created, err := s.CreateUser(t.Context(), auth.NewUser{Username: u.username, FullName: u.fullName, CreatedAt: baseTime()})
		if err != nil {
			t.Fatalf("CreateUser(%q) error = %v", u.username, err)
		}
		ids[u.username] = created.ID
	}
	tests := []struct {
		search string
		want   []string
	}{
		{"ALI", []string{"alice"}},           // username, any case
		{"liddell", []string{"alice"}},       // full name, any case
		{"bob", []string{"bob"}},             // username only ("Robert Paulson")
		{"paul", []string{"bob"}},            // full name only
		{"ar", []string{"carol_1", "frank"}}, // "carol_1" and "Ævar"
		{"%", []string{"dave"}},              // a literal percent, not "anything"
		{"0% p", []string{"dave"}},           // a percent inside a term
		{"_", []string{"carol_1"}},           // a literal underscore, not "any character"
		{"a_c", nil},                         // would match "zabcz" if _ were a wildcard
		{`\`, []string{"erin"}},              // a literal backslash, not an escape
		{`k\s`, []string{"erin"}},            // a backslash before a letter
		{"ævar", []string{"frank"}},          // case folding beyond ASCII
		{"nobody", nil},                      // no match
		{"", []string{"alice", "bob", "carol_1", "dave", "erin", "frank", "zabcz"}}, // no filter
	}
	for _, tc := range tests {
		t.Run(tc.search, func(t *testing.T) {
			got, err := s.ListUsers(t.Context(), auth.UserQuery{Search: tc.search, Limit: 100})
			if err != nil {
				t.Fatalf("ListUsers(%q) error = %v", tc.search, err)
			}
			var want []int64
			for _, name := range tc.want {
				want = append(want, ids[name])
			}
			if diff := cmp.Diff(want, userIDs(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ListUsers(%q) ids (-want +got):\n%s", tc.search, diff)
			}
		})
	}
}

func testListUsersSearchPages(t *testing.T, s SQLStores) {
	var want []int64
	for i := range 9 {
		name := fmt.Sprintf("other%d", i)
		if i%2 == 0 {
			name = fmt.Sprintf("match%d", i)
		}
		u := createUser(t, s, name, false)
		if i%2 == 0 {
			want = append(want, u.ID)
		}
	}
	var got []int64
	after := int64(0)
	for range 10 {
		page, err := s.ListUsers(t.Context(), auth.UserQuery{Search: "MATCH", AfterID: after, Limit: 2})
		if err != nil {
			t.Fatalf("ListUsers error = %v", err)
		}
		if len(page) > 2 {
			t.Fatalf("page of %d users, want at most 2", len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, userIDs(page)...)
		after = page[len(page)-1].ID
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids over all pages (-want +got):\n%s", diff)
	}
}

func testUpdateUser(t *testing.T, s SQLStores) {
	createUser(t, s, "keeper", true) // so that no case trips the last-admin guard
	later := baseTime().Add(90 * time.Minute)
	tests := []struct {
		name  string
		patch auth.UserPatch
		apply func(u *auth.User)
	}{
		{"nothing but the time", auth.UserPatch{}, func(u *auth.User) {}},
		{"full name", auth.UserPatch{FullName: new("New Name")}, func(u *auth.User) { u.FullName = "New Name" }},
		{"empty full name", auth.UserPatch{FullName: new("")}, func(u *auth.User) { u.FullName = "" }},
		{"promote", auth.UserPatch{IsAdmin: new(true)}, func(u *auth.User) { u.IsAdmin = true }},
		{"deactivate", auth.UserPatch{IsActive: new(false)}, func(u *auth.User) { u.IsActive = false }},
		{"password", auth.UserPatch{PasswordHash: new("$2a$12$new")}, func(u *auth.User) { u.PasswordHash = "$2a$12$new" }},
		{"everything", auth.UserPatch{FullName: new("All"), IsAdmin: new(true), IsActive: new(false), PasswordHash: new("h")},
			func(u *auth.User) { u.FullName, u.IsAdmin, u.IsActive, u.PasswordHash = "All", true, false, "h" }},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := createUser(t, s, fmt.Sprintf("patched%d", i), false)
			want := before
			tc.apply(&want)
			want.UpdatedAt = later
			p := tc.patch
			p.UpdatedAt = later
			got, err := s.UpdateUser(t.Context(), before.ID, p)
			if err != nil {
				t.Fatalf("UpdateUser error = %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("UpdateUser result (-want +got):\n%s", diff)
			}
			read, err := s.User(t.Context(), before.ID)
			if err != nil {
				t.Fatalf("User error = %v", err)
			}
			if diff := cmp.Diff(want, read); diff != "" {
				t.Errorf("User after update (-want +got):\n%s", diff)
			}
		})
	}
}

func testUpdateUserNotFound(t *testing.T, s SQLStores) {
	u := createUser(t, s, "exists", false)
	_, err := s.UpdateUser(t.Context(), u.ID+1000, auth.UserPatch{FullName: new("x"), UpdatedAt: baseTime()})
	if !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("UpdateUser(unknown) error = %v, want ErrNotFound", err)
	}
}

func testLastAdmin(t *testing.T, open func(t *testing.T) SQLStores) {
	type op struct {
		name string
		do   func(t *testing.T, s SQLStores, id int64) error
	}
	update := func(name string, p auth.UserPatch) op {
		return op{name, func(t *testing.T, s SQLStores, id int64) error {
			p.UpdatedAt = baseTime().Add(time.Hour)
			_, err := s.UpdateUser(t.Context(), id, p)
			return err
		}}
	}
	demote := update("demote", auth.UserPatch{IsAdmin: new(false)})
	deact := update("deactivate", auth.UserPatch{IsActive: new(false)})
	both := update("demote and deactivate", auth.UserPatch{IsAdmin: new(false), IsActive: new(false)})
	reaffirm := update("reaffirm", auth.UserPatch{IsAdmin: new(true), IsActive: new(true)})
	rename := update("rename", auth.UserPatch{FullName: new("Renamed")})
	del := op{"delete", func(t *testing.T, s SQLStores, id int64) error { return s.DeleteUser(t.Context(), id) }}

	// In every world "a" is an active admin and "u" an active plain user.
	const (
		alone         = "a alone"
		inactiveOther = "b inactive admin"
		activeOther   = "b active admin"
	)
	tests := []struct {
		world   string
		op      op
		target  string
		wantErr error
	}{
		{alone, demote, "a", auth.ErrLastAdmin},
		{alone, deact, "a", auth.ErrLastAdmin},
		{alone, both, "a", auth.ErrLastAdmin},
		{alone, del, "a", auth.ErrLastAdmin},
		{alone, reaffirm, "a", nil},
		{alone, rename, "a", nil},
		{alone, deact, "u", nil},
		{alone, del, "u", nil},
		{inactiveOther, demote, "a", auth.ErrLastAdmin},
		{inactiveOther, del, "a", auth.ErrLastAdmin},
		{inactiveOther, demote, "b", nil},
		{inactiveOther, del, "b", nil},
		{activeOther, demote, "a", nil},
		{activeOther, deact, "a", nil},
		{activeOther, del, "a", nil},
	}
	for _, tc := range tests {
		t.Run(tc.world+"/"+tc.op.name+" "+tc.target, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			users := map[string]auth.User{
				"a": createUser(t, s, "a", true),
				"u": createUser(t, s, "u", false),
			}
			if tc.world != alone {
				users["b"] = createUser(t, s, "b", true)
			}
			if tc.world == inactiveOther {
				users["b"] = deactivate(t, s, users["b"])
			}
			before := users[tc.target]
			wantAdmins, err := s.CountActiveAdmins(t.Context())
			if err != nil {
				t.Fatalf("CountActiveAdmins error = %v", err)
			}

			err = tc.op.do(t, s, before.ID)
			if tc.wantErr == nil {
				if err != nil {
					t.Errorf("%s error = %v, want nil", tc.op.name, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("%s error = %v, want %v", tc.op.name, err, tc.wantErr)
			}
			if got := auth.ErrorCode(err); got != auth.CodeConflict {
				t.Errorf("ErrorCode = %q, want %q", got, auth.CodeConflict)
			}
			after, err := s.User(t.Context(), before.ID)
			if err != nil {
				t.Fatalf("User after refused %s: error = %v", tc.op.name, err)
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("refused %s changed the user (-before +after):\n%s", tc.op.name, diff)
			}
			if got, err := s.CountActiveAdmins(t.Context()); err != nil || got != wantAdmins {
				t.Errorf("CountActiveAdmins = %d, %v; want %d", got, err, wantAdmins)
			}
		})
	}
}

func testLastAdminConcurrent(t *testing.T, s SQLStores) {
	type op struct {
		name string
		do   func(t *testing.T, id int64) error
	}
	demote := op{"demote", func(t *testing.T, id int64) error {
		_, err := s.UpdateUser(t.Context(), id, auth.UserPatch{IsAdmin: new(false), UpdatedAt: baseTime()})
		return err
	}}
	deact := op{"deactivate", func(t *testing.T, id int64) error {
		_, err := s.UpdateUser(t.Context(), id, auth.UserPatch{IsActive: new(false), UpdatedAt: baseTime()})
		return err
	}}
	del := op{"delete", func(t *testing.T, id int64) error { return s.DeleteUser(t.Context(), id) }}

	n := 0
	var survivor *auth.User // the one active admin the previous round left
	for _, pair := range [][2]op{{demote, demote}, {deact, deact}, {del, del}, {demote, del}, {deact, demote}} {
		t.Run(pair[0].name+"+"+pair[1].name, func(t *testing.T) {
			// Several rounds, because one can pass by luck of scheduling.
			for round := range 5 {
				// Exactly two active admins, racing to be the one who leaves.
				admins := make([]auth.User, 2)
				for i := range admins {
					n++
					admins[i] = createUser(t, s, fmt.Sprintf("admin%d", n), true)
				}
				if survivor != nil {
					if err := s.DeleteUser(t.Context(), survivor.ID); err != nil {
						t.Fatalf("DeleteUser(previous survivor) error = %v", err)
					}
				}

				errs := make([]error, 2)
				var start, wg sync.WaitGroup
				start.Add(1)
				for i := range 2 {
					wg.Go(func() {
						start.Wait()
						errs[i] = pair[i].do(t, admins[i].ID)
					})
				}
				start.Done()
				wg.Wait()

				ok, refused := 0, 0
				for i, err := range errs {
					switch {
					case err == nil:
						ok++
					case errors.Is(err, auth.ErrLastAdmin):
						refused++
						survivor = &admins[i]
					default:
						t.Errorf("round %d: %s error = %v, want nil or ErrLastAdmin", round, pair[i].name, err)
					}
				}
				if ok != 1 || refused != 1 {
					t.Fatalf("round %d: %d succeeded and %d refused, want 1 and 1", round, ok, refused)
				}
				if c, err := s.CountActiveAdmins(t.Context()); err != nil || c != 1 {
					t.Fatalf("round %d: CountActiveAdmins = %d, %v; want 1", round, c, err)
				}
			}
		})
	}
}

func testCreateFirstAdmin(t *testing.T, s SQLStores) {
	ctx := t.Context()
	plain := createUser(t, s, "plain", false) // a non-admin does not count

	_, created, err := s.CreateFirstAdmin(ctx, auth.NewUser{Username: "PLAIN", CreatedAt: baseTime()})
	if !errors.Is(err, auth.ErrUsernameTaken) || created {
		t.Errorf("CreateFirstAdmin(taken name) = %v, %v; want false, ErrUsernameTaken", created, err)
	}

	at := baseTime()
	got, created, err := s.CreateFirstAdmin(ctx, auth.NewUser{Username: "root", FullName: "Root", PasswordHash: "h", Source: auth.SourceLocal, CreatedAt: at})
	if err != nil || !created {
		t.Fatalf("CreateFirstAdmin = %v, %v; want true, nil", created, err)
	}
	want := auth.User{ID: got.ID, Username: "root", FullName: "Root", IsAdmin: true, IsActive: true,
		Source: auth.SourceLocal, CreatedAt: at, UpdatedAt: at, PasswordHash: "h"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CreateFirstAdmin user (-want +got):\n%s", diff)
	}

	for _, name := range []string{"root2", "plain"} {
		_, created, err = s.CreateFirstAdmin(ctx, auth.NewUser{Username: name, CreatedAt: at})
		if err != nil || created {
			t.Errorf("CreateFirstAdmin(%q) with an admin present = %v, %v; want false, nil", name, created, err)
		}
	}
	if _, err := s.UserByUsername(ctx, "root2"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("UserByUsername(root2) error = %v, want ErrNotFound", err)
	}
	if u, _ := s.User(ctx, plain.ID); u.IsAdmin {
		t.Errorf("plain user became an admin")
	}
	if n, err := s.CountActiveAdmins(ctx); err != nil || n != 1 {
		t.Errorf("CountActiveAdmins = %d, %v; want 1", n, err)
	}
}

func testCreateFirstAdminConcurrent(t *testing.T, s SQLStores) {
	const n = 5
	created := make([]bool, n)
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Go(func() {
			start.Wait()
			_, created[i], errs[i] = s.CreateFirstAdmin(t.Context(), auth.NewUser{Username: fmt.Sprintf("first%d", i), CreatedAt: baseTime()})
		})
	}
	start.Done()
	wg.Wait()
	count := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("CreateFirstAdmin #%d error = %v", i, errs[i])
		}
		if created[i] {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d calls created an admin, want 1", count)
	}
	users, err := s.ListUsers(t.Context(), auth.UserQuery{Limit: 100})
	if err != nil {
		t.Fatalf("ListUsers error = %v", err)
	}
	if len(users) != 1 {
		t.Errorf("%d users exist, want 1", len(users))
	}
}

func testDeleteUser(t *testing.T, s SQLStores) {
	ctx := t.Context()
	createUser(t, s, "admin", true)
	gone := createUser(t, s, "gone", true)
	stays := createUser(t, s, "stays", false)
	for _, u := range []auth.User{gone, stays} {
		if _, err := s.UpdatePreferences(ctx, u.ID, auth.Preferences{"theme": []byte(`"dark"`)}, auth.MaxPreferenceBytes); err != nil {
			t.Fatalf("UpdatePreferences error = %v", err)
		}
	}

	if err := s.DeleteUser(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteUser error = %v", err)
	}
	if _, err := s.User(ctx, gone.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("User(deleted) error = %v, want ErrNotFound", err)
	}
	if _, err := s.UserByUsername(ctx, "gone"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("UserByUsername(deleted) error = %v, want ErrNotFound", err)
	}
	if p, err := s.Preferences(ctx, gone.ID); err != nil || len(p) != 0 {
		t.Errorf("Preferences(deleted) = %v, %v; want empty (deleted with the user)", p, err)
	}
	if p, err := s.Preferences(ctx, stays.ID); err != nil || len(p) != 1 {
		t.Errorf("Preferences(other user) = %v, %v; want one key", p, err)
	}
	if err := s.DeleteUser(ctx, gone.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("DeleteUser(deleted) error = %v, want ErrNotFound", err)
	}
	if err := s.DeleteUser(ctx, stays.ID+1000); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("DeleteUser(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.User(ctx, stays.ID); err != nil {
		t.Errorf("User(other) error = %v", err)
	}
	// The name is free again.
	createUser(t, s, "GONE", false)
}

func testIDsNotReused(t *testing.T, s SQLStores) {
	createUser(t, s, "first", false)
	last := createUser(t, s, "last", false)
	if err := s.DeleteUser(t.Context(), last.ID); err != nil {
		t.Fatalf("DeleteUser error = %v", err)
	}
	next := createUser(t, s, "next", false)
	if next.ID <= last.ID {
		t.Errorf("ID after deleting %d = %d, want greater: an old token or audit record must not point at a new user", last.ID, next.ID)
	}
}

func testRecordLogin(t *testing.T, s SQLStores) {
	at := baseTime().Add(3 * time.Hour)
	tests := []struct {
		name     string
		rehash   string
		wantHash string // empty: unchanged
	}{
		{"keep hash", "", ""},
		{"rehash", "$2a$13$rehashed", "$2a$13$rehashed"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := createUser(t, s, fmt.Sprintf("login%d", i), false)
			recorded, err := s.RecordLogin(t.Context(), before.ID, at, before.PasswordHash, tc.rehash)
			if err != nil {
				t.Fatalf("RecordLogin error = %v", err)
			}
			got, err := s.User(t.Context(), before.ID)
			if err != nil {
				t.Fatalf("User error = %v", err)
			}
			want := before
			want.LastLoginAt = &at
			if tc.wantHash != "" {
				want.PasswordHash = tc.wantHash
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("user after RecordLogin (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(got, recorded); diff != "" {
				t.Errorf("RecordLogin's user differs from the stored one (-stored +returned):\n%s", diff)
			}
			if got.LastLoginAt != nil && got.LastLoginAt.Location() != time.UTC {
				t.Errorf("LastLoginAt location = %v, want UTC", got.LastLoginAt.Location())
			}
		})
	}
	if _, err := s.RecordLogin(t.Context(), 1_000_000, at, "", ""); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("RecordLogin(unknown) error = %v, want ErrNotFound", err)
	}
	// A login that raced a password change or a deactivation finds no row
	// and changes nothing.
	raced := createUser(t, s, "raced", false)
	if _, err := s.RecordLogin(t.Context(), raced.ID, at, "$2a$04$not-the-current-hash", ""); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("RecordLogin with a stale hash: error = %v, want ErrNotFound", err)
	}
	off := false
	if _, err := s.UpdateUser(t.Context(), raced.ID, auth.UserPatch{IsActive: &off, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordLogin(t.Context(), raced.ID, at, raced.PasswordHash, "$2a$13$rehashed"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("RecordLogin of a deactivated user: error = %v, want ErrNotFound", err)
	}
	got, err := s.User(t.Context(), raced.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastLoginAt != nil || got.PasswordHash != raced.PasswordHash {
		t.Errorf("a refused RecordLogin wrote: %+v", got)
	}
}

func testCountActiveAdmins(t *testing.T, s SQLStores) {
	ctx := t.Context()
	count := func() int {
		t.Helper()
		n, err := s.CountActiveAdmins(ctx)
		if err != nil {
			t.Fatalf("CountActiveAdmins error = %v", err)
		}
		return n
	}
	if got := count(); got != 0 {
		t.Errorf("CountActiveAdmins(empty) = %d, want 0", got)
	}
	createUser(t, s, "admin1", true)
	createUser(t, s, "admin2", true)
	deactivate(t, s, createUser(t, s, "admin3", true))
	createUser(t, s, "plain1", false)
	deactivate(t, s, createUser(t, s, "plain2", false))
	if got := count(); got != 2 {
		t.Errorf("CountActiveAdmins = %d, want 2", got)
	}
}

func testCountUsers(t *testing.T, s SQLStores) {
	ctx := t.Context()
	check := func(step string, want auth.UserCounts) {
		t.Helper()
		got, err := s.CountUsers(ctx)
		if err != nil {
			t.Fatalf("%s: CountUsers error = %v", step, err)
		}
		if got != want {
			t.Errorf("%s: CountUsers = %+v, want %+v", step, got, want)
		}
	}
	check("empty", auth.UserCounts{})
	root := createUser(t, s, "root", true)
	bob := createUser(t, s, "bob", false)
	carol := createUser(t, s, "carol", false)
	check("three created", auth.UserCounts{Total: 3, Active: 3, Admins: 1})
	if _, err := s.UpdateUser(ctx, bob.ID, auth.UserPatch{IsAdmin: new(true), UpdatedAt: baseTime()}); err != nil {
		t.Fatal(err)
	}
	check("bob promoted", auth.UserCounts{Total: 3, Active: 3, Admins: 2})
	// A patch that sets the flags to what they are, a new name, a login:
	// none of them changes a count.
	if _, err := s.UpdateUser(ctx, bob.ID, auth.UserPatch{IsAdmin: new(true), IsActive: new(true), FullName: new("Bob B"), UpdatedAt: baseTime()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordLogin(ctx, carol.ID, baseTime(), carol.PasswordHash, ""); err != nil {
		t.Fatal(err)
	}
	check("nothing counted changed", auth.UserCounts{Total: 3, Active: 3, Admins: 2})
	deactivate(t, s, bob)
	check("an admin deactivated", auth.UserCounts{Total: 3, Active: 2, Admins: 1})
	if err := s.DeleteUser(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	check("the inactive one deleted", auth.UserCounts{Total: 2, Active: 2, Admins: 1})
	if err := s.DeleteUser(ctx, carol.ID); err != nil {
		t.Fatal(err)
	}
	check("an active one deleted", auth.UserCounts{Total: 1, Active: 1, Admins: 1})
	// A refused change (the last admin) counts nothing.
	if _, err := s.UpdateUser(ctx, root.ID, auth.UserPatch{IsActive: new(false), UpdatedAt: baseTime()}); !errors.Is(err, auth.ErrLastAdmin) {
		t.Fatalf("deactivating the last admin: error = %v, want ErrLastAdmin", err)
	}
	check("refused", auth.UserCounts{Total: 1, Active: 1, Admins: 1})
}

func testCountUsersConcurrent(t *testing.T, s SQLStores) {
	// Counts kept by triggers must not lose an update when users come
	// and go at once.
	createUser(t, s, "root", true)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			u, err := s.CreateUser(t.Context(), auth.NewUser{Username: fmt.Sprintf("racer%d", i), Source: auth.SourceLocal, CreatedAt: baseTime()})
			if err != nil {
				t.Errorf("CreateUser error = %v", err)
				return
			}
			if i%2 == 0 {
				if _, err := s.UpdateUser(t.Context(), u.ID, auth.UserPatch{IsActive: new(false), UpdatedAt: baseTime()}); err != nil {
					t.Errorf("UpdateUser error = %v", err)
				}
			}
			if i%4 == 0 {
				if err := s.DeleteUser(t.Context(), u.ID); err != nil {
					t.Errorf("DeleteUser error = %v", err)
				}
			}
		})
	}
	wg.Wait()
	got, err := s.CountUsers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// 17 made, 4 deleted (all inactive), 4 more inactive.
	if want := (auth.UserCounts{Total: 13, Active: 9, Admins: 1}); got != want {
		t.Errorf("CountUsers = %+v, want %+v", got, want)
	}
}

func testPing(t *testing.T, s SQLStores) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping error = %v", err)
	}
}
