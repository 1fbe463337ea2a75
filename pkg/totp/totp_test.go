package totp_test

import (
	"crypto/rand"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp"
	ptotp "github.com/pquerna/otp/totp"

	"authfn/pkg/totp"
)

// rfcSecret is the SHA-1 seed of RFC 4226 Appendix D and RFC 6238 Appendix B.
var rfcSecret = []byte("12345678901234567890")

// TestHOTPVectors holds Code to RFC 4226 Appendix D.
func TestHOTPVectors(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for counter, w := range want {
		if got := totp.Code(rfcSecret, int64(counter)); got != w {
			t.Errorf("Code(counter %d) = %s, want %s", counter, got, w)
		}
	}
}

// TestTOTPVectors holds Step and Code to RFC 6238 Appendix B (SHA-1 rows;
// the RFC prints 8 digits, a 6-digit code is their last six).
func TestTOTPVectors(t *testing.T) {
	for _, tc := range []struct {
		unix int64
		step int64
		code string
	}{
		{59, 0x1, "287082"},
		{1111111109, 0x23523EC, "081804"},
		{1111111111, 0x23523ED, "050471"},
		{1234567890, 0x273EF07, "005924"},
		{2000000000, 0x3F940AA, "279037"},
		{20000000000, 0x27BC86AA, "353130"},
	} {
		at := time.Unix(tc.unix, 0)
		if got := totp.Step(at); got != tc.step {
			t.Errorf("Step(%d) = %#x, want %#x", tc.unix, got, tc.step)
		}
		if got := totp.Code(rfcSecret, totp.Step(at)); got != tc.code {
			t.Errorf("code at %d = %s, want %s", tc.unix, got, tc.code)
		}
	}
}

// TestAgreesWithPquerna checks Code against github.com/pquerna/otp, an
// independent implementation, on random secrets and times: a misreading
// of the RFC shared by this package and its own tests would show here.
func TestAgreesWithPquerna(t *testing.T) {
	for range 200 {
		secret := make([]byte, totp.SecretBytes)
		_, _ = rand.Read(secret)
		n, _ := rand.Int(rand.Reader, big.NewInt(4_000_000_000))
		at := time.Unix(n.Int64(), 0)
		want, err := ptotp.GenerateCodeCustom(totp.Encoding.EncodeToString(secret), at, ptotp.ValidateOpts{
			Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := totp.Code(secret, totp.Step(at)); got != want {
			t.Fatalf("code at %v = %s, pquerna/otp says %s", at, got, want)
		}
	}
}

func TestVerify(t *testing.T) {
	secret := []byte("an example secret of twenty")
	at := time.Date(2026, 6, 29, 14, 41, 43, 0, time.UTC)
	now := totp.Step(at)
	code := func(step int64) string { return totp.Code(secret, step) }
	for _, tc := range []struct {
		name  string
		code  string
		after int64
		ok    bool
		step  int64
	}{
		{"current step", code(now), 0, true, now},
		{"one step behind", code(now - 1), 0, true, now - 1},
		{"one step ahead", code(now + 1), 0, true, now + 1},
		{"two steps behind", code(now - 2), 0, false, 0},
		{"two steps ahead", code(now + 2), 0, false, 0},
		{"step already accepted", code(now), now, false, 0},
		{"a step before the accepted one", code(now - 1), now, false, 0},
		{"a later step than the accepted one", code(now + 1), now, true, now + 1},
		{"five digits", code(now)[1:], 0, false, 0},
		{"seven digits", code(now) + "0", 0, false, 0},
		{"not digits", "12a456", 0, false, 0},
		{"empty", "", 0, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step, ok := totp.Verify(secret, tc.code, at, 1, tc.after)
			if ok != tc.ok || (ok && step != tc.step) {
				t.Errorf("Verify(%q, after %d) = %d, %v; want %d, %v", tc.code, tc.after, step, ok, tc.step, tc.ok)
			}
		})
	}
}

// TestKeyURI: an independent parser (pquerna/otp) reads back every
// parameter an authenticator app needs.
func TestKeyURI(t *testing.T) {
	secret := []byte("another secret, 20 b")
	raw := totp.KeyURI("Example Co", "ada.lovelace@example.org", secret)
	k, err := otp.NewKeyFromURL(raw)
	if err != nil {
		t.Fatalf("NewKeyFromURL(%q) error = %v", raw, err)
	}
	if k.Type() != "totp" || k.Issuer() != "Example Co" || k.AccountName() != "ada.lovelace@example.org" ||
		k.Secret() != totp.Encoding.EncodeToString(secret) || k.Period() != 30 ||
		k.Digits() != otp.DigitsSix || k.Algorithm() != otp.AlgorithmSHA1 {
		t.Errorf("parsed %q as type %s issuer %q account %q secret %q period %d digits %d algorithm %v",
			raw, k.Type(), k.Issuer(), k.AccountName(), k.Secret(), k.Period(), k.Digits(), k.Algorithm())
	}
	u, _ := url.Parse(raw)
	if u.RawQuery != "secret="+totp.Encoding.EncodeToString(secret)+"&issuer=Example%20Co&algorithm=SHA1&digits=6&period=30" {
		t.Errorf("query = %q", u.RawQuery)
	}
}
