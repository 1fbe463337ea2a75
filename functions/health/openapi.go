package health

import (
	"net/http"

	"authfn/pkg/apidoc"
	"authfn/pkg/web"
)

// handleOpenAPIGet serves the OpenAPI document of the whole contract. It
// lives in the health group because both are public and touch no store;
// the bytes are the embedded ones every handler test validates against,
// so what clients read is what the tests hold the code to.
func handleOpenAPIGet(d Deps) http.Handler {
	doc := apidoc.JSON()
	return web.Handle(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		// The document changes only with a deploy; the middleware's
		// no-store default is for answers that carry secrets.
		h.Set("Cache-Control", "public, max-age=300")
		if _, err := w.Write(doc); err != nil {
			d.Logger.DebugContext(r.Context(), "write openapi document", "err", err)
		}
		return nil
	})
}
