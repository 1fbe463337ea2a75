package app

import (
	"context"
	"errors"
	"os"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/redisstore"
)

// OpenVerifier reads the configuration through getenv and builds the App
// on Redis at REDIS_URL (required) and no other store: DATABASE_URL is
// neither needed nor dialled, so a token verifier that runs beside the
// service (the Lambda authorizer, docs/api.md "Verifying tokens for other
// services") works where only Redis is reachable. Only what reads Redis
// works: Auth.Sessions.Authenticate verifies a token and checks its
// session in one round trip; everything that needs PostgreSQL returns
// CodeUnavailable (docs/security.md 33). The client connects lazily, so
// OpenVerifier does no network round trip.
func OpenVerifier(ctx context.Context, getenv func(string) string) (*App, error) {
	_ = ctx // kept for symmetry with Open; nothing here does I/O
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	if cfg.RedisURL == "" {
		return nil, errors.New("REDIS_URL is required")
	}
	logger := NewLogger(os.Stdout, cfg.LogLevel)
	LogRedisTo(logger)
	rc, err := redisstore.NewClient(cfg.RedisURL, cfg.StoreTimeout)
	if err != nil {
		return nil, err
	}
	return Build(cfg, logger, Backends{SQL: noSQL{}, Redis: rc, Closers: []func(){func() { _ = rc.Close() }}})
}

// noSQL stands where the core expects its SQL stores: the authorizer has
// no PostgreSQL. Every method answers CodeUnavailable, so a code path that
// would read users, preferences or the audit log fails closed instead of
// reaching a database. The interfaces are embedded (nil) only so that a
// method added to them later still compiles; such a method panics until
// it is added here, and a panic in a Lambda handler is an error, never an
// allow.
type noSQL struct {
	auth.UserStore
	auth.PreferenceStore
	auth.AuditStore
	auth.MFAStore
}

func errNoSQL() error {
	return auth.Unavailable("postgres", errors.New("the authorizer has no PostgreSQL"))
}

func (noSQL) CreateUser(context.Context, auth.NewUser) (auth.User, error) {
	return auth.User{}, errNoSQL()
}

func (noSQL) CreateFirstAdmin(context.Context, auth.NewUser) (auth.User, bool, error) {
	return auth.User{}, false, errNoSQL()
}

func (noSQL) User(context.Context, int64) (auth.User, error) { return auth.User{}, errNoSQL() }

func (noSQL) UserByUsername(context.Context, string) (auth.User, error) {
	return auth.User{}, errNoSQL()
}

func (noSQL) UpdateUser(context.Context, int64, auth.UserPatch) (auth.User, error) {
	return auth.User{}, errNoSQL()
}

func (noSQL) DeleteUser(context.Context, int64) error { return errNoSQL() }

func (noSQL) ListUsers(context.Context, auth.UserQuery) ([]auth.User, error) {
	return nil, errNoSQL()
}

func (noSQL) CountActiveAdmins(context.Context) (int, error) { return 0, errNoSQL() }

func (noSQL) CountUsers(context.Context) (auth.UserCounts, error) {
	return auth.UserCounts{}, errNoSQL()
}

func (noSQL) RecordLogin(context.Context, int64, time.Time, string, string) (auth.User, error) {
	return auth.User{}, errNoSQL()
}

func (noSQL) Ping(context.Context) error { return errNoSQL() }

func (noSQL) Preferences(context.Context, int64) (auth.Preferences, error) {
	return nil, errNoSQL()
}

func (noSQL) UpdatePreferences(context.Context, int64, auth.Preferences, int) (auth.Preferences, error) {
	return nil, errNoSQL()
}

func (noSQL) RecordEvent(context.Context, auth.Event) error { return errNoSQL() }

func (noSQL) Events(context.Context, auth.EventQuery) ([]auth.Event, error) {
	return nil, errNoSQL()
}

func (noSQL) CountEventsByHour(context.Context, []string, time.Time, time.Time) ([]auth.HourCount, error) {
	return nil, errNoSQL()
}

func (noSQL) DeleteEventsBefore(context.Context, time.Time, int) (int, error) {
	return 0, errNoSQL()
}

func (noSQL) EnableMFA(context.Context, int64, auth.MFAEnrolment) error { return errNoSQL() }

func (noSQL) MFA(context.Context, int64) (auth.MFARecord, error) { return auth.MFARecord{}, errNoSQL() }

func (noSQL) AdvanceMFAStep(context.Context, int64, int64) (bool, error) { return false, errNoSQL() }

func (noSQL) UseRecoveryCode(context.Context, int64, string) (bool, error) { return false, errNoSQL() }

func (noSQL) DisableMFA(context.Context, int64) (bool, error) { return false, errNoSQL() }

func (noSQL) MFAKeyCheck(context.Context) (string, error) { return "", errNoSQL() }

func (noSQL) InitMFAKeyCheck(context.Context, string) (string, error) { return "", errNoSQL() }
