package auth

import (
	"context"
	"time"
)

// Multi-factor authentication with TOTP (RFC 6238) and recovery codes
// (docs/security.md 34). What lives where, and why:
//
//   - The enabled secret (sealed with MFA_KEY), the last accepted time step
//     and the hashes of the unused recovery codes: the SQL database
//     (MFAStore). They must outlive any Redis flush: a flush that forgot
//     the last step would let a used code be replayed, and one that forgot
//     a secret would turn MFA off. The step advances with one conditional
//     UPDATE, so of two requests with one code exactly one wins.
//   - A pending (not yet activated) secret and the mfa_tokens of logins
//     waiting for their second step: Redis (MFAChallenges), in the user's
//     slot, with TTLs. Both are short-lived and cheap to lose: a flush only
//     makes the user start the enrolment or the login again. An mfa_token
//     is taken with GETDEL, so it is used once however many requests race.

// MFAStore keeps the MFA state that must last: in the SQL database, beside
// the users it belongs to (deleted with them). Store failures are
// Unavailable.
type MFAStore interface {
	// EnableMFA stores e for the user in one transaction. Returns
	// ErrMFAEnabled if MFA is already on, ErrNotFound for an unknown user.
	EnableMFA(ctx context.Context, userID int64, e MFAEnrolment) error
	// MFA returns the user's MFA record. Returns ErrNotFound when MFA is off.
	MFA(ctx context.Context, userID int64) (MFARecord, error)
	// AdvanceMFAStep sets the last accepted step to step if it is below
	// step, atomically, and reports whether it did: false means the step (or
	// a later one) was accepted before, or MFA is off.
	AdvanceMFAStep(ctx context.Context, userID, step int64) (bool, error)
	// UseRecoveryCode deletes the user's unused recovery code with hash,
	// atomically, and reports whether there was one.
	UseRecoveryCode(ctx context.Context, userID int64, hash string) (bool, error)
	// DisableMFA deletes the user's secret and recovery codes and reports
	// whether MFA was on.
	DisableMFA(ctx context.Context, userID int64) (bool, error)
	// MFAKeyCheck returns the key check value stored by InitMFAKeyCheck.
	// Returns ErrNotFound when none is stored.
	MFAKeyCheck(ctx context.Context) (string, error)
	// InitMFAKeyCheck stores check unless a value is stored already, and
	// returns the value stored (check, or the earlier one).
	InitMFAKeyCheck(ctx context.Context, check string) (string, error)
}

// MFAEnrolment is what turning MFA on stores.
type MFAEnrolment struct {
	Secret         []byte // sealed (see sealer)
	LastStep       int64  // the step of the code that activated it: used up
	RecoveryHashes []string
	EnabledAt      time.Time
}

// MFARecord is a user's MFA state as stored.
type MFARecord struct {
	Secret        []byte // sealed
	LastStep      int64
	EnabledAt     time.Time
	RecoveryCodes int // unused ones
}

// MFAChallenges keeps the short-lived MFA state in Redis, in the user's
// slot. Values carry their own expiry, which the core checks against its
// clock; ttl only lets Redis forget them. Store failures are Unavailable.
type MFAChallenges interface {
	// PutMFAPending stores the user's pending enrolment, replacing any.
	PutMFAPending(ctx context.Context, userID int64, value string, ttl time.Duration) error
	// MFAPending returns the user's pending enrolment. Returns ErrNotFound.
	MFAPending(ctx context.Context, userID int64) (string, error)
	// DeleteMFAPending forgets the user's pending enrolment, if any.
	DeleteMFAPending(ctx context.Context, userID int64) error
	// PutMFAToken stores value under the user and hash (of an mfa_token).
	PutMFAToken(ctx context.Context, userID int64, hash, value string, ttl time.Duration) error
	// TakeMFAToken returns the value under the user and hash and deletes it,
	// in one step, so that a token is taken once. Returns ErrNotFound.
	TakeMFAToken(ctx context.Context, userID int64, hash string) (string, error)
}

// Authentication methods (RFC 8176) as access tokens' amr claim lists them.
const (
	AMRPassword = "pwd"
	AMROTP      = "otp"
)

// MFA settings fixed by docs/security.md 34 and the contract.
const (
	// MFAKeyBytes is the length of MFA_KEY: an AES-256 key.
	MFAKeyBytes = 32
	// MFATokenTTL is how long an mfa_token waits for its second step.
	MFATokenTTL = 5 * time.Minute
	// MFAPendingTTL is how long an enrolment waits for its first code.
	MFAPendingTTL = 15 * time.Minute
	// MFASkew is how many time steps a code may be off, either way.
	MFASkew = 1
	// RecoveryCodeCount is how many recovery codes an activation returns.
	RecoveryCodeCount = 10
)

// CodeMFAEnrollmentRequired (403) answers an admin without MFA on an admin
// operation under ADMIN_MFA=required.
const CodeMFAEnrollmentRequired Code = "mfa_enrollment_required"

// Errors of MFA.
var (
	// ErrMFAEnabled is returned by enrolment and by stores when MFA is already on.
	ErrMFAEnabled = &Error{Code: CodeConflict, Message: "Multi-factor authentication is already on."}
	// ErrMFADisabled is returned when MFA is expected on and is off.
	ErrMFADisabled = &Error{Code: CodeConflict, Message: "Multi-factor authentication is not on."}
	// ErrMFANoEnrolment is returned by activation without a pending enrolment.
	ErrMFANoEnrolment = &Error{Code: CodeConflict, Message: "No enrolment is pending (or it expired); start one with POST /me/mfa/totp."}
	// ErrMFAEnrollmentRequired is returned to an admin without MFA on an
	// admin operation when ADMIN_MFA=required.
	ErrMFAEnrollmentRequired = &Error{Code: CodeMFAEnrollmentRequired, Message: "Admins must turn on multi-factor authentication (POST /me/mfa/totp) before using admin routes."}
	// ErrMFATokenInvalid is the answer to an mfa_token that is malformed,
	// unknown, used or expired: the login starts again.
	ErrMFATokenInvalid = &Error{Code: CodeInvalidCredentials, Message: "The MFA token is invalid, used or expired; sign in again."}
	// ErrMFACodeInvalid is the answer to a wrong, malformed or replayed code
	// once the password is known to be right.
	ErrMFACodeInvalid = &Error{Code: CodeInvalidCredentials, Message: "The code is wrong or was already used."}
	// ErrMFANotConfigured is returned when an MFA operation needs MFA_KEY
	// and the service has none: a deployment fault, logged, never detailed
	// to the client.
	ErrMFANotConfigured = &Error{Code: CodeInternal, Message: "MFA_KEY is not set: multi-factor authentication cannot be used."}
)
