package login

import (
	"net/http"
	"net/url"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Code     string `json:"code"` // optional: the second factor, for users with MFA on
}

// Validate only checks presence: a name or password of the wrong shape is
// a failed login like any other (same status, same work), not a 422 that
// would tell a guesser which names cannot exist.
func (c credentials) Validate() error {
	fields := map[string]string{}
	if c.Username == "" {
		fields["username"] = "is required"
	}
	if c.Password == "" {
		fields["password"] = "is required"
	}
	if len(fields) > 0 {
		return &auth.Error{Code: auth.CodeValidation, Message: "Username and password are required.", Fields: fields}
	}
	return nil
}

// formFields are the fields a form login may carry: the OAuth2 password
// grant's (which clients of the old FastAPI service send), the second
// factor's code, and no others.
var formFields = map[string]bool{"username": true, "password": true, "code": true, "grant_type": true, "scope": true, "client_id": true, "client_secret": true}

func handleLogin(d Deps) http.Handler {
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		body, err := web.ReadBody(w, r, "application/json", "application/x-www-form-urlencoded")
		if err != nil {
			return err
		}
		var c credentials
		if web.MediaType(r) == "application/json" {
			err = web.DecodeJSON(body, &c)
		} else {
			c, err = decodeForm(string(body))
		}
		if err != nil {
			return err
		}
		if err := c.Validate(); err != nil {
			return err
		}
		pair, err := d.Sessions.LoginWithCode(r.Context(), c.Username, c.Password, c.Code)
		if err != nil {
			return err
		}
		w.Header().Set("Pragma", "no-cache")
		web.Encode(w, r, d.Logger, http.StatusOK, pair)
		return nil
	})
}

func decodeForm(body string) (credentials, error) {
	form, err := url.ParseQuery(body)
	if err != nil {
		return credentials{}, &auth.Error{Code: auth.CodeInvalidRequest, Message: "The form body is malformed.", Err: err}
	}
	for k, v := range form {
		if !formFields[k] {
			return credentials{}, auth.Errorf(auth.CodeInvalidRequest, "Unknown field %q.", k)
		}
		if len(v) > 1 {
			return credentials{}, auth.Errorf(auth.CodeInvalidRequest, "Field %q is given more than once.", k)
		}
	}
	if gt := form.Get("grant_type"); gt != "" && gt != "password" {
		return credentials{}, auth.Errorf(auth.CodeInvalidRequest, "grant_type must be \"password\".")
	}
	return credentials{Username: form.Get("username"), Password: form.Get("password"), Code: form.Get("code")}, nil
}

func handleRefresh(d Deps) http.Handler {
	type request struct {
		RefreshToken string `json:"refresh_token"`
	}
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		req, err := web.Decode[request](w, r)
		if err != nil {
			return err
		}
		if req.RefreshToken == "" {
			return &auth.Error{Code: auth.CodeValidation, Message: "refresh_token is required.", Fields: map[string]string{"refresh_token": "is required"}}
		}
		pair, err := d.Sessions.Refresh(r.Context(), req.RefreshToken)
		if err != nil {
			return err
		}
		w.Header().Set("Pragma", "no-cache")
		web.Encode(w, r, d.Logger, http.StatusOK, pair)
		return nil
	})
}

func handleLogout(d Deps) http.Handler {
	type request struct {
		All bool `json:"all"`
	}
	type response struct {
		Revoked int `json:"revoked"`
	}
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		var req request
		// The body is optional: an empty one ends this session only.
		if r.ContentLength != 0 {
			body, err := web.ReadBody(w, r)
			if err != nil {
				return err
			}
			if len(body) > 0 {
				if web.MediaType(r) != "application/json" {
					return auth.Errorf(web.CodeUnsupportedMediaType, "Content-Type must be application/json.")
				}
				if err := web.DecodeJSON(body, &req); err != nil {
					return err
				}
			}
		}
		sess, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		n, err := d.Sessions.Logout(r.Context(), sess, req.All)
		if err != nil {
			return err
		}
		web.Encode(w, r, d.Logger, http.StatusOK, response{Revoked: n})
		return nil
	})
}
