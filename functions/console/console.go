// Package console serves the web console and the API reference: static
// pages that use only the public API, from the same origin. Neither
// touches a store; the console's pages ask the API for everything, with
// the signed-in user's own token, so the console can do nothing its user
// could not do with curl (docs/security.md 35).
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/swaggest/swgui/v5/static"

	"authfn/pkg/auth"
	"authfn/pkg/web"
)

// The console is plain HTML, CSS and JavaScript modules in one flat
// folder: no build step, and one path segment per file, so the routes
// (and API Gateway's) need no greedy match below it.
//
//go:embed assets
var consoleFiles embed.FS

//go:embed docs
var docsFiles embed.FS

// Deps are the dependencies of the console group.
type Deps struct {
	Logger *slog.Logger
}

// Register adds the console's and the API reference's routes to mux. The
// index answers on the bare path and on the path with a slash: API
// Gateway and the runner may see either, and neither redirects, so no
// gateway rule can turn a redirect into a loop. Asset URLs in the pages
// are absolute for the same reason.
func Register(mux web.Router, d Deps) {
	console := newSite(d.Logger, consolePolicy, mustSub(consoleFiles, "assets"))
	mux.Handle("GET /api/auth/v2/console", console.index())
	mux.Handle("GET /api/auth/v2/console/{file...}", console.file())

	// The reference's own page and start-up script, then Swagger UI's
	// files from its pinned module (swaggest/swgui): nothing copied here.
	docs := newSite(d.Logger, docsPolicy, mustSub(docsFiles, "docs"), static.FS)
	mux.Handle("GET /api/auth/v2/docs", docs.index())
	mux.Handle("GET /api/auth/v2/docs/{file...}", docs.file())
}

// consolePolicy allows scripts, styles and requests of this origin only,
// and images from it or data: URLs (the MFA enrolment's QR code arrives
// as one). No inline script, no framing (docs/security.md 35).
const consolePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// docsPolicy is the console's, but Swagger UI sets style attributes in
// the markup it renders, so styles may be inline; scripts still may not.
const docsPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// A site is a flat folder of static files. Which files there are, and
// their types, is known at start; a file's bytes are read from the binary
// on its first request and kept: a runner or Lambda that never serves the
// console (most requests are API calls) holds none of its 600 KB in heap.
type site struct {
	logger *slog.Logger
	policy string
	files  map[string]file
}

type file struct {
	gzipped bool // stored gzip-compressed (Swagger UI's files)
	ctype   string
	load    func() (content, error)
}

type content struct {
	body []byte // as stored: gzip-compressed when gzipped is set
	etag string
}

// types are the content types of the extensions the sites hold. A table
// rather than mime.TypeByExtension: Lambda's base image has no
// /etc/mime.types, and a file's type must not depend on the host.
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".png":  "image/png",
	".svg":  "image/svg+xml",
	".json": "application/json",
}

// newSite reads every file of each fsys; a name the first holds wins.
func newSite(logger *slog.Logger, policy string, fsyss ...fs.FS) *site {
	s := &site{logger: logger, policy: policy, files: map[string]file{}}
	for _, fsys := range fsyss {
		s.read(fsys)
	}
	if _, ok := s.files["index.html"]; !ok {
		panic("console: no index.html")
	}
	return s
}

func (s *site) read(fsys fs.FS) {
	err := fs.WalkDir(fsys, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		name, gzipped := strings.CutSuffix(p, ".gz")
		ctype, ok := types[path.Ext(name)]
		if _, seen := s.files[name]; !ok || seen {
			return nil // a go file of the module; a name an earlier fsys gave
		}
		s.files[name] = file{gzipped: gzipped, ctype: ctype, load: sync.OnceValues(func() (content, error) {
			body, err := fs.ReadFile(fsys, p)
			sum := sha256.Sum256(body)
			return content{body: body, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}, err
		})}
		return nil
	})
	if err != nil {
		panic("console: read embedded files: " + err.Error()) // a build that cannot start
	}
}

func (s *site) index() http.Handler {
	return web.Handle(s.logger, func(w http.ResponseWriter, r *http.Request) error {
		return s.serve(w, r, "index.html")
	})
}

func (s *site) file() http.Handler {
	return web.Handle(s.logger, func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("file")
		if name == "" {
			name = "index.html"
		}
		return s.serve(w, r, name)
	})
}

func (s *site) serve(w http.ResponseWriter, r *http.Request, name string) error {
	f, ok := s.files[name]
	if !ok { // also every nested path: the sites are flat
		return auth.Errorf(auth.CodeNotFound, "no such file")
	}
	c, err := f.load()
	if err != nil {
		return auth.Errorf(auth.CodeInternal, "read %s: %v", name, err)
	}
	h := w.Header()
	h.Set("Content-Security-Policy", s.policy)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	// The files carry no secret, but they change with every deploy and
	// their names do not: a browser keeps them and asks again each time.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", c.etag)
	h.Set("Content-Type", f.ctype)
	if f.gzipped {
		h.Set("Vary", "Accept-Encoding")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, c.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	body := c.body
	switch {
	case f.gzipped && acceptsGzip(r):
		h.Set("Content-Encoding", "gzip")
	case f.gzipped:
		if body, err = gunzip(body); err != nil {
			return auth.Errorf(auth.CodeInternal, "decompress %s: %v", name, err)
		}
	}
	if _, err := w.Write(body); err != nil {
		s.logger.DebugContext(r.Context(), "write asset", "file", name, "err", err)
	}
	return nil
}

// acceptsGzip reads Accept-Encoding loosely: gzip listed without q=0.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if strings.EqualFold(strings.TrimSpace(coding), "gzip") &&
				strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0" {
				return true
			}
		}
	}
	return false
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
