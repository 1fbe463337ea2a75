package auth

// DiscoveryAlgorithms returns the JWS algorithms access tokens are signed
// with, for the OpenID Provider Metadata's
// id_token_signing_alg_values_supported.
//
// It stands in for a general accessor of the signing algorithms; once the
// service has one, the discovery document should use it and this goes.
func (s *Service) DiscoveryAlgorithms() []string { return []string{s.tokens.method.Alg()} }

// DiscoveryIssuer returns the iss of every access token (JWT_ISSUER),
// which the discovery document must repeat exactly (docs/security.md 31).
func (s *Service) DiscoveryIssuer() string { return s.cfg.Tokens.Issuer }
