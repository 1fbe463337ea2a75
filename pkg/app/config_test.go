package app

import (
	"authfn/pkg/auth"
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"log/slog"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const secret = "0123456789abcdef0123456789abcdef"

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigDefaults(t *testing.T) {
	c, err := ConfigFromEnv(env(map[string]string{"JWT_SECRET": secret}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		RedisKeyPrefix: "authfn:", JWTSecret: []byte(secret), JWTIssuer: "authfn", JWTAudience: "authfn",
		AccessTokenTTL: 1800 * time.Second, RefreshTokenTTL: 7 * 24 * time.Hour, SessionMaxAge: 30 * 24 * time.Hour,
		RefreshReuseGrace: 10 * time.Second, BcryptCost: 12, AdminUsername: "admin", Addr: ":8080", LocalDir: ".local", LogLevel: slog.LevelInfo,
		LoginMaxFailures: 5, LoginMaxFailuresPerIP: 100, LoginMaxFailuresPerUsername: 50, LoginFailureWindow: 15 * time.Minute,
		CleanupInterval: 15 * time.Minute, AuditRetention: 90 * 24 * time.Hour, StoreTimeout: 3 * time.Second,
		GPUStackTimeout: 3 * time.Second, AdminMFA: "optional",
	}
	if diff := cmp.Diff(want, c, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestConfigValues(t *testing.T) {
	c, err := ConfigFromEnv(env(map[string]string{
		"JWT_SECRET": secret, "ACCESS_TOKEN_TTL": "900", "REFRESH_TOKEN_TTL": "48h", "SESSION_MAX_AGE": "720h",
		"REFRESH_REUSE_GRACE": "0", "BCRYPT_COST": "10", "TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1 ,::1",
		"CORS_ALLOWED_ORIGINS": "https://a.example,https://b.example", "LOG_LEVEL": "debug",
		"DATABASE_URL": "postgres://u:p@db:5432/authfn", "REDIS_URL": "redis://cache:6379?addr=cache2:6379",
		"GPUSTACK_URL": "http://127.0.0.1:9000", "LOGIN_MAX_FAILURES": "3", "METRICS_ADDR": ":9090",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessTokenTTL != 15*time.Minute || c.RefreshTokenTTL != 48*time.Hour || c.RefreshReuseGrace != 0 || c.BcryptCost != 10 || c.LoginMaxFailures != 3 {
		t.Errorf("durations/ints parsed wrong: %+v", c)
	}
	wantProxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("::1/128")}
	if !cmp.Equal(c.TrustedProxies, wantProxies, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })) {
		t.Errorf("TrustedProxies = %v, want %v", c.TrustedProxies, wantProxies)
	}
	if c.MetricsAddr != ":9090" {
		t.Errorf("MetricsAddr = %q, want :9090", c.MetricsAddr)
	}
	if len(c.CORSOrigins) != 2 || c.LogLevel != slog.LevelDebug {
		t.Errorf("CORS %v level %v", c.CORSOrigins, c.LogLevel)
	}
}

// TestConfigReportsEveryProblem: one error lists every bad value, and never
// a secret's value.
func TestConfigReportsEveryProblem(t *testing.T) {
	bad := map[string]string{
		"JWT_SECRET": "too-short-secret", "BCRYPT_COST": "9", "ACCESS_TOKEN_TTL": "soon", "LOG_LEVEL": "loud",
		"TRUSTED_PROXIES": "not-a-cidr", "DATABASE_URL": "mysql://x", "REDIS_URL": "http://x",
		"ADMIN_USERNAME": "bad name", "ADMIN_PASSWORD": "short", "LOGIN_MAX_FAILURES": "many",
		"REFRESH_TOKEN_TTL": "1000h", "GPUSTACK_URL": "http://gpustack.example.com", "SESSION_MAX_AGE": "-1h",
		"MFA_KEY": "c2l4dGVlbi1ieXRlLWtleQ==", "ADMIN_MFA": "always",
		"LOGIN_MAX_FAILURES_PER_USERNAME": "3",
		"METRICS_ADDR":                    "9090",
	}
	_, err := ConfigFromEnv(env(bad))
	if err == nil {
		t.Fatal("accepted a bad configuration")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	for _, leak := range []string{"too-short-secret", "short\"", "c2l4dGVlbi1ieXRlLWtleQ"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error echoes a secret (%s):\n%v", leak, err)
		}
	}
}

// TestConfigMFA: MFA_KEY is 32 bytes in any base64 alphabet, padded or
// not, and neither needed nor echoed; ADMIN_MFA is optional or required;
// the issuer authenticator apps show is JWT_ISSUER's host.
func TestConfigMFA(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	key[0], key[1] = 0xfb, 0xff // '+' and '/' in the standard alphabet, '-' and '_' in the URL one
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		c, err := ConfigFromEnv(env(map[string]string{"JWT_SECRET": secret, "MFA_KEY": enc.EncodeToString(key), "ADMIN_MFA": "required",
			"JWT_ISSUER": "https://auth.example.com/api/auth/v2"}))
		if err != nil {
			t.Fatal(err)
		}
		a := c.AuthConfig()
		if !bytes.Equal(a.MFAKey, key) || !a.AdminMFARequired || a.MFAIssuer != "auth.example.com" {
			t.Errorf("%s: key %x, admin MFA required %v, issuer %q", enc.EncodeToString(key), a.MFAKey, a.AdminMFARequired, a.MFAIssuer)
		}
	}
	c, err := ConfigFromEnv(env(map[string]string{"JWT_SECRET": secret}))
	if err != nil || c.MFAKey != nil || c.AuthConfig().AdminMFARequired || c.AuthConfig().MFAIssuer != "authfn" {
		t.Errorf("without MFA settings: %v, key %x, %+v", err, c.MFAKey, c.AuthConfig())
	}
	for _, bad := range []string{base64.StdEncoding.EncodeToString(key[:31]), base64.StdEncoding.EncodeToString(append(key, 1)), "not base64 at all!"} {
		_, err := ConfigFromEnv(env(map[string]string{"JWT_SECRET": secret, "MFA_KEY": bad}))
		if err == nil || !strings.Contains(err.Error(), "MFA_KEY") || strings.Contains(err.Error(), bad) {
			t.Errorf("MFA_KEY %q: err = %v, want a refusal that does not echo it", bad, err)
		}
	}
	// The setup step reads it too: it checks the key against the database.
	if c, err := SetupConfigFromEnv(env(map[string]string{"MFA_KEY": base64.StdEncoding.EncodeToString(key)})); err != nil || !bytes.Equal(c.MFAKey, key) {
		t.Errorf("SetupConfigFromEnv: key %x, %v", c.MFAKey, err)
	}
}

// TestConfigLoginCeiling: LOGIN_MAX_FAILURES_PER_USERNAME is the core's
// per-username ceiling, with LOGIN_MAX_FAILURES per (username, address)
// (docs/security.md 8). A ceiling below the per-address limit would lock a
// name from everywhere first, so it stops the start; an equal one (the
// old per-username lock) is the operator's choice.
func TestConfigLoginCeiling(t *testing.T) {
	c, err := ConfigFromEnv(env(map[string]string{"JWT_SECRET": secret, "LOGIN_MAX_FAILURES": "7", "LOGIN_MAX_FAILURES_PER_USERNAME": "70"}))
	if err != nil {
		t.Fatal(err)
	}
	if a := c.AuthConfig(); a.UserThrottle.Max != 7 || a.UserCeiling.Max != 70 || a.UserCeiling.Window != 15*time.Minute || a.UserCeiling.MaxLock != 15*time.Minute {
		t.Errorf("pair policy %+v, ceiling %+v; want 7 and 70 failures in 15 minutes", a.UserThrottle, a.UserCeiling)
	}
	if _, err := ConfigFromEnv(env(map[string]string{"JWT_SECRET": secret, "LOGIN_MAX_FAILURES_PER_USERNAME": "5"})); err != nil {
		t.Errorf("a ceiling equal to LOGIN_MAX_FAILURES: %v", err)
	}
	for _, v := range []string{"4", "0", "-1", "lots"} {
		_, err := ConfigFromEnv(env(map[string]string{"JWT_SECRET": secret, "LOGIN_MAX_FAILURES_PER_USERNAME": v}))
		if err == nil || !strings.Contains(err.Error(), "LOGIN_MAX_FAILURES_PER_USERNAME") {
			t.Errorf("ceiling %q: err = %v, want it refused", v, err)
		}
	}
}

// TestConfigGPUStackAPIKey: GPUSTACK_API_KEY is read with GPUSTACK_URL;
// without one, or unfit for a header, it stops the start, and the error
// names the variable, never the key.
func TestConfigGPUStackAPIKey(t *testing.T) {
	const key = "gpustack_0a1b2c3d_s3cr3t"
	c, err := ConfigFromEnv(env(map[string]string{"JWT_SECRET": secret, "GPUSTACK_URL": "https://gpustack.example.com", "GPUSTACK_API_KEY": " " + key + "\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.GPUStackAPIKey != key {
		t.Errorf("GPUStackAPIKey = %q, want %q", c.GPUStackAPIKey, key)
	}
	for _, tc := range []struct{ name, url, key string }{
		{"without GPUSTACK_URL", "", key},
		{"with a space", "https://gpustack.example.com", "gpustack_0a1b s3cr3t"},
		{"too long", "https://gpustack.example.com", strings.Repeat("s3cr3t", 200)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ConfigFromEnv(env(map[string]string{"JWT_SECRET": secret, "GPUSTACK_URL": tc.url, "GPUSTACK_API_KEY": tc.key}))
			if err == nil || !strings.Contains(err.Error(), "GPUSTACK_API_KEY") {
				t.Fatalf("err = %v, want one naming GPUSTACK_API_KEY", err)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error echoes the key: %v", err)
			}
		})
	}
}

func TestConfigRequiresSecret(t *testing.T) {
	if _, err := ConfigFromEnv(env(nil)); err == nil || !strings.Contains(err.Error(), "JWT_SECRET is required") {
		t.Errorf("err = %v, want JWT_SECRET is required", err)
	}
	// docs/security.md 1: below cost 10 the service does not start.
	_, err := ConfigFromEnv(env(map[string]string{"JWT_SECRET": secret, "BCRYPT_COST": "4"}))
	if err == nil || !strings.Contains(err.Error(), "BCRYPT_COST") {
		t.Errorf("cost 4: err = %v", err)
	}
}

func TestConfigEd25519Key(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	p := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	c, err := ConfigFromEnv(env(map[string]string{"JWT_SECRET": p}))
	if err != nil {
		t.Fatal(err)
	}
	if !key.Equal(c.JWTPrivateKey) || c.JWTSecret != nil {
		t.Error("the PEM key was not read as an Ed25519 key")
	}
	if _, err := ConfigFromEnv(env(map[string]string{"JWT_SECRET": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"})); err == nil {
		t.Error("accepted a broken PEM key")
	}
}

// TestConfigES256AndVerifyKeys: a SEC1 P-256 key in JWT_SECRET signs
// ES256; JWT_VERIFY_KEYS takes earlier public keys one after another; a
// bad verify key stops the start without echoing it.
func TestConfigES256AndVerifyKeys(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalECPrivateKey(ec)
	_, old, _ := ed25519.GenerateKey(rand.Reader)
	older, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub1, _ := x509.MarshalPKIXPublicKey(old.Public())
	pub2, _ := x509.MarshalPKIXPublicKey(&older.PublicKey)
	verify := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub1})) + string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub2}))
	c, err := ConfigFromEnv(env(map[string]string{
		"JWT_SECRET": string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})), "JWT_VERIFY_KEYS": verify,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !ec.Equal(c.JWTPrivateKey) || len(c.JWTVerifyKeys) != 2 {
		t.Fatalf("key %T, %d verify keys; want the P-256 key and 2", c.JWTPrivateKey, len(c.JWTVerifyKeys))
	}
	tk, err := auth.NewTokens(c.AuthConfig().Tokens, time.Now)
	if err != nil || tk.Alg() != "ES256" || len(tk.Algorithms()) != 2 {
		t.Errorf("tokens: %v alg %s algorithms %v, want ES256 then EdDSA", err, tk.Alg(), tk.Algorithms())
	}
	_, err = ConfigFromEnv(env(map[string]string{"JWT_SECRET": secret, "JWT_VERIFY_KEYS": "-----BEGIN PUBLIC KEY-----\nc2VjcmV0LWlzaA==\n-----END PUBLIC KEY-----"}))
	if err == nil || !strings.Contains(err.Error(), "JWT_VERIFY_KEYS") || strings.Contains(err.Error(), "c2VjcmV0LWlzaA") {
		t.Errorf("a bad verify key: %v", err)
	}
}

func TestOpenRequiresServers(t *testing.T) {
	_, err := Open(t.Context(), env(map[string]string{"JWT_SECRET": secret}))
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Errorf("Open without servers: %v", err)
	}
}

// TestOpenDoesNoIO: a Lambda cold start pays no network round trip, so
// Open succeeds even when nothing listens at the URLs.
func TestOpenDoesNoIO(t *testing.T) {
	a, err := Open(t.Context(), env(map[string]string{"JWT_SECRET": secret,
		"DATABASE_URL": "postgres://postgres@127.0.0.1:1/none", "REDIS_URL": "redis://127.0.0.1:1"}))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	a.Close()
}

// TestFunctionsDoNotLinkEmbeddedStores: SQLite and the in-process Redis
// belong to the local runner alone; no Lambda carries them.
func TestFunctionsDoNotLinkEmbeddedStores(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "authfn/functions/...", "authfn/pkg/app").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	// Nor the Prometheus client: the functions write EMF, and only the
	// runner serves /metrics (a Lambda cold start reads the whole binary).
	for _, banned := range []string{"modernc.org/sqlite", "github.com/alicebob/miniredis/v2", "authfn/pkg/sqlite", "authfn/local",
		"github.com/prometheus/client_golang", "authfn/pkg/metrics/prom"} {
		for _, line := range strings.Split(string(out), "\n") {
			if line == banned || strings.HasPrefix(line, banned+"/") {
				t.Errorf("functions link %s", line)
			}
		}
	}
	if !strings.Contains(string(out), "github.com/jackc/pgx/v5") {
		t.Error("go list output does not look like a dependency list")
	}
}
