package auth

import "context"

// UpstreamUser is a profile an upstream identity provider vouched for.
type UpstreamUser struct {
	Username string
	FullName string
	IsAdmin  bool
	IsActive bool
}

// Upstream checks passwords of users who live in another system (GPUStack)
// so they can sign in here without a second account.
type Upstream interface {
	// Source is the name stored as these users' source ("gpustack").
	Source() string
	// Authenticate asks the upstream whether password is username's. It
	// returns the profile only when the upstream proves it: a profile of
	// another user is ErrInvalidCredentials. Wrong credentials are
	// ErrInvalidCredentials; an upstream that is down, slow or behind an
	// open circuit breaker is CodeUnavailable.
	Authenticate(ctx context.Context, username, password string) (UpstreamUser, error)
}

// UpstreamDirectory lists the users of an upstream, so that cleanup can
// take access away from users the upstream deactivated or deleted (see
// Maintenance.Cleanup).
type UpstreamDirectory interface {
	// Source is the name stored as these users' source ("gpustack").
	Source() string
	// ListUsers returns every user the upstream has, or an error: never
	// a partial list, since a user missing from it counts as deleted.
	ListUsers(ctx context.Context) ([]UpstreamUser, error)
}
