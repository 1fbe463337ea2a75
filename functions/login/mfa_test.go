package login_test

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"

	"authfn/pkg/app"
	"authfn/pkg/auth"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

const (
	loginPath    = "/api/auth/v2/login"
	loginMFAPath = "/api/auth/v2/login/mfa"
	enrolPath    = "/api/auth/v2/me/mfa/totp"
	activatePath = "/api/auth/v2/me/mfa/totp/activate"
)

// mfaUser makes a user, signs them in and turns MFA on through the routes.
func mfaUser(t *testing.T, f *fixture, name string) (auth.User, testenv.MFA) {
	t.Helper()
	u := f.CreateUser(t, name, password, false)
	m := f.EnrolMFA(t, f.Login(t, name, password).AccessToken, password)
	return u, m
}

// mfaToken signs in with the right password of an MFA user and returns
// the mfa_token of the mfa_required answer.
func mfaToken(t *testing.T, f *fixture, name string) string {
	t.Helper()
	r := f.http.Do("POST", loginPath, map[string]string{"username": name, "password": password}).Want(401, "mfa_required")
	p := r.Problem()
	if p.MFAToken == "" || r.Header().Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("mfa_required without an mfa_token or a Bearer challenge: %s", r.Body)
	}
	return p.MFAToken
}

func amr(t *testing.T, access string) []string {
	t.Helper()
	var out []string
	list, _ := jwtClaims(t, access)["amr"].([]any)
	for _, m := range list {
		out = append(out, fmt.Sprint(m))
	}
	return out
}

// TestMFAEnrolment: enrolment shows a secret, its otpauth:// URI (which an
// independent parser reads back) and a QR code of that URI (which an
// independent decoder reads back); nothing changes until activation;
// enrolling again replaces the pending secret; activation with a current
// code turns MFA on, returns 10 distinct recovery codes and ends the
// user's other sessions; enrolling once on is 409.
func TestMFAEnrolment(t *testing.T) {
	f := setup(t)
	ada := f.CreateUser(t, "ada", password, false)
	pair := f.Login(t, "ada", password)
	other := f.Login(t, "ada", password)
	authz := testenv.Bearer(pair.AccessToken)

	var first, start auth.MFAEnrolmentStart
	f.http.Do("POST", enrolPath, map[string]string{"current_password": password}, authz...).Want(200).JSON(&first)
	f.http.Do("POST", enrolPath, map[string]string{"current_password": password}, authz...).Want(200).JSON(&start)
	if start.Secret == first.Secret {
		t.Fatal("enrolling again gave the same secret")
	}
	key, err := otp.NewKeyFromURL(start.OTPAuthURL)
	if err != nil {
		t.Fatalf("otpauth_url %q: %v", start.OTPAuthURL, err)
	}
	if key.Type() != "totp" || key.Issuer() != "authfn" || key.AccountName() != "ada" || key.Secret() != start.Secret ||
		key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
		t.Errorf("otpauth_url %q reads as %s %s:%s secret %s period %d digits %v %v", start.OTPAuthURL,
			key.Type(), key.Issuer(), key.AccountName(), key.Secret(), key.Period(), key.Digits(), key.Algorithm())
	}
	if got := testenv.ScanQR(t, start.QRPNG); got != start.OTPAuthURL {
		t.Errorf("the QR code reads %q, want the otpauth_url %q", got, start.OTPAuthURL)
	}
	var me auth.User
	f.http.Do("GET", "/api/auth/v2/me", nil, authz...).Want(200).JSON(&me)
	if me.MFAEnabled {
		t.Fatal("mfa_enabled before activation")
	}
	f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password}).Want(200)

	// The replaced secret is no longer the one being enrolled.
	r := f.http.Do("POST", activatePath, map[string]string{"code": testenv.TOTP(t, first.Secret, f.Clock.Now())}, authz...).Want(422, "validation_failed")
	if fields := r.Problem().Errors; len(fields) != 1 || fields[0].Field != "code" {
		t.Errorf("wrong code: errors %+v, want one on code", fields)
	}
	var done struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	f.http.Do("POST", activatePath, map[string]string{"code": testenv.TOTP(t, start.Secret, f.Clock.Now())}, authz...).Want(200).JSON(&done)
	if len(done.RecoveryCodes) != 10 || len(slices.Compact(slices.Sorted(slices.Values(done.RecoveryCodes)))) != 10 {
		t.Errorf("recovery codes %v, want 10 distinct", done.RecoveryCodes)
	}
	f.http.Do("GET", "/api/auth/v2/me", nil, authz...).Want(200).JSON(&me)
	if !me.MFAEnabled {
		t.Error("mfa_enabled false after activation")
	}
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(other.AccessToken)...).Want(401, "invalid_token")
	f.http.Do("POST", enrolPath, map[string]string{"current_password": password}, authz...).Want(409, "conflict")
	f.http.Do("POST", activatePath, map[string]string{"code": f.NextCode(t, start.Secret)}, authz...).Want(409, "conflict")

	ev := f.Events(t, auth.EventMFAEnabled)
	if len(ev) != 1 || *ev[0].ActorID != ada.ID || *ev[0].TargetID != ada.ID || ev[0].Details["sessions_revoked"] != float64(2) {
		t.Errorf("mfa.enabled events %+v, want one by and for ada with her 2 other sessions revoked", ev)
	}
	noSecrets(t, f, append([]string{first.Secret, start.Secret}, done.RecoveryCodes...)...)
}

// noSecrets fails if any of secrets shows in the service's log or an
// audit event (docs/security.md 25, 34).
func noSecrets(t *testing.T, f *fixture, secrets ...string) {
	t.Helper()
	var audit strings.Builder
	for _, e := range f.Events(t, "") {
		audit.WriteString(mustJSON(e))
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for where, text := range map[string]string{"log": f.logs.String(), "audit log": audit.String()} {
			for _, form := range []string{s, strings.ReplaceAll(s, "-", ""), strings.ToLower(s)} {
				if strings.Contains(text, form) {
					t.Errorf("the %s holds a secret or code (%.8s...)", where, form)
				}
			}
		}
	}
}

// TestMFAEnrolmentRefused: every refusal of enrolment and activation, and
// what each leaves as it was.
func TestMFAEnrolmentRefused(t *testing.T) {
	f := setup(t)
	f.CreateUser(t, "ada", password, false)
	authz := testenv.Bearer(f.Login(t, "ada", password).AccessToken)
	f.http.Do("POST", enrolPath, map[string]string{"current_password": password}).Want(401, "invalid_token")
	f.http.Do("POST", activatePath, map[string]string{"code": "123456"}).Want(401, "invalid_token")
	f.http.Do("POST", enrolPath, map[string]string{"current_password": "wrong password"}, authz...).Want(401, "invalid_credentials")
	if ev := f.Events(t, auth.EventLoginFailed); len(ev) != 1 || ev[0].Details["reason"] != "wrong_current_password" {
		t.Errorf("login.failed events %+v, want one wrong_current_password (the throttle counts it)", ev)
	}
	f.http.Do("POST", enrolPath, map[string]string{}, authz...).Want(422, "validation_failed")
	f.http.Do("POST", enrolPath, `{"current_password":"x","secret":"mine"}`, authz...).Want(400, "invalid_request")
	f.http.Do("POST", activatePath, map[string]string{"code": "123456"}, authz...).Want(409, "conflict")

	var start auth.MFAEnrolmentStart
	f.http.Do("POST", enrolPath, map[string]string{"current_password": password}, authz...).Want(200).JSON(&start)
	f.http.Do("POST", activatePath, map[string]string{}, authz...).Want(422, "validation_failed")
	for _, bad := range []string{"12345", "1234567", "abcdef", strings.Repeat("9", 64)} {
		f.http.Do("POST", activatePath, map[string]string{"code": bad}, authz...).Want(422, "validation_failed")
	}
	// Two steps off is refused, one is not (TestMFASkew has the rest).
	f.http.Do("POST", activatePath, map[string]string{"code": testenv.TOTP(t, start.Secret, f.Clock.Now().Add(-time.Minute))}, authz...).Want(422)
	f.Clock.Advance(auth.MFAPendingTTL)
	f.http.Do("POST", activatePath, map[string]string{"code": testenv.TOTP(t, start.Secret, f.Clock.Now())}, authz...).Want(409, "conflict")
	var me auth.User
	f.http.Do("GET", "/api/auth/v2/me", nil, authz...).Want(200).JSON(&me)
	if me.MFAEnabled {
		t.Error("a refused activation turned MFA on")
	}
}

// TestMFALogin: with MFA on, the right password alone answers
// mfa_required with an mfa_token; /login/mfa with a current code gives
// the pair, whose access token says amr pwd+otp, and so do the tokens a
// refresh mints; the token works once.
func TestMFALogin(t *testing.T) {
	f := setup(t)
	_, m := mfaUser(t, f, "ada")
	f.CreateUser(t, "bob", password, false)
	if got := amr(t, f.Login(t, "bob", password).AccessToken); !slices.Equal(got, []string{"pwd"}) {
		t.Errorf("amr without MFA = %v, want [pwd]", got)
	}
	tok := mfaToken(t, f, "ada")
	code := f.NextCode(t, m.Secret)
	var pair auth.TokenPair
	f.http.Do("POST", loginMFAPath, map[string]string{"mfa_token": tok, "code": code}).Want(200).JSON(&pair)
	if got := amr(t, pair.AccessToken); !slices.Equal(got, []string{"pwd", "otp"}) {
		t.Errorf("amr = %v, want [pwd otp]", got)
	}
	if !pair.User.MFAEnabled || pair.User.Username != "ada" {
		t.Errorf("user %+v, want ada with mfa_enabled", pair.User)
	}
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(pair.AccessToken)...).Want(200)
	var refreshed auth.TokenPair
	f.http.Do("POST", "/api/auth/v2/refresh", map[string]string{"refresh_token": pair.RefreshToken}).Want(200).JSON(&refreshed)
	if got := amr(t, refreshed.AccessToken); !slices.Equal(got, []string{"pwd", "otp"}) {
		t.Errorf("amr after refresh = %v, want [pwd otp]", got)
	}
	// The token is used up; so is the code's step.
	f.http.Do("POST", loginMFAPath, map[string]string{"mfa_token": tok, "code": f.NextCode(t, m.Secret)}).Want(401, "invalid_credentials")
	if ev := f.Events(t, auth.EventLoginSucceeded); len(ev) == 0 || ev[0].Username != "ada" {
		t.Errorf("login.succeeded events %+v, want ada's last", ev)
	}
	noSecrets(t, f, tok, strings.SplitN(tok, ".", 3)[2], m.Secret)
}

// TestMFALoginOneStep: /login, a form login and the /token password grant
// take the code with the password; a wrong code is answered exactly as a
// wrong password is; /token without a code answers mfa_required with an
// mfa_token that /login/mfa takes.
func TestMFALoginOneStep(t *testing.T) {
	f := setup(t)
	_, m := mfaUser(t, f, "ada")
	var pair auth.TokenPair
	f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": f.NextCode(t, m.Secret)}).Want(200).JSON(&pair)
	if got := amr(t, pair.AccessToken); !slices.Equal(got, []string{"pwd", "otp"}) {
		t.Errorf("amr = %v, want [pwd otp]", got)
	}
	form := url.Values{"username": {"ada"}, "password": {password}, "code": {f.NextCode(t, m.Secret)}}.Encode()
	f.http.Do("POST", loginPath, form, "Content-Type", "application/x-www-form-urlencoded").Want(200)

	wrongCode := f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": "000000"}).Want(401, "invalid_credentials")
	wrongPassword := f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": "wrong password", "code": f.NextCode(t, m.Secret)}).Want(401, "invalid_credentials")
	a, b := wrongCode.Problem(), wrongPassword.Problem()
	a.RequestID, b.RequestID = "", ""
	if mustJSON(a) != mustJSON(b) || wrongCode.Header().Get("WWW-Authenticate") != wrongPassword.Header().Get("WWW-Authenticate") {
		t.Errorf("a wrong code (%s) is answered unlike a wrong password (%s)", mustJSON(a), mustJSON(b))
	}
	if ev := f.Events(t, auth.EventLoginMFAFailed); len(ev) != 1 || ev[0].Details["reason"] != "wrong_code" || ev[0].Details["method"] != "totp" {
		t.Errorf("login.mfa_failed events %+v, want one wrong totp code", ev)
	}

	f.form(t, "/api/auth/v2/token", url.Values{"grant_type": {"password"}, "username": {"ada"}, "password": {password}, "code": {f.NextCode(t, m.Secret)}}.Encode()).Want(200).JSON(&pair)
	if got := amr(t, pair.AccessToken); !slices.Equal(got, []string{"pwd", "otp"}) {
		t.Errorf("/token amr = %v, want [pwd otp]", got)
	}
	e := f.form(t, "/api/auth/v2/token", url.Values{"grant_type": {"password"}, "username": {"ada"}, "password": {password}}.Encode()).Want(401, "mfa_required").Error()
	if e.MFAToken == "" {
		t.Fatal("/token mfa_required without an mfa_token")
	}
	f.http.Do("POST", loginMFAPath, map[string]string{"mfa_token": e.MFAToken, "code": f.NextCode(t, m.Secret)}).Want(200)
	f.form(t, "/api/auth/v2/token", url.Values{"grant_type": {"password"}, "username": {"ada"}, "password": {password}, "code": {"000000"}}.Encode()).Want(400, "invalid_grant")
}

// TestMFAWrongPasswordLooksTheSame: a wrong password of a user with MFA is
// answered exactly as one of a user without: mfa_required only ever
// follows the right password (docs/security.md 34).
func TestMFAWrongPasswordLooksTheSame(t *testing.T) {
	f := setup(t)
	mfaUser(t, f, "ada")
	f.CreateUser(t, "bob", password, false)
	var bodies []string
	for _, name := range []string{"ada", "bob", "nobody"} {
		r := f.http.Do("POST", loginPath, map[string]string{"username": name, "password": "wrong password"}).Want(401, "invalid_credentials")
		p := r.Problem()
		p.RequestID = ""
		if p.MFAToken != "" || strings.Contains(r.Body.String(), "mfa") {
			t.Errorf("%s: a wrong password's answer mentions MFA: %s", name, r.Body)
		}
		bodies = append(bodies, mustJSON(p))
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Errorf("bodies differ: %v", bodies)
	}
	e := f.form(t, "/api/auth/v2/token", url.Values{"grant_type": {"password"}, "username": {"ada"}, "password": {"wrong password"}}.Encode()).Want(400, "invalid_grant").Error()
	if e.MFAToken != "" {
		t.Error("/token with a wrong password gave an mfa_token")
	}
}

// TestMFATokenRules: an mfa_token is bound to its user, lasts 5 minutes,
// is used up by any attempt (a wrong code included), and dies with a
// password change, a deactivation or an MFA reset in between.
func TestMFATokenRules(t *testing.T) {
	f := setup(t)
	ada, m := mfaUser(t, f, "ada")
	_, mb := mfaUser(t, f, "bob")
	try := func(tok, code string) *testenv.Response {
		return f.http.Do("POST", loginMFAPath, map[string]string{"mfa_token": tok, "code": code})
	}

	t.Run("expires after 5 minutes", func(t *testing.T) {
		tok := mfaToken(t, f, "ada")
		f.Clock.Advance(auth.MFATokenTTL)
		try(tok, testenv.TOTP(t, m.Secret, f.Clock.Now())).Want(401, "invalid_credentials")
		tok = mfaToken(t, f, "ada")
		f.Clock.Advance(auth.MFATokenTTL - time.Second)
		try(tok, testenv.TOTP(t, m.Secret, f.Clock.Now())).Want(200)
	})
	t.Run("a wrong code uses it up", func(t *testing.T) {
		tok := mfaToken(t, f, "ada")
		try(tok, "000000").Want(401, "invalid_credentials")
		try(tok, f.NextCode(t, m.Secret)).Want(401, "invalid_credentials")
	})
	t.Run("bound to its user", func(t *testing.T) {
		tok := mfaToken(t, f, "ada")
		parts := strings.SplitN(tok, ".", 3)
		bobs := fmt.Sprintf("m1.%d.%s", ada.ID+1, parts[2]) // bob is the next user
		try(bobs, f.NextCode(t, mb.Secret)).Want(401, "invalid_credentials")
		try(tok, testenv.TOTP(t, m.Secret, f.Clock.Now())).Want(200)
	})
	t.Run("voided by a password change", func(t *testing.T) {
		tok := mfaToken(t, f, "ada")
		pair := f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": f.NextCode(t, m.Secret)}).Want(200)
		var p auth.TokenPair
		pair.JSON(&p)
		f.http.Do("POST", "/api/auth/v2/me/password", map[string]string{"current_password": password, "new_password": "another password"}, testenv.Bearer(p.AccessToken)...).Want(204)
		try(tok, f.NextCode(t, m.Secret)).Want(401, "invalid_credentials")
		f.http.Do("POST", "/api/auth/v2/me/password", map[string]string{"current_password": "another password", "new_password": password}, testenv.Bearer(p.AccessToken)...).Want(204)
	})
	t.Run("voided by a deactivation", func(t *testing.T) {
		tok := mfaToken(t, f, "bob")
		off, on := false, true
		bob, _ := f.SQL.UserByUsername(t.Context(), "bob")
		if _, err := f.Auth.Admin.UpdateUser(t.Context(), f.Actor(t), bob.ID, auth.UserChange{IsActive: &off}); err != nil {
			t.Fatal(err)
		}
		try(tok, f.NextCode(t, mb.Secret)).Want(401, "invalid_credentials")
		if _, err := f.Auth.Admin.UpdateUser(t.Context(), f.Actor(t), bob.ID, auth.UserChange{IsActive: &on}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("voided by an MFA reset", func(t *testing.T) {
		tok := mfaToken(t, f, "bob")
		bob, _ := f.SQL.UserByUsername(t.Context(), "bob")
		if err := f.Auth.Admin.ResetMFA(t.Context(), f.Actor(t), bob.ID); err != nil {
			t.Fatal(err)
		}
		try(tok, f.NextCode(t, mb.Secret)).Want(401, "invalid_credentials")
		f.Login(t, "bob", password) // MFA is off: the password alone signs in
	})
	t.Run("malformed", func(t *testing.T) {
		for _, tok := range []string{"x", "m1.", "m1.0.AAAA", "m1.-1." + strings.Repeat("A", 43), "m1.01." + strings.Repeat("A", 43),
			fmt.Sprintf("m1.%d.%s", ada.ID, strings.Repeat("A", 43)), strings.Repeat("m", 5000)} {
			try(tok, "123456").Want(401, "invalid_credentials")
		}
		f.http.Do("POST", loginMFAPath, map[string]string{"mfa_token": "x"}).Want(422, "validation_failed")
		f.http.Do("POST", loginMFAPath, map[string]string{"code": "123456"}).Want(422, "validation_failed")
		f.http.Do("POST", loginMFAPath, `{"mfa_token":"x","code":"1","extra":1}`).Want(400, "invalid_request")
	})
}

// TestMFASkewAndReplay: a code of the step before or after now is
// accepted, two steps off is not; a step is accepted once, whether the
// code comes back at once or after a later step was used.
func TestMFASkewAndReplay(t *testing.T) {
	f := setup(t)
	_, m := mfaUser(t, f, "ada")
	login := func(code string) *testenv.Response {
		return f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": code})
	}
	f.Clock.Advance(10 * time.Minute)
	now := f.Clock.Now()
	at := func(steps int) string { return testenv.TOTP(t, m.Secret, now.Add(time.Duration(steps)*30*time.Second)) }
	login(at(-2)).Want(401, "invalid_credentials")
	login(at(2)).Want(401, "invalid_credentials")
	login(at(-1)).Want(200)
	login(at(-1)).Want(401, "invalid_credentials") // replay
	login(at(1)).Want(200)
	login(at(0)).Want(401, "invalid_credentials") // before the step last accepted
	login(at(1)).Want(401, "invalid_credentials")
	tok := mfaToken(t, f, "ada")
	f.http.Do("POST", loginMFAPath, map[string]string{"mfa_token": tok, "code": at(1)}).Want(401, "invalid_credentials")
	var reasons []any
	for _, e := range f.Events(t, auth.EventLoginMFAFailed) {
		reasons = append(reasons, e.Details["reason"])
	}
	want := []any{"replayed_code", "replayed_code", "replayed_code", "replayed_code", "wrong_code", "wrong_code"} // newest first
	if !slices.Equal(reasons, want) {
		t.Errorf("login.mfa_failed reasons %v, want %v", reasons, want)
	}
}

// TestMFARecoveryCodes: a recovery code signs in once, typed in any case
// and with or without hyphens; the others still work.
func TestMFARecoveryCodes(t *testing.T) {
	f := setup(t)
	_, m := mfaUser(t, f, "ada")
	code := m.RecoveryCodes[3]
	typed := strings.ToUpper(strings.ReplaceAll(code, "-", " "))
	var pair auth.TokenPair
	f.http.Do("POST", loginMFAPath, map[string]string{"mfa_token": mfaToken(t, f, "ada"), "code": typed}).Want(200).JSON(&pair)
	if got := amr(t, pair.AccessToken); !slices.Equal(got, []string{"pwd", "otp"}) {
		t.Errorf("amr = %v, want [pwd otp]", got)
	}
	f.http.Do("POST", loginMFAPath, map[string]string{"mfa_token": mfaToken(t, f, "ada"), "code": code}).Want(401, "invalid_credentials")
	f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": code}).Want(401, "invalid_credentials")
	f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": m.RecoveryCodes[4]}).Want(200)
	f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": "aaaaa-bbbbb-ccccc-ddddd"}).Want(401, "invalid_credentials")
	ev := f.Events(t, auth.EventLoginMFAFailed)
	if len(ev) != 3 || ev[0].Details["method"] != "recovery_code" {
		t.Errorf("login.mfa_failed events %+v, want 3 of method recovery_code", ev)
	}
	rec, err := f.SQL.MFA(t.Context(), pair.User.ID)
	if err != nil || rec.RecoveryCodes != 8 {
		t.Errorf("unused recovery codes = %d, %v; want 8", rec.RecoveryCodes, err)
	}
	noSecrets(t, f, m.RecoveryCodes...)
}

// TestMFAConcurrentCode: of requests racing with one code, exactly one
// signs in, on both paths (docs/security.md 34: a step is accepted once).
func TestMFAConcurrentCode(t *testing.T) {
	f := setup(t, func(c *app.Config) { c.LoginMaxFailures = 100 })
	_, m := mfaUser(t, f, "ada")
	const n = 8
	for _, path := range []string{"two steps", "one step"} {
		t.Run(path, func(t *testing.T) {
			code := f.NextCode(t, m.Secret)
			var tokens []string
			for range n {
				if path == "two steps" {
					tokens = append(tokens, mfaToken(t, f, "ada"))
				}
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			status := map[int]int{}
			for i := range n {
				wg.Go(func() {
					var r *testenv.Response
					if path == "two steps" {
						r = f.HTTP(t).Do("POST", loginMFAPath, map[string]string{"mfa_token": tokens[i], "code": code})
					} else {
						r = f.HTTP(t).Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": code})
					}
					mu.Lock()
					status[r.Code]++
					mu.Unlock()
				})
			}
			wg.Wait()
			if status[200] != 1 || status[401] != n-1 {
				t.Errorf("statuses %v, want one 200 and %d 401", status, n-1)
			}
		})
	}
}

// TestMFAThrottle: wrong codes count against the username's throttle like
// wrong passwords, on every path; a right password in between does not
// clear the count; once locked, even the right password and code get 429.
func TestMFAThrottle(t *testing.T) {
	f := setup(t) // LOGIN_MAX_FAILURES 5
	_, m := mfaUser(t, f, "ada")
	f.http.Do("POST", loginMFAPath, map[string]string{"mfa_token": mfaToken(t, f, "ada"), "code": "000000"}).Want(401)
	f.http.Do("POST", loginMFAPath, map[string]string{"mfa_token": mfaToken(t, f, "ada"), "code": "aaaaa-aaaaa-aaaaa-aaaaa"}).Want(401)
	f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": "111111"}).Want(401)
	f.form(t, "/api/auth/v2/token", url.Values{"grant_type": {"password"}, "username": {"ada"}, "password": {password}, "code": {"222222"}}.Encode()).Want(400, "invalid_grant")
	tok := mfaToken(t, f, "ada")                                                                     // the right password: no reset, no count
	f.http.Do("POST", loginMFAPath, map[string]string{"mfa_token": tok, "code": "333333"}).Want(401) // the fifth failure locks
	// The lock lasts 30 s: a code of the next step, without moving the clock.
	next := testenv.TOTP(t, m.Secret, f.Clock.Now().Add(30*time.Second))
	f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": next}).Want(429, "too_many_requests")
	f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password}).Want(429, "too_many_requests")
	if ev := f.Events(t, auth.EventLoginLocked); len(ev) != 1 {
		t.Errorf("%d login.locked events, want 1", len(ev))
	}
	f.Clock.Advance(time.Minute)
	f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": f.NextCode(t, m.Secret)}).Want(200)
}

// TestMFADisable: turning MFA off needs the password and a code (TOTP or
// recovery), each wrong one counted; then the password alone signs in,
// and the user's other sessions have ended.
func TestMFADisable(t *testing.T) {
	f := setup(t)
	ada, m := mfaUser(t, f, "ada")
	var pair, other auth.TokenPair
	f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": f.NextCode(t, m.Secret)}).Want(200).JSON(&pair)
	f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": f.NextCode(t, m.Secret)}).Want(200).JSON(&other)
	authz := testenv.Bearer(pair.AccessToken)
	disable := func(pw, code string, h ...string) *testenv.Response {
		return f.http.Do("DELETE", enrolPath, map[string]string{"current_password": pw, "code": code}, h...)
	}
	disable(password, f.NextCode(t, m.Secret)).Want(401, "invalid_token")
	disable("wrong password", f.NextCode(t, m.Secret), authz...).Want(401, "invalid_credentials")
	disable(password, "000000", authz...).Want(401, "invalid_credentials")
	disable(password, m.RecoveryCodes[0][:5], authz...).Want(401, "invalid_credentials")
	f.http.Do("DELETE", enrolPath, map[string]string{"current_password": password}, authz...).Want(422, "validation_failed")
	f.http.Do("DELETE", enrolPath, "", authz...).Want(400, "invalid_request")
	if failed, codes := f.Events(t, auth.EventLoginFailed), f.Events(t, auth.EventLoginMFAFailed); len(failed) != 1 || len(codes) != 2 {
		t.Errorf("%d login.failed and %d login.mfa_failed events, want 1 and 2 (each wrong password or code counted)", len(failed), len(codes))
	}
	disable(password, m.RecoveryCodes[0], authz...).Want(204)
	f.http.Do("GET", "/api/auth/v2/me", nil, authz...).Want(200)
	f.http.Do("GET", "/api/auth/v2/me", nil, testenv.Bearer(other.AccessToken)...).Want(401, "invalid_token")
	if got := amr(t, f.Login(t, "ada", password).AccessToken); !slices.Equal(got, []string{"pwd"}) {
		t.Errorf("amr after disabling = %v, want [pwd]", got)
	}
	disable(password, f.NextCode(t, m.Secret), authz...).Want(409, "conflict")
	ev := f.Events(t, auth.EventMFADisabled)
	if len(ev) != 1 || *ev[0].ActorID != ada.ID || ev[0].Details["method"] != "recovery_code" || ev[0].Details["sessions_revoked"] != float64(2) {
		t.Errorf("mfa.disabled events %+v, want one by ada with a recovery code, 2 sessions revoked", ev)
	}
	// Enrolling afresh works, with a new secret.
	m2 := f.EnrolMFA(t, pair.AccessToken, password)
	if m2.Secret == m.Secret {
		t.Error("a new enrolment reused the old secret")
	}
	mfaToken(t, f, "ada")
	noSecrets(t, f, append([]string{m.Secret, m2.Secret}, m.RecoveryCodes...)...)
}

// TestMFAGPUStackUser: a user provisioned from GPUStack enrols like any
// other, proving the password to GPUStack, and then signs in in two steps.
func TestMFAGPUStackUser(t *testing.T) {
	f := setupGPUStack(t, "v2.0.1", 2*time.Second)
	f.gs.AddUser("gpu-user", "gpustack password", "From GPUStack", false, true)
	var pair auth.TokenPair
	f.loginAs("gpu-user", "gpustack password").Want(200).JSON(&pair)
	authz := testenv.Bearer(pair.AccessToken)
	f.http.Do("POST", enrolPath, map[string]string{"current_password": "not it"}, authz...).Want(401, "invalid_credentials")
	m := f.EnrolMFA(t, pair.AccessToken, "gpustack password")
	f.loginAs("gpu-user", "wrong password").Want(401, "invalid_credentials")
	r := f.loginAs("gpu-user", "gpustack password").Want(401, "mfa_required")
	var mfa auth.TokenPair
	f.http.Do("POST", loginMFAPath, map[string]string{"mfa_token": r.Problem().MFAToken, "code": f.NextCode(t, m.Secret)}).Want(200).JSON(&mfa)
	if got := amr(t, mfa.AccessToken); mfa.User.Source != "gpustack" || !slices.Equal(got, []string{"pwd", "otp"}) {
		t.Errorf("user %+v amr %v, want the GPUStack user with [pwd otp]", mfa.User, got)
	}
	f.http.Do("POST", loginPath, map[string]string{"username": "gpu-user", "password": "gpustack password", "code": f.NextCode(t, m.Secret)}).Want(200)
}

// TestMFAWithAnotherKey: a function started with another MFA_KEY than the
// one the database's secrets were sealed with seals nothing and opens
// nothing: its first MFA operation compares the key check value and fails
// with a generic 500, logging why (docs/security.md 34).
func TestMFAWithAnotherKey(t *testing.T) {
	f := setup(t)
	_, m := mfaUser(t, f, "ada")
	f.CreateUser(t, "bob", password, false)
	env := *f.Env
	env.Config.MFAKey = bytes.Repeat([]byte{9}, 32)
	g := serve(t, env.With(t, app.Backends{SQL: f.SQL, Redis: f.Redis}), web.Options{})
	r := g.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": g.NextCode(t, m.Secret)}).Want(500, "internal")
	if strings.Contains(r.Body.String(), "MFA_KEY") {
		t.Errorf("the 500 names the cause: %s", r.Body)
	}
	g.http.Do("POST", enrolPath, map[string]string{"current_password": password}, testenv.Bearer(g.Login(t, "bob", password).AccessToken)...).Want(500, "internal")
	if !strings.Contains(g.logs.String(), "MFA_KEY is not the key") {
		t.Errorf("the log does not say the key is wrong:\n%s", g.logs)
	}
	if key, _ := f.SQL.MFAKeyCheck(t.Context()); key == "" {
		t.Error("no key check value stored")
	}
	// The right key still works.
	f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": f.NextCode(t, m.Secret)}).Want(200)
}

// TestMFAWithoutKey: without MFA_KEY nobody can enrol, and a user with MFA
// on is never let in on the password alone.
func TestMFAWithoutKey(t *testing.T) {
	f := setup(t)
	_, m := mfaUser(t, f, "ada")
	f.CreateUser(t, "bob", password, false)
	env := *f.Env
	env.Config.MFAKey = nil
	g := serve(t, env.With(t, app.Backends{SQL: f.SQL, Redis: f.Redis}), web.Options{})
	g.http.Do("POST", enrolPath, map[string]string{"current_password": password}, testenv.Bearer(g.Login(t, "bob", password).AccessToken)...).Want(500, "internal")
	tok := mfaToken(t, g, "ada")
	g.http.Do("POST", loginMFAPath, map[string]string{"mfa_token": tok, "code": g.NextCode(t, m.Secret)}).Want(500, "internal")
	if !strings.Contains(g.logs.String(), "MFA_KEY is not set") {
		t.Errorf("the log does not say MFA_KEY is missing:\n%s", g.logs)
	}
}

// TestMFAStoreDown: with Redis or PostgreSQL down every MFA route answers
// 503 quickly, and MFA is still on once the store is back.
func TestMFAStoreDown(t *testing.T) {
	live := setup(t)
	ada, m := mfaUser(t, live, "ada")
	var p auth.TokenPair
	live.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password, "code": live.NextCode(t, m.Secret)}).Want(200).JSON(&p)
	for _, store := range testenv.Outages() {
		t.Run(store, func(t *testing.T) {
			tok := mfaToken(t, live, "ada")
			f := serve(t, live.Down(t, store), web.Options{})
			authz := testenv.Bearer(p.AccessToken)
			for name, do := range map[string]func() *testenv.Response{
				"login": func() *testenv.Response {
					return f.http.Do("POST", loginPath, map[string]string{"username": "ada", "password": password})
				},
				"login/mfa": func() *testenv.Response {
					return f.http.Do("POST", loginMFAPath, map[string]string{"mfa_token": tok, "code": "123456"})
				},
				"enrol": func() *testenv.Response {
					return f.http.Do("POST", enrolPath, map[string]string{"current_password": password}, authz...)
				},
				"activate": func() *testenv.Response {
					return f.http.Do("POST", activatePath, map[string]string{"code": "123456"}, authz...)
				},
				"disable": func() *testenv.Response {
					return f.http.Do("DELETE", enrolPath, map[string]string{"current_password": password, "code": "123456"}, authz...)
				},
			} {
				start := time.Now()
				do().Want(503, "unavailable")
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("%s took %v, want under 5 s", name, d)
				}
			}
		})
	}
	if u, err := live.SQL.User(t.Context(), ada.ID); err != nil || !u.MFAEnabled {
		t.Errorf("after the outages: %+v, %v; want MFA still on", u, err)
	}
}
