package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
)

// ParseSigningKey reads the value of JWT_SECRET: a PEM private key
// (PKCS#8 Ed25519 for EdDSA; P-256 as PKCS#8 or SEC1 "EC PRIVATE KEY" for
// ES256), or else a shared secret used as its raw bytes for HS256 (a
// verifier in another language must use the same bytes, not decode them).
// Exactly one of secret and key is set. Errors never contain the value.
func ParseSigningKey(value string) (secret []byte, key crypto.Signer, err error) {
	v := strings.TrimSpace(value)
	if !strings.HasPrefix(v, "-----BEGIN") {
		return []byte(value), nil, nil
	}
	block, rest := pem.Decode([]byte(v))
	if block == nil || len(strings.TrimSpace(string(rest))) > 0 {
		return nil, nil, errors.New("looks like PEM but is not exactly one PEM block")
	}
	switch block.Type {
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, nil, errors.New("holds an EC PRIVATE KEY block that does not parse")
		}
		return nil, k, checkSigner(k)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, nil, errors.New("holds a PRIVATE KEY block that is not PKCS#8")
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, nil, errors.New("holds a private key of a kind the service does not use")
		}
		return nil, s, checkSigner(s)
	}
	return nil, nil, errors.New("holds a PEM block of type " + block.Type + "; want PRIVATE KEY (PKCS#8 Ed25519 or P-256) or EC PRIVATE KEY (P-256)")
}

// checkSigner accepts Ed25519 and P-256 keys only.
func checkSigner(k crypto.Signer) error {
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return nil
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P256() {
			return nil
		}
		return errors.New("holds an EC key on " + k.Curve.Params().Name + "; ES256 needs P-256")
	}
	return errors.New("holds a private key that is neither Ed25519 nor P-256 (RSA is not supported)")
}

// ParseVerifyKeys reads the value of JWT_VERIFY_KEYS: zero or more PEM
// "PUBLIC KEY" blocks (PKIX, Ed25519 or P-256), the public halves of
// earlier signing keys.
func ParseVerifyKeys(value string) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	rest := []byte(strings.TrimSpace(value))
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("holds something that is not a PEM block")
		}
		if block.Type != "PUBLIC KEY" {
			return nil, errors.New("holds a PEM block of type " + block.Type + "; want PUBLIC KEY")
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, errors.New("holds a PUBLIC KEY block that does not parse")
		}
		if _, err := newVerifyKey(k); err != nil {
			return nil, errors.New("holds a public key that is neither Ed25519 nor P-256")
		}
		keys = append(keys, k)
		rest = []byte(strings.TrimSpace(string(rest)))
	}
	return keys, nil
}
