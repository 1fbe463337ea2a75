package login

import (
	"net/http"
	"net/url"
	"unicode/utf8"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// The standard OAuth2 endpoints (docs/api.md "Signing keys, discovery,
// standard OAuth2 endpoints"): POST /token (RFC 6749 §4.3 and §6) and POST
// /revoke (RFC 7009). They do what /login, /refresh and session revocation
// do, in the form and with the errors that OAuth2 client libraries expect:
// RFC 6749 §5.2 JSON bodies through web.OAuthError, never problem
// documents.

const formType = "application/x-www-form-urlencoded"

// tokenParams are the parameters /token reads. Others are ignored (RFC
// 6749 §3.2: "MUST ignore unrecognized request parameters").
var tokenParams = map[string]bool{
	"grant_type": true, "username": true, "password": true, "code": true, "refresh_token": true,
	"scope": true, "client_id": true, "client_secret": true,
}

// revokeParams are the parameters /revoke reads (RFC 7009 §2.1).
var revokeParams = map[string]bool{"token": true, "token_type_hint": true}

func handleToken(d Deps) http.Handler {
	return web.HandleOAuth(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Pragma", "no-cache")
		form, err := readForm(w, r, tokenParams)
		if err != nil {
			return err
		}
		var pair auth.TokenPair
		switch gt := form.Get("grant_type"); gt {
		case "password":
			username, password := form.Get("username"), form.Get("password")
			if username == "" || password == "" {
				return auth.Errorf(auth.CodeInvalidRequest, "The password grant needs username and password.")
			}
			// Exactly /login's path: the same throttling, the same bcrypt
			// work for unknown, wrong and deactivated (docs/security.md 7, 32).
			// code is this service's extension for users with MFA on: without
			// it their grant answers mfa_required with an mfa_token.
			pair, err = d.Sessions.LoginWithCode(r.Context(), username, password, form.Get("code"))
		case "refresh_token":
			token := form.Get("refresh_token")
			if token == "" {
				return auth.Errorf(auth.CodeInvalidRequest, "The refresh_token grant needs refresh_token.")
			}
			pair, err = d.Sessions.Refresh(r.Context(), token)
		case "":
			return auth.Errorf(auth.CodeInvalidRequest, "grant_type is required.")
		default:
			return auth.Errorf(web.CodeUnsupportedGrantType, "grant_type must be password or refresh_token.")
		}
		if err != nil {
			return err
		}
		web.Encode(w, r, d.Logger, http.StatusOK, pair)
		return nil
	})
}

func handleRevoke(d Deps) http.Handler {
	return web.HandleOAuth(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		form, err := readForm(w, r, revokeParams)
		if err != nil {
			return err
		}
		token := form.Get("token")
		if token == "" {
			return auth.Errorf(auth.CodeInvalidRequest, "token is required.")
		}
		// token_type_hint is read and ignored (RFC 7009 §2.1 lets the
		// server do so): a token's form tells which kind it is.
		if err := d.Sessions.RevokeToken(r.Context(), token); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	})
}

// readForm reads a form-encoded body strictly: the media type must be
// form-encoded, the body at most web.MaxBodyBytes of UTF-8, well formed,
// no parameter given twice (RFC 6749 §3.2), and every value of a known
// parameter within RFC 6749 Appendix A's characters (no control
// characters but tab, valid UTF-8). Parameters outside known are ignored;
// an empty value counts as absent (RFC 6749 §3.1). Every failure is
// CodeInvalidRequest or a code web.OAuthError answers as invalid_request.
func readForm(w http.ResponseWriter, r *http.Request, known map[string]bool) (url.Values, error) {
	body, err := web.ReadBody(w, r, formType)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &auth.Error{Code: auth.CodeInvalidRequest, Message: "The form body is malformed.", Err: err}
	}
	for k, vs := range form {
		if len(vs) > 1 {
			return nil, auth.Errorf(auth.CodeInvalidRequest, "A parameter is given more than once.")
		}
		if known[k] && !formValue(vs[0]) {
			return nil, auth.Errorf(auth.CodeInvalidRequest, "A parameter holds characters it may not hold.")
		}
	}
	return form, nil
}

// formValue reports whether v is valid UTF-8 without control characters
// other than tab (RFC 6749 Appendix A's UNICODECHARNOCRLF, which also
// bounds the narrower grammars of grant_type and the tokens).
func formValue(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, c := range v {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
