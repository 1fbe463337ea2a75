package login

import (
	"net/http"
	"strconv"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// handleVerify answers a reverse proxy's forward-auth subrequest (nginx
// auth_request, Traefik ForwardAuth, Envoy ext_authz, Caddy forward_auth):
// 200 with who the caller is in X-Auth-* headers and an empty body, 401 for
// any token that fails, 403 for a non-admin when ?admin=true asks for an
// admin, 503 when Redis is down (docs/api.md, docs/security.md 33).
//
// It costs what RequireSession costs, one Redis round trip (the session
// check) plus the signature, and never reads PostgreSQL: the admin flag it
// reports is the session record's, which a change of the user's rights
// updates at once (auth.Service.UpdateUser), never the token's admin claim,
// which a demoted admin's token keeps until it expires. A revocation is
// seen on the next request because the session is checked on every one.
//
// Only the Authorization header is read: the proxy forwards the original
// request's headers, and nothing the proxy adds (X-Forwarded-Uri, ...)
// changes the answer. GET only (ServeMux answers HEAD the same way).
func handleVerify(d Deps) http.Handler {
	verified := web.RequireSession(d.Logger, d.Sessions, web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		sess, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		if needAdmin, _ := adminParam(r); needAdmin && !sess.Admin {
			return auth.ErrForbidden
		}
		h := w.Header()
		h.Set("X-Auth-User-Id", strconv.FormatInt(sess.UserID, 10))
		h.Set("X-Auth-Username", sess.Username)
		h.Set("X-Auth-Admin", strconv.FormatBool(sess.Admin))
		h.Set("X-Auth-Session-Id", sess.ID)
		w.WriteHeader(http.StatusOK)
		return nil
	}))
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		// A malformed parameter is a proxy's configuration error: it is
		// answered before the token is looked at, so that it shows on the
		// first try, with or without a token.
		if _, err := adminParam(r); err != nil {
			return err
		}
		verified.ServeHTTP(w, r)
		return nil
	})
}

// adminParam reads ?admin=: absent or "false" asks for any signed-in user,
// "true" for an admin. Anything else, a repeated parameter included, is
// CodeValidation, never a guess that could let a non-admin through.
func adminParam(r *http.Request) (bool, error) {
	v, ok := r.URL.Query()["admin"]
	if !ok {
		return false, nil
	}
	if len(v) == 1 && (v[0] == "true" || v[0] == "false") {
		return v[0] == "true", nil
	}
	return false, &auth.Error{Code: auth.CodeValidation, Message: "admin must be true or false.",
		Fields: map[string]string{"admin": "must be true or false, given once"}}
}
