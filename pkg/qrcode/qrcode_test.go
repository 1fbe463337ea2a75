package qrcode_test

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"

	"authfn/pkg/qrcode"
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
		raw, ok := strings.CutPrefix(url, "data:image/png;base64,")
		if !ok {
			t.Fatalf("data URL starts %.30q", url)
		}
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("not a PNG: %v", err)
		}
		if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != h || w < 150 || w > 600 {
			t.Errorf("image is %dx%d, want a square of 150-600 px", w, h)
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		res, err := gozxingqr.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Fatalf("decode the QR code: %v", err)
		}
		if res.GetText() != content {
			t.Errorf("QR code reads %q, want %q", res.GetText(), content)
		}
	}
}

func TestTooLong(t *testing.T) {
	if _, err := qrcode.PNGDataURL(strings.Repeat("x", 8000)); err == nil {
		t.Error("PNGDataURL accepted content longer than any QR code holds")
	}
}
