package auth

// Service is the core of the authentication service, split by
// capability. Each capability is a small type over one shared core, so an
// endpoint group depends only on the capability it serves (through an
// interface of its own) and each rule lives in one place. The core knows
// nothing of HTTP or Lambda.
type Service struct {
	// Sessions signs users in and out: login, refresh, logout, token
	// authentication, and each user's own account (me, own sessions,
	// password change).
	Sessions *Sessions
	// Admin manages users and the sessions of others. Every operation
	// takes the acting session and checks its rights itself.
	Admin *Admin
	// Prefs keeps each user's own preferences.
	Prefs *Prefs
	// Maintenance is the operators' side: cleanup and health.
	Maintenance *Maintenance
	// Setup creates the first admin.
	Setup *Setup
}

// Sessions is the capability of signing in and out and of a user's own
// account. See Service.
type Sessions struct{ *core }

// Admin is the capability of managing users and the sessions of others.
// See Service.
type Admin struct{ *core }

// Prefs is the capability of keeping a user's preferences. See Service.
type Prefs struct{ *core }

// Maintenance is the capability of cleanup and health. See Service.
type Maintenance struct{ *core }

// Setup is the capability of bringing a new deployment to life: the first
// admin. It needs only the user and audit stores, so the migration step
// runs with DATABASE_URL alone.
type Setup struct{ *core }

// New returns the Service on st. It does no I/O, so a Lambda cold start
// pays nothing for it. Returns CodeInvalidRequest for a bad key or cost.
func New(cfg Config, st Stores, opts ...Option) (*Service, error) {
	c, err := newCore(cfg, st, opts)
	if err != nil {
		return nil, err
	}
	if c.tokens, err = NewTokens(cfg.Tokens, c.clock); err != nil {
		return nil, err
	}
	return &Service{
		Sessions: &Sessions{c}, Admin: &Admin{c}, Prefs: &Prefs{c},
		Maintenance: &Maintenance{c}, Setup: &Setup{c},
	}, nil
}

// NewSetup returns the Setup capability alone, on the user, audit and MFA
// stores: what the migration step needs, without any token key or session
// store. Returns CodeInvalidRequest for a bad bcrypt cost or MFA key.
func NewSetup(cfg Config, users UserStore, audit AuditStore, mfa MFAStore, opts ...Option) (*Setup, error) {
	c, err := newCore(cfg, Stores{Users: users, Audit: audit, MFA: mfa}, opts)
	if err != nil {
		return nil, err
	}
	return &Setup{c}, nil
}
