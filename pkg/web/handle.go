package web

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"authfn/pkg/auth"
)

// Handle adapts a handler that returns an error: the error becomes a
// problem document, so handlers never write error responses themselves.
func Handle(logger *slog.Logger, fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			Error(w, r, logger, err)
		}
	})
}

// Authenticator is what RequireSession needs of the core.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (auth.Session, error)
}

// Authorizer is what RequireAdmin needs of the core: the acting session's
// admin rights, read from the user's current record.
type Authorizer interface {
	Authorize(ctx context.Context, actor auth.Session) (auth.User, error)
}

// RequireSession lets a request through only with a valid bearer token
// whose session still exists; the session is put in the context, where
// handlers read it with SessionOf and pass it to the core as an argument.
func RequireSession(logger *slog.Logger, a Authenticator, next http.Handler) http.Handler {
	return Handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		token, err := bearer(r)
		if err != nil {
			return err
		}
		s, err := a.Authenticate(r.Context(), token)
		if err != nil {
			return err
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
		return nil
	})
}

// RequireAdmin is RequireSession plus a check of the caller's current
// record: 401 without a valid token, 403 for a non-admin, before the
// request body is read. It is an early answer, not the authority: every
// admin operation of the core checks the actor's rights again, so a route
// registered without this middleware still cannot act as an admin.
func RequireAdmin(logger *slog.Logger, a Authenticator, z Authorizer, next http.Handler) http.Handler {
	return RequireSession(logger, a, Handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		s, err := SessionOf(r)
		if err != nil {
			return err
		}
		if _, err := z.Authorize(r.Context(), s); err != nil {
			return err
		}
		next.ServeHTTP(w, r)
		return nil
	}))
}

// bearer extracts the token of an "Authorization: Bearer" header. An
// over-long header is refused before anything parses it (docs/security.md 15).
func bearer(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	if len(values) != 1 || len(values[0]) > auth.MaxTokenBytes+len("Bearer ") {
		return "", auth.ErrInvalidToken
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", auth.ErrInvalidToken
	}
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", auth.ErrInvalidToken
	}
	return token, nil
}

type sessionKey struct{}

// SessionOf returns the authenticated session of r. Handlers behind
// RequireSession always have one; a missing one is a wiring bug and
// answered as an internal error.
func SessionOf(r *http.Request) (auth.Session, error) {
	s, ok := r.Context().Value(sessionKey{}).(auth.Session)
	if !ok {
		return auth.Session{}, auth.Errorf(auth.CodeInternal, "no session in context")
	}
	return s, nil
}

// Router is where a group registers its routes: an *http.ServeMux, or
// anything that records the patterns (the local runner lists them so that
// a test can hold template.yaml to exactly the same routes).
type Router interface {
	Handle(pattern string, handler http.Handler)
}

// RouteRecorder is a Router that remembers every pattern it was given and
// passes the registration on to Mux.
type RouteRecorder struct {
	Mux      *http.ServeMux
	Patterns []string
}

// Handle registers h on the underlying mux and records pattern.
func (rr *RouteRecorder) Handle(pattern string, h http.Handler) {
	rr.Patterns = append(rr.Patterns, pattern)
	rr.Mux.Handle(pattern, h)
}
