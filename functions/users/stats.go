package users

import (
	"net/http"
	"strconv"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

func handleStatsGet(d Deps) http.Handler {
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		hours := auth.DefaultStatsHours
		if s := r.URL.Query().Get("hours"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return &auth.Error{Code: auth.CodeValidation, Message: "hours must be an integer.",
					Fields: map[string]string{"hours": "must be an integer between 1 and " + strconv.Itoa(auth.MaxStatsHours)}}
			}
			hours = n
		}
		actor, err := web.SessionOf(r)
		if err != nil {
			return err
		}
		st, err := d.Admin.Stats(r.Context(), actor, hours)
		if err != nil {
			return err
		}
		web.Encode(w, r, d.Logger, http.StatusOK, st)
		return nil
	})
}
