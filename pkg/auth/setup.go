package auth

import "context"

// FirstAdmin is what EnsureFirstAdmin did.
type FirstAdmin struct {
	User    User
	Created bool
	// Password is set only when it was generated here: the caller shows it
	// once (the log) and it is never stored anywhere in clear.
	Password string
}

// EnsureFirstAdmin creates an admin named username when no admin exists.
// With an empty password it generates a random one (docs/security.md 6: never
// a default). Several starters may race; exactly one creates the admin.
// Returns CodeValidation for a bad username or password.
func (s *Setup) EnsureFirstAdmin(ctx context.Context, username, password string) (FirstAdmin, error) {
	if !ValidUsername(username) {
		return FirstAdmin{}, &Error{Code: CodeValidation, Message: "The admin username is not acceptable.", Fields: map[string]string{"username": usernameRule}}
	}
	// The common case on every start after the first: skip the hash.
	if n, err := s.users.CountActiveAdmins(ctx); err != nil || n > 0 {
		return FirstAdmin{}, err
	}
	generated := ""
	if password == "" {
		p, err := randomToken(s.rand, 18)
		if err != nil {
			return FirstAdmin{}, err
		}
		password, generated = p, p
	}
	if msg := validatePassword(password); msg != "" {
		return FirstAdmin{}, &Error{Code: CodeValidation, Message: "The admin password is not acceptable.", Fields: map[string]string{"password": msg}}
	}
	hash, err := s.hasher.hash(password)
	if err != nil {
		return FirstAdmin{}, err
	}
	now := s.now()
	u, created, err := s.users.CreateFirstAdmin(ctx, NewUser{
		Username: username, FullName: "Default Admin", PasswordHash: hash,
		IsAdmin: true, Source: SourceLocal, CreatedAt: now,
	})
	if err != nil || !created {
		return FirstAdmin{}, err
	}
	s.record(ctx, Event{Type: EventUserCreated, TargetID: &u.ID, Username: u.Username, Details: map[string]any{"first_admin": true}})
	return FirstAdmin{User: u, Created: true, Password: generated}, nil
}
