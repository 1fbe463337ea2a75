package qrcode_test

import (
	"crypto/rand"
	"strings"
	"testing"

	"authfn/pkg/qrcode"
	"authfn/pkg/testenv"
	"authfn/pkg/totp"
)

// TestScansBack: what PNGDataURL draws, an independent decoder (gozxing, a
// port of ZXing, which phone scanners build on) reads back exactly.
func TestScansBack(t *testing.T) {
	for _, content := range []string{
		"otpauth://totp/authfn:ada?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=authfn&algorithm=SHA1&digits=6&period=30",
		"otpauth://totp/auth.example.com:" + strings.Repeat("a", 64) + "?secret=" + strings.Repeat("A", 32) +
			"&issuer=auth.example.com&algorithm=SHA1&digits=6&period=30",
		// ZXing's finder search, scanning rows upright, takes a run of
		// modules in this one for a fourth corner (see testenv.ScanQR).
		"otpauth://totp/authfn:ada?algorithm=SHA1&digits=6&issuer=authfn&period=30&secret=NXWWXXN2EAAJ25EJLKMWV5EHUDGINMID",
	} {
		url, err := qrcode.PNGDataURL(content)
		if err != nil {
			t.Fatal(err)
		}
		if got := testenv.ScanQR(t, url); got != content {
			t.Errorf("QR code reads %q, want %q", got, content)
		}
	}
}

// TestRandomSecretsScanBack: enrolment puts a fresh random secret in every
// code, so one fixed URI proves little; 300 random ones, built as enrolment
// builds them (about two trip ZXing's upright finder search, as measured),
// must all read back.
func TestRandomSecretsScanBack(t *testing.T) {
	secret := make([]byte, 20)
	for range 300 {
		rand.Read(secret)
		content := totp.KeyURI("authfn", "ada", secret)
		url, err := qrcode.PNGDataURL(content)
		if err != nil {
			t.Fatal(err)
		}
		if got := testenv.ScanQR(t, url); got != content {
			t.Fatalf("QR code reads %q, want %q", got, content)
		}
	}
}

func TestTooLong(t *testing.T) {
	if _, err := qrcode.PNGDataURL(strings.Repeat("x", 8000)); err == nil {
		t.Error("PNGDataURL accepted content longer than any QR code holds")
	}
}
