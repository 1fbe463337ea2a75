package qrcode_test

import (
	"strings"
	"testing"

	"authfn/pkg/qrcode"
	"authfn/pkg/testenv"
)

// TestScansBack: what PNGDataURL draws, an independent decoder (gozxing, a
// port of ZXing, which phone scanners build on) reads back exactly.
func TestScansBack(t *testing.T) {
	for _, content := range []string{
		"otpauth://totp/authfn:ada?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=authfn&algorithm=SHA1&digits=6&period=30",
		"otpauth://totp/auth.example.com:" + strings.Repeat("a", 64) + "?secret=" + strings.Repeat("A", 32) +
			"&issuer=auth.example.com&algorithm=SHA1&digits=6&period=30",
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

func TestTooLong(t *testing.T) {
	if _, err := qrcode.PNGDataURL(strings.Repeat("x", 8000)); err == nil {
		t.Error("PNGDataURL accepted content longer than any QR code holds")
	}
}
