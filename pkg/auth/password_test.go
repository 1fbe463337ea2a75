package auth

import (
	"crypto/rand"
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestDummyHashDoesFullWork(t *testing.T) {
	for _, cost := range []int{4, 10, 12} {
		h, err := newHasher(cost, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		got, err := bcrypt.Cost(h.dummy)
		if err != nil || got != cost {
			t.Fatalf("dummy cost = %d, %v; want %d", got, err, cost)
		}
		if cost > 4 {
			continue // the full comparison at high cost is slow; the format check is the point
		}
		// A mismatch (rather than a format error) proves bcrypt ran the
		// whole key schedule on the dummy, as it would on a real hash.
		if err := bcrypt.CompareHashAndPassword(h.dummy, []byte("password1")); !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			t.Errorf("compare with dummy = %v, want ErrMismatchedHashAndPassword", err)
		}
	}
}

func TestHasherCheck(t *testing.T) {
	h, err := newHasher(4, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pw72 := strings.Repeat("p", 72)
	hash, err := h.hash(pw72)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		hash string
		pw   string
		want bool
	}{
		{"right password", hash, pw72, true},
		{"wrong password", hash, "nope-nope", false},
		// bcrypt reads only 72 bytes; a 73rd must not log in (docs/security.md 2).
		{"73 bytes sharing the first 72", hash, pw72 + "x", false},
		{"no local hash", "", pw72, false},
	}
	for _, tc := range cases {
		if got := h.check(tc.hash, tc.pw); got != tc.want {
			t.Errorf("%s: check = %v, want %v", tc.name, got, tc.want)
		}
	}
	h5, _ := newHasher(5, rand.Reader)
	if !h5.stale(hash) || h.stale(hash) {
		t.Errorf("stale: a cost-4 hash should be stale at cost 5 and not at cost 4")
	}
}

func TestValidatePassword(t *testing.T) {
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"1234567", false}, {"12345678", true}, {strings.Repeat("é", 36), true}, // 72 bytes
		{strings.Repeat("é", 37), false}, {strings.Repeat("x", 73), false},
	} {
		if got := validatePassword(tc.pw) == ""; got != tc.ok {
			t.Errorf("validatePassword(%d bytes) ok = %v, want %v", len(tc.pw), got, tc.ok)
		}
	}
}

func TestParseRefreshToken(t *testing.T) {
	s := &Sessions{&core{rand: rand.Reader}}
	tok, hash, err := s.newRefreshToken(42, "s_AAAAAAAAAAAAAAAAAAAAAA")
	if err != nil {
		t.Fatal(err)
	}
	if hash != hashToken(tok) || strings.Contains(hash, tok) {
		t.Fatal("hash does not match the token")
	}
	uid, sid, ok := parseRefreshToken(tok)
	if !ok || uid != 42 || sid != "s_AAAAAAAAAAAAAAAAAAAAAA" {
		t.Errorf("parseRefreshToken = %d, %q, %v", uid, sid, ok)
	}
	for _, bad := range []string{
		"", "r1.", "r1.42.s_AAAAAAAAAAAAAAAAAAAAAA", "r2" + tok[2:], strings.Replace(tok, "r1.42.", "r1.-1.", 1),
		strings.Replace(tok, "r1.42.", "r1.x.", 1), tok + ".extra", tok[:len(tok)-1], strings.Repeat("r1.1.", 100),
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
	} {
		if _, _, ok := parseRefreshToken(bad); ok {
			t.Errorf("parseRefreshToken(%q) accepted", bad)
		}
	}
}

func FuzzParseRefreshToken(f *testing.F) {
	f.Add("r1.42.s_AAAAAAAAAAAAAAAAAAAAAA.0123456789012345678901234567890123456789012")
	f.Add("r1..")
	f.Fuzz(func(t *testing.T, raw string) {
		uid, sid, ok := parseRefreshToken(raw)
		if ok && (uid <= 0 || !validSessionID(sid)) {
			t.Fatalf("accepted %q as user %d session %q", raw, uid, sid)
		}
	})
}

func TestValidUsername(t *testing.T) {
	for name, want := range map[string]bool{
		"al": false, "ali": true, "alice.smith-1_x@example.com": true, strings.Repeat("a", 64): true,
		strings.Repeat("a", 65): false, "bad name": false, "josé": false, "a{b}": false, "": false, "a\nb": false,
	} {
		if got := ValidUsername(name); got != want {
			t.Errorf("ValidUsername(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("héllo", 2); got != "h" {
		t.Errorf("truncate inside a rune = %q, want %q", got, "h")
	}
	if got := truncate("abc", 5); got != "abc" {
		t.Errorf("truncate short = %q", got)
	}
}

// FuzzValidSessionID holds validSessionID to the form docs/api.md gives
// session ids, written as the regular expression it replaces.
func FuzzValidSessionID(f *testing.F) {
	form := regexp.MustCompile(`^s_[A-Za-z0-9_-]{22}$`)
	for _, s := range []string{"s_AAAAAAAAAAAAAAAAAAAAAA", "s_AAAAAAAAAAAAAAAAAAAAA", "s_AAAAAAAAAAAAAAAAAAAAAAA", "t_AAAAAAAAAAAAAAAAAAAAAA",
		"s_AAAAAAAAAAAAAAAAAAAAA\n", "s_AAAAAAAAAAAAAAAAAAAA-_", "s_AAAAAAAAAAAAAAAAAAAAA=", "s_\u00e9AAAAAAAAAAAAAAAAAAAA", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := validSessionID(id), form.MatchString(id); got != want {
			t.Errorf("validSessionID(%q) = %v, want %v", id, got, want)
		}
	})
}
