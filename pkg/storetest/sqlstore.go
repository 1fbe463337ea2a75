// Package storetest holds contract suites: one test suite per store
// interface, run by every implementation's own tests, so that PostgreSQL
// and SQLite (and Redis and its embedded stand-in) cannot drift apart in
// behaviour the core relies on.
package storetest

import (
	"testing"
	"time"

	"authfn/pkg/auth"
)

// SQLStores is what a SQL database provides the core: users, preferences,
// the audit log and MFA.
type SQLStores interface {
	auth.UserStore
	auth.PreferenceStore
	auth.AuditStore
	auth.MFAStore
}

// SQLStore runs the contract of auth.UserStore, auth.PreferenceStore,
// auth.AuditStore and auth.MFAStore as parallel subtests. open must return an empty, migrated
// store of its own for each call and release it in t.Cleanup.
func SQLStore(t *testing.T, open func(t *testing.T) SQLStores) {
	// Most tests need one store; the ones that take open build several worlds.
	one := func(f func(*testing.T, SQLStores)) func(*testing.T, func(*testing.T) SQLStores) {
		return func(t *testing.T, open func(*testing.T) SQLStores) { f(t, open(t)) }
	}
	tests := []struct {
		name string
		test func(t *testing.T, open func(*testing.T) SQLStores)
	}{
		{"CreateUser", one(testCreateUser)},
		{"CreateUserDefaultSource", one(testCreateUserDefaultSource)},
		{"CreateUserTaken", one(testCreateUserTaken)},
		{"UserNotFound", one(testUserNotFound)},
		{"UserByUsernameIgnoresCase", one(testUserByUsernameIgnoresCase)},
		{"ListUsersPages", one(testListUsersPages)},
		{"ListUsersSearch", one(testListUsersSearch)},
		{"ListUsersSearchPages", one(testListUsersSearchPages)},
		{"UpdateUser", one(testUpdateUser)},
		{"UpdateUserNotFound", one(testUpdateUserNotFound)},
		{"LastAdmin", testLastAdmin},
		{"LastAdminConcurrent", one(testLastAdminConcurrent)},
		{"CreateFirstAdmin", one(testCreateFirstAdmin)},
		{"CreateFirstAdminConcurrent", one(testCreateFirstAdminConcurrent)},
		{"DeleteUser", one(testDeleteUser)},
		{"IDsNotReused", one(testIDsNotReused)},
		{"RecordLogin", one(testRecordLogin)},
		{"CountActiveAdmins", one(testCountActiveAdmins)},
		{"CountUsers", one(testCountUsers)},
		{"CountUsersConcurrent", one(testCountUsersConcurrent)},
		{"Ping", one(testPing)},
		{"PreferencesEmpty", one(testPreferencesEmpty)},
		{"UpdatePreferences", one(testUpdatePreferences)},
		{"UpdatePreferencesUnknownUser", one(testUpdatePreferencesUnknownUser)},
		{"UpdatePreferencesTooLarge", one(testUpdatePreferencesTooLarge)},
		{"UpdatePreferencesInvalid", one(testUpdatePreferencesInvalid)},
		{"UpdatePreferencesConcurrent", one(testUpdatePreferencesConcurrent)},
		{"UpdatePreferencesLongNumbers", one(testUpdatePreferencesLongNumbers)},
		{"UpdatePreferencesSizeAsRead", one(testUpdatePreferencesSizeAsRead)},
		{"RecordEvent", one(testRecordEvent)},
		{"EventsOrder", one(testEventsOrder)},
		{"EventsFilter", one(testEventsFilter)},
		{"CountEventsByHour", one(testCountEventsByHour)},
		{"EventsOutliveUsers", one(testEventsOutliveUsers)},
		{"DeleteEventsBefore", one(testDeleteEventsBefore)},
		{"MFAEnable", one(testMFAEnable)},
		{"MFAEnableConcurrent", one(testMFAEnableConcurrent)},
		{"MFAStepOnlyForward", one(testMFAStepOnlyForward)},
		{"MFAStepConcurrent", one(testMFAStepConcurrent)},
		{"MFARecoveryCodes", one(testMFARecoveryCodes)},
		{"MFADisable", one(testMFADisable)},
		{"MFAKeyCheck", one(testMFAKeyCheck)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, open)
		})
	}
}

// baseTime is a time as the core passes it: truncated to microseconds, and
// in a zone other than UTC, so that a store returning anything but UTC, or
// losing precision, is caught by an exact comparison.
func baseTime() time.Time {
	return time.Date(2026, 6, 29, 16, 41, 43, 335368000, time.FixedZone("CEST", 2*60*60))
}
