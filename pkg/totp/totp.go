// Package totp computes and checks time-based one-time passwords: RFC 6238
// over RFC 4226's HOTP, with the parameters every authenticator app
// assumes when an otpauth:// URI names them (HMAC-SHA-1, 6 digits, 30 s
// steps). It knows nothing of users or storage: the caller keeps the
// secret and the last step it accepted.
package totp

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// Digits is the length of a code.
	Digits = 6
	// Period is the length of a time step (RFC 6238's X).
	Period = 30 * time.Second
	// SecretBytes is the secret length RFC 4226 §4 recommends (160 bits).
	SecretBytes = 20
)

// Encoding is how secrets are shown to people and apps: RFC 4648 base32
// without padding, which the Key URI format asks for.
var Encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Step returns the time step t falls in: RFC 6238's T = floor((t - T0) / X)
// with T0 the Unix epoch. Times before the epoch are step 0 or less and
// never occur in practice.
func Step(t time.Time) int64 {
	return floorDiv(t.Unix(), int64(Period/time.Second))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Code returns the HOTP value of secret at counter (RFC 4226 §5.3):
// HMAC-SHA-1 of the counter as 8 big-endian bytes, dynamically truncated
// to 31 bits, modulo 10^Digits, left-padded with zeros.
func Code(secret []byte, counter int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	mac := hmac.New(sha1.New, secret)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	offset := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[offset:offset+4]) & 0x7fffffff
	s := strconv.FormatUint(uint64(bin%1_000_000), 10)
	for len(s) < Digits {
		s = "0" + s
	}
	return s
}

// Verify reports the smallest step within skew steps of at's step, either
// way, that is after the step last accepted and whose code is code. Every
// candidate is computed and compared in constant time, whatever matches,
// so the time taken says nothing about how close a guess was. A code of
// the wrong length or with anything but digits never matches.
func Verify(secret []byte, code string, at time.Time, skew int, after int64) (int64, bool) {
	valid := len(code) == Digits
	for _, c := range []byte(code) {
		if c < '0' || c > '9' {
			valid = false
		}
	}
	now := Step(at)
	found, match := int64(0), 0
	for s := now - int64(skew); s <= now+int64(skew); s++ {
		eq := subtle.ConstantTimeCompare([]byte(Code(secret, s)), []byte(code))
		take := eq & boolInt(s > after) & (1 - match)
		if take == 1 {
			found = s
		}
		match |= take
	}
	return found, valid && match == 1
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// KeyURI returns the otpauth:// URI an authenticator app reads from a QR
// code (the Key URI format of Google Authenticator, which the others
// follow): the label "issuer:account" and every parameter spelled out, so
// that no app has to assume a default.
func KeyURI(issuer, account string, secret []byte) string {
	return "otpauth://totp/" + escape(issuer) + ":" + escape(account) +
		"?secret=" + Encoding.EncodeToString(secret) + "&issuer=" + escape(issuer) +
		"&algorithm=SHA1&digits=" + strconv.Itoa(Digits) + "&period=" + strconv.Itoa(int(Period/time.Second))
}

// escape percent-encodes s for the label or a query value: a space as %20
// (the format's examples do; "+" would be read literally by some apps).
func escape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
