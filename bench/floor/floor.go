// Package floor is the baseline `make bench` measures the service
// against: the least work each measured route's contract needs, with the
// libraries the service uses, and nothing else (no middleware, no
// logging, no errors beyond a status code). It is never shipped: the
// load run serves it with bench/floor/server, next to the runner, and
// the Go benchmarks of functions/login call it in the same process.
package floor

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"authfn/pkg/auth"
)

// Deps are what the floor's routes use. The pool should be in pgx's
// default mode (the statement cache): the floor is the cheapest way.
type Deps struct {
	Pool  *pgxpool.Pool
	Redis redis.UniversalClient
	// Secret verifies HS256 access tokens issued as "authfn" for "authfn".
	Secret []byte
	// SessionPrefix and a token's sid make the Redis key of its session.
	SessionPrefix string
	// PasswordHash is the bcrypt hash POST /login compares with.
	PasswordHash []byte
}

type claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
	Username  string `json:"username"`
	Admin     bool   `json:"admin"`
}

// Handler serves
//
//	GET  /me     the bearer token verified with golang-jwt/v5 HS256 and the
//	             parser options pkg/auth pins, one go-redis GET of the
//	             session key, one pgx primary-key read of the user row, the
//	             row written as JSON of the shape of the service's GET /me;
//	POST /login  the JSON body decoded, then one bcrypt comparison: the
//	             floor docs/architecture.md names for a login.
func Handler(d Deps) http.Handler {
	keyFunc := func(*jwt.Token) (any, error) { return d.Secret, nil }
	// The options pkg/auth.NewTokens pins (docs/security.md 11).
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithIssuer("authfn"),
		jwt.WithAudience("authfn"),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(5*time.Second),
		jwt.WithStrictDecoding(),
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var c claims
		if _, err := parser.ParseWithClaims(raw, &c, keyFunc); !ok || err != nil {
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		id, err := strconv.ParseInt(c.Subject, 10, 64)
		if err != nil {
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		if err := d.Redis.Get(r.Context(), d.SessionPrefix+c.SessionID).Err(); err != nil {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		var u auth.User // the service's own type: the same JSON
		err = d.Pool.QueryRow(r.Context(), `SELECT id, username, full_name, is_admin, is_active, source, created_at, updated_at, last_login_at FROM users WHERE id = $1`, id).
			Scan(&u.ID, &u.Username, &u.FullName, &u.IsAdmin, &u.IsActive, &u.Source, &u.CreatedAt, &u.UpdatedAt, &u.LastLoginAt)
		if err != nil {
			http.Error(w, "no user", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(u)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Username string `json:"username"`
			Password string `json:"password"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if bcrypt.CompareHashAndPassword(d.PasswordHash, []byte(req.Password)) != nil {
			http.Error(w, "invalid credentials", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
	})
	return mux
}
