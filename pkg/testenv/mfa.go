package testenv

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/pquerna/otp"
	ptotp "github.com/pquerna/otp/totp"

	"authfn/pkg/totp"
)

// TOTP returns the code of secret (base32, as enrolment shows it) at at.
// It is computed twice, by pkg/totp and by github.com/pquerna/otp, an
// independent implementation, and the test fails if they disagree: a
// misreading of RFC 6238 shared by the service and its own tests cannot
// pass unseen.
func TOTP(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	key, err := totp.Encoding.DecodeString(secret)
	if err != nil {
		t.Fatalf("testenv: secret %q is not base32: %v", secret, err)
	}
	own := totp.Code(key, totp.Step(at))
	other, err := ptotp.GenerateCodeCustom(secret, at, ptotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatalf("testenv: pquerna/otp: %v", err)
	}
	if own != other {
		t.Fatalf("testenv: at %v pkg/totp says %s, pquerna/otp %s", at, own, other)
	}
	return own
}

// NextCode moves the clock to the next 30-second step and returns the
// code of secret there: a code no earlier request can have used.
func (e *Env) NextCode(t testing.TB, secret string) string {
	t.Helper()
	e.Clock.Advance(totp.Period)
	return TOTP(t, secret, e.Clock.Now())
}

// MFA is what enrolling showed a user.
type MFA struct {
	Secret        string
	OTPAuthURL    string
	QRPNG         string
	RecoveryCodes []string
}

// EnrolMFA turns MFA on for the holder of access through the routes
// (POST /me/mfa/totp with password, then activate with the current code),
// failing t on any answer but 200, and returns what the user was shown.
// The activating code's step is used up: NextCode gives the next one.
func (s *Served) EnrolMFA(t testing.TB, access, password string) MFA {
	t.Helper()
	var m MFA
	var start struct {
		Secret     string `json:"secret"`
		OTPAuthURL string `json:"otpauth_url"`
		QRPNG      string `json:"qr_png"`
	}
	c := s.HTTP(t)
	c.Do("POST", "/api/auth/v2/me/mfa/totp", map[string]string{"current_password": password}, Bearer(access)...).Want(200).JSON(&start)
	var done struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	code := TOTP(t, start.Secret, s.Clock.Now())
	c.Do("POST", "/api/auth/v2/me/mfa/totp/activate", map[string]string{"code": code}, Bearer(access)...).Want(200).JSON(&done)
	m.Secret, m.OTPAuthURL, m.QRPNG, m.RecoveryCodes = start.Secret, start.OTPAuthURL, start.QRPNG, done.RecoveryCodes
	return m
}

// ScanQR reads the QR code in a PNG data URL (what enrolment shows as
// qr_png) with gozxing, a port of ZXing, on which phone scanners build:
// an independent check that the code holds what it should. It fails t on
// anything that is not a PNG of a readable QR code.
//
// It looks at the image upright and, while that finds nothing, turned a
// quarter at a time, as a hand-held phone sees it from frame to frame: about
// one code in 120 (122 of 15,000 random otpauth:// URIs, measured) holds a
// run of modules that ZXing's finder-pattern search takes for a fourth
// corner when it scans the rows in one direction only. zbar reads those
// same images upright, so the symbol is sound; it is the search order that
// trips. All 122 read at the first quarter turn (gozxing turns the image itself); the other two turns are
// there so that a run of random secrets does not rest on that alone.
func ScanQR(t testing.TB, dataURL string) string {
	t.Helper()
	raw, ok := strings.CutPrefix(dataURL, "data:image/png;base64,")
	if !ok {
		t.Fatalf("testenv: %.30q is not a PNG data URL", dataURL)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("testenv: not a PNG: %v", err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != h || w < 150 || w > 600 {
		t.Errorf("testenv: the QR image is %dx%d, want a square of 150-600 px", w, h)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	for turn := range 4 {
		if turn > 0 {
			if bmp, err = bmp.RotateCounterClockwise(); err != nil {
				t.Fatal(err)
			}
		}
		res, err := gozxingqr.NewQRCodeReader().Decode(bmp, nil)
		if err == nil {
			return res.GetText()
		}
		errs = append(errs, err)
	}
	t.Fatalf("testenv: no readable QR code, upright or turned any way: %v", errors.Join(errs...))
	return ""
}
