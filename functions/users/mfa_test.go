package users_test

import (
	"testing"

	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

func resetPath(id int64) string { return userPath(id) + "/mfa/reset" }

// TestMFAReset: an admin turns a user's MFA off (a lost phone); every
// session of the user ends, the password alone signs in again, and the
// reset is in the audit log. Every refusal changes nothing.
func TestMFAReset(t *testing.T) {
	f := setup(t)
	ada := f.CreateUser(t, "ada", password, false)
	adaPair := f.Login(t, "ada", password)
	m := f.EnrolMFA(t, adaPair.AccessToken, password)
	f.http(t).Do("POST", base+"/login", map[string]string{"username": "ada", "password": password}).Want(401, "mfa_required")

	f.do(t, "POST", resetPath(ada.ID), nil).Want(401, "invalid_token")
	f.do(t, "POST", resetPath(ada.ID), nil, testenv.Bearer(adaPair.AccessToken)...).Want(403, "forbidden")
	f.as(t, "POST", resetPath(ada.ID+100), nil).Want(404, "not_found")
	f.as(t, "POST", base+"/users/abc/mfa/reset", nil).Want(404, "not_found")
	f.as(t, "GET", resetPath(ada.ID), nil).Want(405, "method_not_allowed")
	if !f.getUser(t, ada.ID).MFAEnabled {
		t.Fatal("a refused reset turned MFA off")
	}

	f.as(t, "POST", resetPath(ada.ID), nil).Want(204)
	f.do(t, "GET", base+"/me", nil, testenv.Bearer(adaPair.AccessToken)...).Want(401, "invalid_token")
	if f.getUser(t, ada.ID).MFAEnabled {
		t.Error("mfa_enabled after the reset")
	}
	f.Login(t, "ada", password)
	f.as(t, "POST", resetPath(ada.ID), nil).Want(409, "conflict")
	ev := f.eventsOf(t, auth.EventMFAReset, ada.ID)
	if len(ev) != 1 || ev[0].ActorID == nil || *ev[0].ActorID != f.admin.ID || ev[0].Details["sessions_revoked"] != float64(1) || ev[0].RequestID == "" {
		t.Errorf("mfa.reset events %+v, want one by root, 1 session revoked, with a request id", ev)
	}
	// The old secret is gone: enrolling again makes a new one.
	if m2 := f.EnrolMFA(t, f.Login(t, "ada", password).AccessToken, password); m2.Secret == m.Secret {
		t.Error("re-enrolment after a reset kept the old secret")
	}
}

// TestAdminMFARequired: under ADMIN_MFA=required an admin without MFA is
// refused every admin route with 403 mfa_enrollment_required, on every
// group, while their own /me routes work; once enrolled the admin routes
// open, and an MFA reset closes them again at the next request. Users who
// are not admins still get forbidden.
func TestAdminMFARequired(t *testing.T) {
	env := testenv.New(t, func(c *app.Config) { c.AdminMFA = app.AdminMFARequired })
	f := &fixture{Served: env.Serve(t, web.Options{}, "LoginFunction", "UsersFunction", "SessionsFunction", "CleanupFunction")}
	root := f.CreateUser(t, "root", adminPassword, true)
	other := f.CreateUser(t, "other", adminPassword, true)
	f.CreateUser(t, "plain", password, false)
	pair := f.Login(t, "root", adminPassword)
	authz := testenv.Bearer(pair.AccessToken)
	adminRoutes := []route{
		{"GET", base + "/users", nil}, {"GET", userPath(root.ID), nil}, {"POST", resetPath(other.ID), nil},
		{"GET", base + "/sessions", nil}, {"POST", base + "/cleanup", nil},
	}
	for _, r := range adminRoutes {
		f.do(t, r.method, r.path, r.body, authz...).Want(403, "mfa_enrollment_required")
	}
	f.do(t, "GET", base+"/users", nil, testenv.Bearer(f.Login(t, "plain", password).AccessToken)...).Want(403, "forbidden")
	f.do(t, "GET", base+"/me", nil, authz...).Want(200)
	f.do(t, "GET", base+"/me/sessions", nil, authz...).Want(200)

	f.EnrolMFA(t, pair.AccessToken, adminPassword)
	f.do(t, "GET", base+"/users", nil, authz...).Want(200)
	f.do(t, "GET", base+"/sessions", nil, authz...).Want(200)

	// Another admin, enrolled too, resets root's MFA: root is stopped at once.
	otherPair := f.Login(t, "other", adminPassword)
	f.EnrolMFA(t, otherPair.AccessToken, adminPassword)
	f.do(t, "POST", resetPath(root.ID), nil, testenv.Bearer(otherPair.AccessToken)...).Want(204)
	pair = f.Login(t, "root", adminPassword)
	f.do(t, "GET", base+"/users", nil, testenv.Bearer(pair.AccessToken)...).Want(403, "mfa_enrollment_required")
}

// TestAdminMFAOptional: by default an admin without MFA keeps every right.
func TestAdminMFAOptional(t *testing.T) {
	f := setup(t)
	f.as(t, "GET", base+"/users", nil).Want(200)
}
