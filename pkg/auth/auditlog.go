package auth

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds of GET /stats's window, in hours.
const (
	DefaultStatsHours = 24
	MaxStatsHours     = 720 // 30 days
)

// AuditQuery is what an admin asks of the audit log (GET /audit).
type AuditQuery struct {
	Type   string    // one of EventTypes; empty for every type
	UserID int64     // only events whose actor or target is this user; 0 for all
	Since  time.Time // only events at or after this time; zero for no bound
	Until  time.Time // only events before this time; zero for no bound
	Cursor string    // opaque, from EventPage.NextCursor; empty for the first page
	Limit  int
}

// EventPage is one page of the audit log; NextCursor is empty on the last page.
type EventPage struct {
	Events     []Event
	NextCursor string
}

// LoginHour counts the sign-in attempts of one UTC hour.
type LoginHour struct {
	Hour      time.Time `json:"hour"` // the start of the hour
	Succeeded int64     `json:"succeeded"`
	Failed    int64     `json:"failed"` // a wrong password or a wrong second-factor code
	Locked    int64     `json:"locked"` // failures that locked the username or address
}

// Stats is the overview of GET /stats.
type Stats struct {
	Users    UserCounts   `json:"users"`
	Sessions SessionStats `json:"sessions"`
	Logins   []LoginHour  `json:"logins"` // one per hour of the window, oldest first
}

// AuditEvents returns a page of the audit log, newest first, with the
// filters of q; an event matches UserID as its actor or its target, and
// an id no user holds any more still finds the events about it. Every
// event carries Details, empty if it has none. Returns ErrForbidden for a
// non-admin actor, CodeValidation for a bad limit, an unknown type, a
// negative user id or a window that ends before it starts, and
// CodeInvalidRequest for a cursor this service did not issue.
func (s *Admin) AuditEvents(ctx context.Context, actor Session, q AuditQuery) (EventPage, error) {
	if _, err := s.authorize(ctx, actor); err != nil {
		return EventPage{}, err
	}
	fields := map[string]string{}
	if msg := limitRule(q.Limit); msg != "" {
		fields["limit"] = msg
	}
	if q.Type != "" && !slices.Contains(EventTypes(), q.Type) {
		fields["type"] = "must be one of the event types: " + strings.Join(EventTypes(), ", ")
	}
	if q.UserID < 0 {
		fields["user_id"] = "must be a positive integer"
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		fields["until"] = "must be after since"
	}
	if len(fields) > 0 {
		return EventPage{}, &Error{Code: CodeValidation, Message: "The audit query is not acceptable.", Fields: fields}
	}
	before, err := decodeEventCursor(q.Cursor)
	if err != nil {
		return EventPage{}, err
	}
	events, err := s.audit.Events(ctx, EventQuery{
		Type: q.Type, UserID: q.UserID, Since: ceilMicro(q.Since), Until: ceilMicro(q.Until),
		Before: before, Limit: q.Limit + 1,
	})
	if err != nil {
		return EventPage{}, err
	}
	page := EventPage{Events: events}
	if len(events) > q.Limit {
		page.Events = events[:q.Limit]
		last := page.Events[q.Limit-1]
		page.NextCursor = encodeEventCursor(EventKey{Time: last.Time, ID: last.ID})
	}
	for i := range page.Events {
		if page.Events[i].Details == nil {
			page.Events[i].Details = map[string]any{}
		}
	}
	return page, nil
}

// loginTypes are the event types GET /stats counts per hour.
var loginTypes = []string{EventLoginSucceeded, EventLoginFailed, EventLoginMFAFailed, EventLoginLocked}

// Stats returns counts of users, of live sessions and users with one, and
// of sign-in attempts in each of the last hours UTC hours, the current
// one included, oldest first and hours without attempts as zeros. Its
// cost is the same however many users, sessions and events there are:
// one read of kept counts per store and at most hours x 4 rows of hourly
// ones. Returns ErrForbidden for a non-admin actor and CodeValidation for
// hours outside 1..MaxStatsHours.
func (s *Admin) Stats(ctx context.Context, actor Session, hours int) (Stats, error) {
	if _, err := s.authorize(ctx, actor); err != nil {
		return Stats{}, err
	}
	if hours < 1 || hours > MaxStatsHours {
		return Stats{}, &Error{Code: CodeValidation, Message: "The window is out of range.",
			Fields: map[string]string{"hours": fmt.Sprintf("must be between 1 and %d", MaxStatsHours)}}
	}
	now := s.now()
	end := now.Truncate(time.Hour).Add(time.Hour)
	start := end.Add(-time.Duration(hours) * time.Hour)
	counts, err := s.audit.CountEventsByHour(ctx, loginTypes, start, end)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Logins: make([]LoginHour, hours)}
	for i := range st.Logins {
		st.Logins[i].Hour = start.Add(time.Duration(i) * time.Hour)
	}
	for _, c := range counts {
		i := int(c.Hour.Sub(start) / time.Hour)
		if i < 0 || i >= hours || !c.Hour.Equal(st.Logins[i].Hour) {
			continue // not an hour of the window: a store's mistake, not a count
		}
		switch c.Type {
		case EventLoginSucceeded:
			st.Logins[i].Succeeded += c.Count
		case EventLoginFailed, EventLoginMFAFailed:
			st.Logins[i].Failed += c.Count
		case EventLoginLocked:
			st.Logins[i].Locked += c.Count
		}
	}
	if st.Users, err = s.users.CountUsers(ctx); err != nil {
		return Stats{}, err
	}
	if st.Sessions, err = s.sessions.SessionStats(ctx, now); err != nil {
		return Stats{}, err
	}
	return st, nil
}

// ceilMicro rounds t up to the microsecond, the precision of the stores:
// "at or after since" and "before until" then hold exactly for a bound
// given in nanoseconds. The zero time stays zero.
func ceilMicro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	if c := t.Truncate(time.Microsecond); !c.Equal(t) {
		return c.Add(time.Microsecond)
	}
	return t
}

// Event cursors are base64url of "a:<unix µs>:<id>", the key of the last
// event of a page; opaque to clients, like the ID cursors.
func encodeEventCursor(k EventKey) string {
	return base64.RawURLEncoding.EncodeToString([]byte("a:" + strconv.FormatInt(k.Time.UnixMicro(), 10) + ":" + strconv.FormatInt(k.ID, 10)))
}

func decodeEventCursor(c string) (EventKey, error) {
	if c == "" {
		return EventKey{}, nil
	}
	bad := &Error{Code: CodeInvalidRequest, Message: "The cursor is not one this service issued."}
	if len(c) > 64 {
		return EventKey{}, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return EventKey{}, bad
	}
	rest, ok := strings.CutPrefix(string(raw), "a:")
	us, id, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return EventKey{}, bad
	}
	t, err1 := strconv.ParseInt(us, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || n <= 0 {
		return EventKey{}, bad
	}
	return EventKey{Time: time.UnixMicro(t).UTC(), ID: n}, nil
}
