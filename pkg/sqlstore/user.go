package sqlstore

import "authfn/pkg/auth"

// ApplyPatch returns cur with the non-nil fields of p applied, so that both
// stores read a patch the same way. UpdatedAt is the store's to write.
func ApplyPatch(cur auth.User, p auth.UserPatch) auth.User {
	next := cur
	if p.FullName != nil {
		next.FullName = *p.FullName
	}
	if p.IsAdmin != nil {
		next.IsAdmin = *p.IsAdmin
	}
	if p.IsActive != nil {
		next.IsActive = *p.IsActive
	}
	if p.PasswordHash != nil {
		next.PasswordHash = *p.PasswordHash
	}
	return next
}

// LosesActiveAdmin reports whether going from cur to next leaves the user
// no longer both admin and active while they were, which is when the store
// must check that another active admin exists (auth.ErrLastAdmin).
func LosesActiveAdmin(cur, next auth.User) bool {
	return cur.IsAdmin && cur.IsActive && !(next.IsAdmin && next.IsActive)
}

// MFAKeyCheckName is the service_settings row that holds the MFA_KEY check
// value (an HMAC of the key), in both databases.
const MFAKeyCheckName = "mfa_key_check"
