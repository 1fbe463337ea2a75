// Command server serves package floor for scripts/load, next to the
// runner. It is not shipped.
//
// Environment: ADDR, DATABASE_URL, REDIS_URL, JWT_SECRET, BCRYPT_COST,
// ADMIN_PASSWORD (the password POST /login accepts), FLOOR_SESSION_PREFIX
// (the Redis key of a session is this prefix and the token's sid).
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"authfn/bench/floor"
)

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
	h := floor.Handler(floor.Deps{
		Pool: pool, Redis: rc, Secret: []byte(getenv("JWT_SECRET")),
		SessionPrefix: getenv("FLOOR_SESSION_PREFIX"), PasswordHash: hash,
	})
	srv := &http.Server{Addr: getenv("ADDR"), Handler: h, ReadHeaderTimeout: 5 * time.Second}
	return srv.ListenAndServe()
}
