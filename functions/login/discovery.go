package login

import (
	"net/http"
	"strings"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// basePath is where every route of the service lives.
const basePath = "/api/auth/v2"

// discovery is the OpenID Provider Metadata (OpenID Connect Discovery 1.0
// §3) of the service, as docs/api.md lists it.
type discovery struct {
	Issuer                                 string   `json:"issuer"`
	JWKSURI                                string   `json:"jwks_uri"`
	TokenEndpoint                          string   `json:"token_endpoint"`
	RevocationEndpoint                     string   `json:"revocation_endpoint"`
	UserinfoEndpoint                       string   `json:"userinfo_endpoint"`
	GrantTypesSupported                    []string `json:"grant_types_supported"`
	ResponseTypesSupported                 []string `json:"response_types_supported"`
	SubjectTypesSupported                  []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported       []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported      []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported []string `json:"revocation_endpoint_auth_methods_supported"`
	ClaimsSupported                        []string `json:"claims_supported"`
}

// handleDiscoveryGet serves the discovery document when tokens are signed
// with a key pair, so that OIDC libraries (coreos/go-oidc's NewProvider)
// find the keys from the issuer alone. With a shared secret there is no
// key to publish, and so no document: 404 like the JWKS.
func handleDiscoveryGet(d Deps) http.Handler {
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		if _, ok := d.Sessions.JWKS(); !ok {
			return auth.Errorf(auth.CodeNotFound, "Tokens are signed with a shared secret; there is no discovery document.")
		}
		issuer := d.Sessions.Issuer()
		base := endpointBase(issuer, r)
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		web.Encode(w, r, d.Logger, http.StatusOK, discovery{
			Issuer:                                 issuer,
			JWKSURI:                                base + "/.well-known/jwks.json",
			TokenEndpoint:                          base + "/token",
			RevocationEndpoint:                     base + "/revoke",
			UserinfoEndpoint:                       base + "/me",
			GrantTypesSupported:                    []string{"password", "refresh_token"},
			ResponseTypesSupported:                 []string{"token"},
			SubjectTypesSupported:                  []string{"public"},
			IDTokenSigningAlgValuesSupported:       d.Sessions.SigningAlgorithms(),
			TokenEndpointAuthMethodsSupported:      []string{"none"},
			RevocationEndpointAuthMethodsSupported: []string{"none"},
			ClaimsSupported:                        []string{"iss", "aud", "sub", "sid", "iat", "exp", "jti", "username", "admin"},
		})
		return nil
	})
}

// endpointBase is the absolute URL the endpoints hang from: the issuer
// itself when it is an http(s) URL (then it is the public URL of the base
// path, docs/api.md), else one built from the request's Host and the base
// path, https unless the request came over plain HTTP: the Lambda adapter
// builds https URLs for every API Gateway and ALB event, and a TLS
// terminating proxy in front of the local runner says so in
// X-Forwarded-Proto.
func endpointBase(issuer string, r *http.Request) string {
	if strings.HasPrefix(issuer, "https://") || strings.HasPrefix(issuer, "http://") {
		return strings.TrimRight(issuer, "/")
	}
	scheme := "http"
	if r.TLS != nil || r.URL.Scheme == "https" || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host + basePath
}
