package login

import (
	"net/http"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

func handleMeGet(d Deps) http.Handler {
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		sess, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		u, err := d.Sessions.Me(r.Context(), sess)
		if err != nil {
			return err
		}
		web.Encode(w, r, d.Logger, http.StatusOK, u)
		return nil
	})
}

func handleMySessionList(d Deps) http.Handler {
	type response struct {
		Sessions []auth.Session `json:"sessions"`
	}
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		sess, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		list, err := d.Sessions.MySessions(r.Context(), sess)
		if err != nil {
			return err
		}
		if list == nil {
			list = []auth.Session{}
		}
		web.Encode(w, r, d.Logger, http.StatusOK, response{Sessions: list})
		return nil
	})
}

func handleMySessionEnd(d Deps) http.Handler {
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		sess, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		if err := d.Sessions.EndOwnSession(r.Context(), sess, r.PathValue("session_id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

type passwordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (p passwordChange) Validate() error {
	fields := map[string]string{}
	if p.CurrentPassword == "" {
		fields["current_password"] = "is required"
	}
	if p.NewPassword == "" {
		fields["new_password"] = "is required"
	}
	if len(fields) > 0 {
		return &auth.Error{Code: auth.CodeValidation, Message: "current_password and new_password are required.", Fields: fields}
	}
	return nil
}

func handleMyPasswordChange(d Deps) http.Handler {
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		req, err := web.Decode[passwordChange](w, r)
		if err != nil {
			return err
		}
		sess, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		if err := d.Sessions.ChangePassword(r.Context(), sess, req.CurrentPassword, req.NewPassword); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func handleJWKSGet(d Deps) http.Handler {
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		jwks, ok := d.Sessions.JWKS()
		if !ok {
			return auth.Errorf(auth.CodeNotFound, "Tokens are signed with a shared secret; there is no public key to publish.")
		}
		// application/json rather than jwk-set+json: it is what JWKS
		// clients in the wild accept without configuration.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		// A public document: any page may read it, whatever CORS_ALLOWED_ORIGINS says.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if _, err := w.Write(jwks); err != nil {
			d.Logger.DebugContext(r.Context(), "write jwks", "err", err)
		}
		return nil
	})
}
