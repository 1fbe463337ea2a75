package auth

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, MFAKeyBytes) }

// TestSealer: a sealed secret opens with its key for its user only; a
// wrong key, another user or one flipped bit is errWrongMFAKey, never
// garbage; the same secret sealed twice differs (random nonce).
func TestSealer(t *testing.T) {
	s, err := newSealer(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("twenty bytes secret!")
	sealed, err := s.seal(rand.Reader, 42, secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("the sealed value holds the secret in clear")
	}
	if got, err := s.open(42, sealed); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open = %q, %v; want the secret", got, err)
	}
	again, _ := s.seal(rand.Reader, 42, secret)
	if bytes.Equal(again, sealed) {
		t.Error("two seals of one secret are equal: the nonce is not fresh")
	}
	other, _ := newSealer(testKey(2))
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"wrong key":     func() ([]byte, error) { return other.open(42, sealed) },
		"another user":  func() ([]byte, error) { return s.open(43, sealed) },
		"a flipped bit": func() ([]byte, error) { return s.open(42, flipped) },
		"truncated":     func() ([]byte, error) { return s.open(42, sealed[:10]) },
		"empty":         func() ([]byte, error) { return s.open(42, nil) },
	} {
		if got, err := open(); !errors.Is(err, errWrongMFAKey) || got != nil {
			t.Errorf("%s: open = %q, %v; want errWrongMFAKey", name, got, err)
		}
	}
	if _, err := newSealer(testKey(1)[:16]); ErrorCode(err) != CodeInvalidRequest {
		t.Errorf("a 16-byte key: %v, want CodeInvalidRequest", err)
	}
	if again, _ := newSealer(testKey(1)); keyCheck(testKey(1)) == keyCheck(testKey(2)) || again.check != s.check {
		t.Error("keyCheck does not tell keys apart, or is not stable")
	}
}

// TestRecoveryCodes: ten distinct codes in the shown format, each hashed
// to what checking the typed code (any case, spaces, no hyphens) finds.
func TestRecoveryCodes(t *testing.T) {
	c := &core{rand: rand.Reader}
	codes, hashes, err := c.newRecoveryCodes(7)
	if err != nil || len(codes) != RecoveryCodeCount || len(hashes) != RecoveryCodeCount {
		t.Fatalf("newRecoveryCodes = %d codes, %d hashes, %v", len(codes), len(hashes), err)
	}
	seen := map[string]bool{}
	for i, code := range codes {
		if len(code) != 23 || code[5] != '-' || code[11] != '-' || code[17] != '-' {
			t.Errorf("code %q is not xxxxx-xxxxx-xxxxx-xxxxx", code)
		}
		typed := " " + string(bytes.ToUpper([]byte(code[:11]))) + code[12:] + " "
		if n := normaliseCode(typed); !isRecoveryCode(n) || recoveryHash(7, n) != hashes[i] {
			t.Errorf("typed %q does not find its hash", typed)
		}
		if recoveryHash(8, normaliseCode(code)) == hashes[i] {
			t.Error("another user's hash of the same code is equal")
		}
		seen[code] = true
	}
	if len(seen) != RecoveryCodeCount {
		t.Errorf("codes repeat: %v", codes)
	}
}
