-- Whether the user signs in with a second factor (TOTP). The audit and
-- statistics change counts it; the MFA change sets it.
ALTER TABLE users ADD COLUMN mfa_enabled INTEGER NOT NULL DEFAULT 0 CHECK (mfa_enabled IN (0, 1));
