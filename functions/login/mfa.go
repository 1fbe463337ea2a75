package login

import (
	"net/http"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// required returns CodeValidation naming every field of names whose value
// is empty; names and values alternate.
func required(fields ...string) error {
	bad := map[string]string{}
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			bad[fields[i]] = "is required"
		}
	}
	if len(bad) > 0 {
		return &auth.Error{Code: auth.CodeValidation, Message: "A required field is missing.", Fields: bad}
	}
	return nil
}

func handleLoginMFA(d Deps) http.Handler {
	type request struct {
		MFAToken string `json:"mfa_token"`
		Code     string `json:"code"`
	}
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		req, err := web.Decode[request](w, r)
		if err != nil {
			return err
		}
		if err := required("mfa_token", req.MFAToken, "code", req.Code); err != nil {
			return err
		}
		pair, err := d.Sessions.LoginMFA(r.Context(), req.MFAToken, req.Code)
		if err != nil {
			return err
		}
		w.Header().Set("Pragma", "no-cache")
		web.Encode(w, r, d.Logger, http.StatusOK, pair)
		return nil
	})
}

func handleMFAEnrolmentStart(d Deps) http.Handler {
	type request struct {
		CurrentPassword string `json:"current_password"`
	}
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		req, err := web.Decode[request](w, r)
		if err != nil {
			return err
		}
		if err := required("current_password", req.CurrentPassword); err != nil {
			return err
		}
		sess, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		start, err := d.Sessions.StartMFAEnrolment(r.Context(), sess, req.CurrentPassword)
		if err != nil {
			return err
		}
		web.Encode(w, r, d.Logger, http.StatusOK, start)
		return nil
	})
}

func handleMFAActivate(d Deps) http.Handler {
	type request struct {
		Code string `json:"code"`
	}
	type response struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		req, err := web.Decode[request](w, r)
		if err != nil {
			return err
		}
		if err := required("code", req.Code); err != nil {
			return err
		}
		sess, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		codes, err := d.Sessions.ActivateMFA(r.Context(), sess, req.Code)
		if err != nil {
			return err
		}
		web.Encode(w, r, d.Logger, http.StatusOK, response{RecoveryCodes: codes})
		return nil
	})
}

func handleMFADisable(d Deps) http.Handler {
	type request struct {
		CurrentPassword string `json:"current_password"`
		Code            string `json:"code"`
	}
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		req, err := web.Decode[request](w, r)
		if err != nil {
			return err
		}
		if err := required("current_password", req.CurrentPassword, "code", req.Code); err != nil {
			return err
		}
		sess, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		if err := d.Sessions.DisableMFA(r.Context(), sess, req.CurrentPassword, req.Code); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
