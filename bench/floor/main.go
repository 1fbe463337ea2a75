// Command floor is the baseline `make bench` (scripts/load) measures the
// runner against, in the same run on the same machine. It is not shipped.
//
// It does the least work each route's contract needs, with the libraries
// the service uses, and nothing else: no middleware, no logging, no
// errors beyond a status code.
//
//	GET  /me     the bearer token verified with golang-jwt/v5 HS256 and the
//	             same parser options as pkg/auth, one go-redis GET of the
//	             session key, one pgx primary-key read of the user row
//	             (pgx's default mode, the statement cache), the row written
//	             as JSON of the same shape as the service's GET /me.
//	POST /login  the JSON body decoded, then one bcrypt comparison at
//	             BCRYPT_COST: the floor docs/architecture.md names for a login.
//
// Environment: ADDR, DATABASE_URL, REDIS_URL, JWT_SECRET, BCRYPT_COST,
// ADMIN_PASSWORD (the password /login accepts), FLOOR_SESSION_PREFIX (the
// Redis key of a session is this prefix and the token's sid).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

type claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
	Username  string `json:"username"`
	Admin     bool   `json:"admin"`
}

type user struct {
	ID          int64      `json:"id"`
	Username    string     `json:"username"`
	FullName    string     `json:"full_name"`
	IsAdmin     bool       `json:"is_admin"`
	IsActive    bool       `json:"is_active"`
	Source      string     `json:"source"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
}

func main() {
	if err := run(context.Background(), os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	pool, err := pgxpool.New(ctx, getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer pool.Close()
	opt, err := redis.ParseURL(getenv("REDIS_URL"))
	if err != nil {
		return err
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	cost, err := strconv.Atoi(getenv("BCRYPT_COST"))
	if err != nil {
		return fmt.Errorf("BCRYPT_COST: %w", err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(getenv("ADMIN_PASSWORD")), cost)
	if err != nil {
		return err
	}
	secret := []byte(getenv("JWT_SECRET"))
	keyFunc := func(*jwt.Token) (any, error) { return secret, nil }
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
	sessionPrefix := getenv("FLOOR_SESSION_PREFIX")

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
		if err := rc.Get(r.Context(), sessionPrefix+c.SessionID).Err(); err != nil {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		var u user
		err = pool.QueryRow(r.Context(), `SELECT id, username, full_name, is_admin, is_active, source, created_at, updated_at, last_login_at FROM users WHERE id = $1`, id).
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
		if bcrypt.CompareHashAndPassword(hash, []byte(req.Password)) != nil {
			http.Error(w, "invalid credentials", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
	})
	srv := &http.Server{Addr: getenv("ADDR"), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return srv.ListenAndServe()
}
