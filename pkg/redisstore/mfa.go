package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"authfn/pkg/auth"
)

var _ auth.MFAChallenges = (*Store)(nil)

// The short-lived MFA state lives in the user's slot, beside the sessions
// but apart from them, so that ending sessions never touches it:
//
//	{u:<uid>}:mp          the pending enrolment (a sealed secret)
//	{u:<uid>}:mt:<hash>   an mfa_token awaiting its second step, by the token's hash
func (s *Store) mfaPendingKey(uid int64) string            { return s.userBase(uid) + "mp" }
func (s *Store) mfaTokenKey(uid int64, hash string) string { return s.userBase(uid) + "mt:" + hash }

// PutMFAPending stores the user's pending enrolment for ttl, replacing any
// earlier one. Returns CodeUnavailable when Redis is down.
func (s *Store) PutMFAPending(ctx context.Context, userID int64, value string, ttl time.Duration) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.fail("put mfa pending", s.c.Set(ctx, s.mfaPendingKey(userID), value, ttl).Err())
}

// MFAPending returns the user's pending enrolment. Returns ErrNotFound
// (CodeNotFound), CodeUnavailable when Redis is down.
func (s *Store) MFAPending(ctx context.Context, userID int64) (string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	v, err := s.c.Get(ctx, s.mfaPendingKey(userID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", auth.ErrNotFound
	}
	return v, s.fail("mfa pending", err)
}

// DeleteMFAPending forgets the user's pending enrolment. Returns
// CodeUnavailable when Redis is down.
func (s *Store) DeleteMFAPending(ctx context.Context, userID int64) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.fail("delete mfa pending", s.c.Del(ctx, s.mfaPendingKey(userID)).Err())
}

// PutMFAToken stores value under an mfa_token's hash for ttl. It never
// overwrites (SET NX): a token is made once. Returns CodeUnavailable when
// Redis is down.
func (s *Store) PutMFAToken(ctx context.Context, userID int64, hash, value string, ttl time.Duration) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	ok, err := s.c.SetNX(ctx, s.mfaTokenKey(userID, hash), value, ttl).Result()
	if err != nil {
		return s.fail("put mfa token", err)
	}
	if !ok {
		return errors.New("redisstore: put mfa token: an mfa_token with this hash exists")
	}
	return nil
}

// TakeMFAToken returns and deletes the value under an mfa_token's hash in
// one command (GETDEL), so of any number of requests with one token at
// most one gets it. Returns ErrNotFound (CodeNotFound), CodeUnavailable
// when Redis is down.
func (s *Store) TakeMFAToken(ctx context.Context, userID int64, hash string) (string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	v, err := s.c.GetDel(ctx, s.mfaTokenKey(userID, hash)).Result()
	if errors.Is(err, redis.Nil) {
		return "", auth.ErrNotFound
	}
	return v, s.fail("take mfa token", err)
}
