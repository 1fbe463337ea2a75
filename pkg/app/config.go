// Package app turns the environment into a running service: configuration,
// the real stores, the logger and the core. The embedded stores of the
// local runner are wired in local/ only, so no Lambda links them.
package app

import (
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/gpustack"
)

// Config is every setting of the service. The environment names and
// defaults are those of docs/architecture.md; clients and deploy files depend on them.
type Config struct {
	DatabaseURL    string // DATABASE_URL; empty: the local runner's embedded SQLite
	RedisURL       string // REDIS_URL; empty: the local runner's in-process Redis
	RedisKeyPrefix string // REDIS_KEY_PREFIX, "authfn:"

	JWTSecret      []byte             // JWT_SECRET: ≥ 32 bytes (HS256) ...
	JWTPrivateKey  crypto.Signer      // ... or a PEM Ed25519 (EdDSA) or P-256 (ES256) private key
	JWTVerifyKeys  []crypto.PublicKey // JWT_VERIFY_KEYS: PEM public keys of earlier signing keys
	JWTIssuer      string             // JWT_ISSUER, "authfn"
	JWTAudience    string             // JWT_AUDIENCE, "authfn"
	AccessTokenTTL time.Duration      // ACCESS_TOKEN_TTL, 1800s

	MFAKey   []byte // MFA_KEY: 32 bytes in base64 (AES-256); empty: MFA cannot be used
	AdminMFA string // ADMIN_MFA, "optional" or "required"

	RefreshTokenTTL   time.Duration // REFRESH_TOKEN_TTL, 7 days (idle)
	SessionMaxAge     time.Duration // SESSION_MAX_AGE, 30 days (absolute)
	RefreshReuseGrace time.Duration // REFRESH_REUSE_GRACE, 10s
	BcryptCost        int           // BCRYPT_COST, 12; below 10 stops the start

	AdminUsername string // ADMIN_USERNAME, "admin"
	AdminPassword string // ADMIN_PASSWORD; empty: a random one, logged once

	Addr           string         // ADDR, ":8080" (local runner)
	MetricsAddr    string         // METRICS_ADDR; empty: no metrics listener (local runner)
	LocalDir       string         // LOCAL_DIR, ".local" (local runner: SQLite file, Redis snapshot, generated JWT secret)
	LogLevel       slog.Level     // LOG_LEVEL, info
	TrustedProxies []netip.Prefix // TRUSTED_PROXIES, none
	CORSOrigins    []string       // CORS_ALLOWED_ORIGINS, none

	LoginMaxFailures            int           // LOGIN_MAX_FAILURES, 5 (per username from one address)
	LoginMaxFailuresPerIP       int           // LOGIN_MAX_FAILURES_PER_IP, 100
	LoginMaxFailuresPerUsername int           // LOGIN_MAX_FAILURES_PER_USERNAME, 50 (per username across all addresses)
	LoginFailureWindow          time.Duration // LOGIN_FAILURE_WINDOW, 15m

	CleanupInterval time.Duration // CLEANUP_INTERVAL, 15m (local runner's timer)
	AuditRetention  time.Duration // AUDIT_RETENTION, 90 days
	StoreTimeout    time.Duration // STORE_TIMEOUT, 3s: the deadline of every store call

	GPUStackURL     string        // GPUSTACK_URL; empty: no upstream fallback
	GPUStackTimeout time.Duration // GPUSTACK_TIMEOUT, 3s
	GPUStackAPIKey  string        // GPUSTACK_API_KEY; empty: cleanup does not re-check GPUStack users
}

// ConfigFromEnv reads the configuration through getenv (os.Getenv in
// mains, a map in tests). It reports every bad value at once.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	return parseConfig(getenv, true)
}

// SetupConfigFromEnv reads what Setup needs (the database, the first
// admin, the bcrypt cost, timeouts and logging): the same variables with
// the same rules, except that no token key is required, since the
// migration step signs nothing.
func SetupConfigFromEnv(getenv func(string) string) (Config, error) {
	return parseConfig(getenv, false)
}

// parseConfig reads every variable; signing says whether the token key is
// needed.
func parseConfig(getenv func(string) string, signing bool) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		DatabaseURL:       strings.TrimSpace(getenv("DATABASE_URL")),
		RedisURL:          strings.TrimSpace(getenv("REDIS_URL")),
		RedisKeyPrefix:    r.str("REDIS_KEY_PREFIX", "authfn:"),
		JWTIssuer:         r.str("JWT_ISSUER", "authfn"),
		JWTAudience:       r.str("JWT_AUDIENCE", "authfn"),
		AccessTokenTTL:    r.duration("ACCESS_TOKEN_TTL", 1800*time.Second),
		RefreshTokenTTL:   r.duration("REFRESH_TOKEN_TTL", 7*24*time.Hour),
		SessionMaxAge:     r.duration("SESSION_MAX_AGE", 30*24*time.Hour),
		RefreshReuseGrace: r.duration("REFRESH_REUSE_GRACE", 10*time.Second),
		BcryptCost:        r.integer("BCRYPT_COST", 12),
		AdminUsername:     r.str("ADMIN_USERNAME", "admin"),
		AdminPassword:     getenv("ADMIN_PASSWORD"),
		Addr:              r.str("ADDR", ":8080"),
		MetricsAddr:       r.str("METRICS_ADDR", ""),
		LocalDir:          r.str("LOCAL_DIR", ".local"),
		LogLevel:          r.level("LOG_LEVEL"),
		TrustedProxies:    r.prefixes("TRUSTED_PROXIES"),
		CORSOrigins:       r.list("CORS_ALLOWED_ORIGINS"),

		LoginMaxFailures:            r.integer("LOGIN_MAX_FAILURES", 5),
		LoginMaxFailuresPerIP:       r.integer("LOGIN_MAX_FAILURES_PER_IP", 100),
		LoginMaxFailuresPerUsername: r.integer("LOGIN_MAX_FAILURES_PER_USERNAME", 50),
		LoginFailureWindow:          r.duration("LOGIN_FAILURE_WINDOW", 15*time.Minute),

		CleanupInterval: r.duration("CLEANUP_INTERVAL", 15*time.Minute),
		AuditRetention:  r.duration("AUDIT_RETENTION", 90*24*time.Hour),
		StoreTimeout:    r.duration("STORE_TIMEOUT", 3*time.Second),

		GPUStackURL:     strings.TrimSpace(getenv("GPUSTACK_URL")),
		GPUStackTimeout: r.duration("GPUSTACK_TIMEOUT", 3*time.Second),
		GPUStackAPIKey:  strings.TrimSpace(getenv("GPUSTACK_API_KEY")),

		MFAKey:   r.mfaKey("MFA_KEY"),
		AdminMFA: r.str("ADMIN_MFA", AdminMFAOptional),
	}
	if signing {
		c.JWTSecret, c.JWTPrivateKey = r.signingKey("JWT_SECRET")
		if keys, err := auth.ParseVerifyKeys(getenv("JWT_VERIFY_KEYS")); err != nil {
			r.fail("JWT_VERIFY_KEYS", err.Error())
		} else {
			c.JWTVerifyKeys = keys
		}
	}

	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ACCESS_TOKEN_TTL", c.AccessTokenTTL}, {"REFRESH_TOKEN_TTL", c.RefreshTokenTTL},
		{"SESSION_MAX_AGE", c.SessionMaxAge}, {"LOGIN_FAILURE_WINDOW", c.LoginFailureWindow},
		{"CLEANUP_INTERVAL", c.CleanupInterval}, {"AUDIT_RETENTION", c.AuditRetention},
		{"STORE_TIMEOUT", c.StoreTimeout}, {"GPUSTACK_TIMEOUT", c.GPUStackTimeout},
	} {
		if d.v <= 0 && r.getenv(d.name) != "" {
			r.fail(d.name, "must be greater than zero")
		}
	}
	if c.RefreshReuseGrace < 0 {
		r.fail("REFRESH_REUSE_GRACE", "must not be negative")
	}
	if c.RefreshTokenTTL > c.SessionMaxAge {
		r.fail("REFRESH_TOKEN_TTL", "must not exceed SESSION_MAX_AGE")
	}
	if c.BcryptCost < auth.MinBcryptCost || c.BcryptCost > 31 {
		r.fail("BCRYPT_COST", fmt.Sprintf("must be between %d and 31", auth.MinBcryptCost))
	}
	if !auth.ValidUsername(c.AdminUsername) {
		r.fail("ADMIN_USERNAME", "must be 3-64 characters of letters, digits and . _ - @")
	}
	if p := c.AdminPassword; p != "" && (len(p) < auth.MinPasswordBytes || len(p) > auth.MaxPasswordBytes) {
		r.fail("ADMIN_PASSWORD", fmt.Sprintf("must be %d-%d bytes", auth.MinPasswordBytes, auth.MaxPasswordBytes))
	}
	if c.AdminMFA != AdminMFAOptional && c.AdminMFA != AdminMFARequired {
		r.fail("ADMIN_MFA", fmt.Sprintf("must be %s or %s, not %q", AdminMFAOptional, AdminMFARequired, c.AdminMFA))
	}
	if c.LoginMaxFailures < 1 {
		r.fail("LOGIN_MAX_FAILURES", "must be at least 1")
	}
	if c.LoginMaxFailuresPerIP < 1 {
		r.fail("LOGIN_MAX_FAILURES_PER_IP", "must be at least 1")
	}
	// Below the per-address limit the ceiling would lock a username from
	// everywhere before any one address is locked: the lockout that the
	// per-address limit exists to prevent.
	if c.LoginMaxFailuresPerUsername < max(c.LoginMaxFailures, 1) {
		r.fail("LOGIN_MAX_FAILURES_PER_USERNAME", "must be at least LOGIN_MAX_FAILURES")
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			r.fail("METRICS_ADDR", fmt.Sprintf("must be host:port or :port (e.g. :9090), not %q", c.MetricsAddr))
		}
	}
	r.checkURL("DATABASE_URL", c.DatabaseURL, "postgres", "postgresql")
	r.checkURL("REDIS_URL", c.RedisURL, "redis", "rediss")
	if c.GPUStackURL != "" {
		// The upstream receives users' passwords: the client's own rule
		// (https, or http to a loopback host) decides.
		if err := gpustack.CheckURL(c.GPUStackURL); err != nil {
			r.fail("GPUSTACK_URL", strings.TrimPrefix(err.Error(), "gpustack: "))
		}
	}
	if c.GPUStackAPIKey != "" {
		// Only cleanup's re-check of GPUStack users reads the key; without
		// a server to ask it would be silently ignored.
		if c.GPUStackURL == "" {
			r.fail("GPUSTACK_API_KEY", "is set but GPUSTACK_URL is not")
		} else if err := gpustack.CheckAPIKey(c.GPUStackAPIKey); err != nil {
			r.fail("GPUSTACK_API_KEY", strings.TrimPrefix(err.Error(), "gpustack: API key "))
		}
	}
	if len(r.errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %w", errors.Join(r.errs...))
	}
	return c, nil
}

// AuthConfig is the part of c that the core needs.
func (c Config) AuthConfig() auth.Config {
	return auth.Config{
		Tokens: auth.TokenConfig{
			Issuer: c.JWTIssuer, Audience: c.JWTAudience, TTL: c.AccessTokenTTL,
			Secret: c.JWTSecret, PrivateKey: c.JWTPrivateKey, VerifyKeys: c.JWTVerifyKeys,
		},
		RefreshTTL:        c.RefreshTokenTTL,
		SessionMaxAge:     c.SessionMaxAge,
		RefreshReuseGrace: c.RefreshReuseGrace,
		BcryptCost:        c.BcryptCost,
		UserThrottle:      auth.ThrottlePolicy{Max: c.LoginMaxFailures, Window: c.LoginFailureWindow, BaseLock: 30 * time.Second, MaxLock: 15 * time.Minute},
		UserCeiling:       auth.ThrottlePolicy{Max: c.LoginMaxFailuresPerUsername, Window: c.LoginFailureWindow, BaseLock: 30 * time.Second, MaxLock: 15 * time.Minute},
		IPThrottle:        auth.ThrottlePolicy{Max: c.LoginMaxFailuresPerIP, Window: c.LoginFailureWindow, BaseLock: 30 * time.Second, MaxLock: 15 * time.Minute},
		AuditRetention:    c.AuditRetention,
		MFAKey:            c.MFAKey,
		MFAIssuer:         mfaIssuer(c.JWTIssuer),
		AdminMFARequired:  c.AdminMFA == AdminMFARequired,
	}
}

// The values of ADMIN_MFA.
const (
	AdminMFAOptional = "optional"
	AdminMFARequired = "required"
)

// mfaIssuer is the name authenticator apps show beside a user's codes: the
// host of a JWT_ISSUER that is a URL (what a person recognises), or the
// issuer itself.
func mfaIssuer(issuer string) string {
	if u, err := url.Parse(issuer); err == nil && u.Host != "" {
		return u.Hostname()
	}
	return issuer
}

// mfaKey reads a 32-byte key in base64 (standard or URL alphabet, padded
// or not). The value never appears in an error.
func (r *reader) mfaKey(name string) []byte {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			if len(b) != auth.MFAKeyBytes {
				r.fail(name, fmt.Sprintf("decodes to %d bytes; it must be %d (e.g. openssl rand -base64 32)", len(b), auth.MFAKeyBytes))
				return nil
			}
			return b
		}
	}
	r.fail(name, fmt.Sprintf("must be %d random bytes in base64 (e.g. openssl rand -base64 32)", auth.MFAKeyBytes))
	return nil
}

// reader parses values and collects every problem.
type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) fail(name, msg string) { r.errs = append(r.errs, fmt.Errorf("%s %s", name, msg)) }

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

// duration takes Go syntax ("30m", "168h") or plain seconds ("1800").
func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fail(name, fmt.Sprintf("must be a duration such as 30m or 1800 (seconds), not %q", v))
		return def
	}
	return d
}

func (r *reader) integer(name string, def int) int {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(name, fmt.Sprintf("must be a whole number, not %q", v))
		return def
	}
	return n
}

func (r *reader) level(name string) slog.Level {
	var l slog.Level
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return slog.LevelInfo
	}
	if err := l.UnmarshalText([]byte(v)); err != nil {
		r.fail(name, fmt.Sprintf("must be debug, info, warn or error, not %q", v))
	}
	return l
}

func (r *reader) list(name string) []string {
	var out []string
	for _, p := range strings.Split(r.getenv(name), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (r *reader) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range r.list(name) {
		if !strings.Contains(p, "/") {
			if a, err := netip.ParseAddr(p); err == nil {
				out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
		}
		pf, err := netip.ParsePrefix(p)
		if err != nil {
			r.fail(name, fmt.Sprintf("has %q, which is not a CIDR or an address", p))
			continue
		}
		out = append(out, pf.Masked())
	}
	return out
}

// signingKey reads a shared secret, or a PEM private key (auth.ParseSigningKey).
// The secret's value never appears in an error.
func (r *reader) signingKey(name string) ([]byte, crypto.Signer) {
	v := r.getenv(name)
	secret, key, err := auth.ParseSigningKey(v)
	switch {
	case err != nil:
		r.fail(name, err.Error())
		return nil, nil
	case key != nil:
		return nil, key
	case v == "":
		r.fail(name, fmt.Sprintf("is required: at least %d random bytes (e.g. openssl rand -base64 48)", auth.MinSecretBytes))
	case len(v) < auth.MinSecretBytes:
		r.fail(name, fmt.Sprintf("is %d bytes; it must be at least %d", len(v), auth.MinSecretBytes))
	}
	return secret, nil
}

func (r *reader) checkURL(name, v string, schemes ...string) {
	if v == "" {
		return
	}
	u, err := url.Parse(v)
	if err != nil {
		r.fail(name, "is not a URL") // the value may hold a password: never echo it
		return
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return
		}
	}
	r.fail(name, fmt.Sprintf("must start with %s://", strings.Join(schemes, ":// or ")))
}
