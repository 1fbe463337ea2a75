package users

import (
	"errors"
	"maps"
	"net/http"
	"strconv"
	"time"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

func handleAuditList(d Deps) http.Handler {
	type response struct {
		Events     []auth.Event `json:"events"`
		NextCursor *string      `json:"next_cursor"`
	}
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		q, err := auditQuery(r)
		if err != nil {
			return err
		}
		actor, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		page, err := d.Admin.AuditEvents(r.Context(), actor, q)
		if err != nil {
			return err
		}
		if page.Events == nil {
			page.Events = []auth.Event{}
		}
		web.Encode(w, r, d.Logger, http.StatusOK, response{Events: page.Events, NextCursor: web.Cursor(page.NextCursor)})
		return nil
	})
}

// auditQuery reads GET /audit's parameters. A parameter that is not of
// its type, or is given twice, is CodeValidation, all of them in one
// error; ranges and the known types are the core's to check.
func auditQuery(r *http.Request) (auth.AuditQuery, error) {
	v := r.URL.Query()
	fields := map[string]string{}
	for _, name := range []string{"limit", "cursor", "type", "user_id", "since", "until"} {
		if len(v[name]) > 1 {
			fields[name] = "must be given at most once"
		}
	}
	q := auth.AuditQuery{Type: v.Get("type"), Cursor: v.Get("cursor")}
	var err error
	if q.Limit, err = web.Limit(r); err != nil {
		addFields(fields, err)
	}
	if s := v.Get("user_id"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 || s != strconv.FormatInt(id, 10) {
			fields["user_id"] = "must be a positive integer"
		}
		q.UserID = id
	}
	for name, t := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if s := v.Get(name); s != "" {
			if *t, err = time.Parse(time.RFC3339Nano, s); err != nil {
				fields[name] = "must be an RFC 3339 time, such as 2026-06-29T14:00:00Z"
			}
		}
	}
	if len(fields) > 0 {
		return auth.AuditQuery{}, &auth.Error{Code: auth.CodeValidation, Message: "The audit query is not acceptable.", Fields: fields}
	}
	return q, nil
}

// addFields copies the field problems of a CodeValidation error into fields.
func addFields(fields map[string]string, err error) {
	var e *auth.Error
	if errors.As(err, &e) {
		maps.Copy(fields, e.Fields)
	}
}
