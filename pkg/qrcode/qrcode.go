// Package qrcode draws QR codes as PNG data URLs, for authenticator apps to
// scan an otpauth:// URI off a screen. The symbol itself comes from
// github.com/boombuler/barcode (pure Go, no dependencies, kept up and the
// encoder pquerna/otp uses); this package only draws it with the quiet zone
// that scanners need around it.
package qrcode

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/boombuler/barcode/qr"
)

const (
	// quietZone is the blank margin, in modules, that ISO/IEC 18004 asks for.
	quietZone = 4
	// moduleSize is the side of one module in pixels: a version 7 code
	// (what an otpauth:// URI needs) comes out at 264 px, easy to scan off
	// a phone-sized screen.
	moduleSize = 6
)

// PNGDataURL returns content as a QR code (error correction level M) in a
// "data:image/png;base64,..." URL. Returns an error only for content too
// long for any QR code.
func PNGDataURL(content string) (string, error) {
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		return "", fmt.Errorf("qrcode: %w", err)
	}
	n := code.Bounds().Dx()
	side := (n + 2*quietZone) * moduleSize
	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	for y := range n {
		for x := range n {
			if !dark(code.At(code.Bounds().Min.X+x, code.Bounds().Min.Y+y)) {
				continue
			}
			for dy := range moduleSize {
				for dx := range moduleSize {
					img.SetColorIndex((quietZone+x)*moduleSize+dx, (quietZone+y)*moduleSize+dy, 1)
				}
			}
		}
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&b, img); err != nil {
		return "", fmt.Errorf("qrcode: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()), nil
}

func dark(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r+g+b < 3*0x8000
}
