package console_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"authfn/functions/console"
	"authfn/pkg/testenv"
	"authfn/pkg/web"
)

func serve(t *testing.T) *testenv.HTTP {
	logger := slog.New(slog.DiscardHandler)
	mux := http.NewServeMux()
	console.Register(mux, console.Deps{Logger: logger})
	return testenv.NewHTTP(t, web.Stack(logger, mux, web.Options{}))
}

// TestConsolePage: the console answers on its path with and without the
// slash, as a page whose policy allows no inline script and no framing
// (docs/security.md 35), and every script and style sheet the page names
// is served from this origin.
func TestConsolePage(t *testing.T) {
	c := serve(t)
	for _, path := range []string{"/api/auth/v2/console", "/api/auth/v2/console/"} {
		resp := c.Do("GET", path, nil).Want(200)
		if ct := resp.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type = %q", path, ct)
		}
		csp := resp.Header().Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q allows inline code", path, csp)
		}
		body := resp.Body.String()
		if regexp.MustCompile(`<script(\s[^>]*)?>\s*[^<\s]`).MatchString(body) || strings.Contains(body, " style=") {
			t.Errorf("%s: the page has an inline script or style", path)
		}
		refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(body, -1)
		if len(refs) == 0 {
			t.Fatalf("%s: the page names no script or style sheet", path)
		}
		for _, m := range refs {
			if !strings.HasPrefix(m[1], "/api/auth/v2/console/") {
				t.Errorf("%s names %q: not a file of the console", path, m[1])
				continue
			}
			c.Do("GET", m[1], nil).Want(200)
		}
	}
}

// TestConsoleFiles: a module has the type a browser runs as a module, a
// validator that answers 304, and a file that is not there (or a path
// into a folder, or out of it) is a 404 problem, not a listing.
func TestConsoleFiles(t *testing.T) {
	c := serve(t)
	resp := c.Do("GET", "/api/auth/v2/console/app.js", nil).Want(200)
	if ct := resp.Header().Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("app.js: Content-Type = %q", ct)
	}
	if cc := resp.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("app.js: Cache-Control = %q, want no-cache", cc)
	}
	etag := resp.Header().Get("ETag")
	if etag == "" {
		t.Fatal("app.js: no ETag")
	}
	again := c.Do("GET", "/api/auth/v2/console/app.js", nil, "If-None-Match", etag).Want(304)
	if again.Body.Len() != 0 {
		t.Error("a 304 has a body")
	}
	c.Do("GET", "/api/auth/v2/console/app.js", nil, "If-None-Match", `"other"`).Want(200)
	for _, path := range []string{
		"/api/auth/v2/console/nothing.js",
		"/api/auth/v2/console/assets/app.js",
		"/api/auth/v2/console/..%2fconsole.go",
		"/api/auth/v2/console/console.go",
		"/api/auth/v2/console/.",
	} {
		resp := c.Do("GET", path, nil)
		if resp.Code != 404 && resp.Code != 301 && resp.Code != 307 {
			t.Errorf("GET %s = %d, want 404", path, resp.Code)
		}
	}
	c.Do("POST", "/api/auth/v2/console/app.js", nil).Want(405, "method_not_allowed")
}

// TestDocsPage: the reference is Swagger UI from its Go module, started
// by a script file (no inline script), on this API's own document, and
// its large files go out compressed to a browser that takes gzip and
// plain to one that does not.
func TestDocsPage(t *testing.T) {
	c := serve(t)
	resp := c.Do("GET", "/api/auth/v2/docs", nil).Want(200)
	csp := resp.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("docs CSP = %q", csp)
	}
	body := resp.Body.String()
	for _, want := range []string{"/api/auth/v2/docs/swagger-ui-bundle.js", "/api/auth/v2/docs/docs.js", "/api/auth/v2/docs/swagger-ui.css"} {
		if !strings.Contains(body, want) {
			t.Errorf("the reference page does not load %s", want)
		}
	}
	start := c.Do("GET", "/api/auth/v2/docs/docs.js", nil).Want(200).Body.String()
	if !strings.Contains(start, `"/api/auth/v2/openapi.json"`) || !strings.Contains(start, "validatorUrl: null") {
		t.Errorf("docs.js does not start Swagger UI on this API's document without the remote validator:\n%s", start)
	}

	plain := c.Do("GET", "/api/auth/v2/docs/swagger-ui-bundle.js", nil).Want(200)
	if plain.Header().Get("Content-Encoding") != "" || !bytes.Contains(plain.Body.Bytes(), []byte("SwaggerUIBundle")) {
		t.Errorf("without Accept-Encoding the bundle is not plain JavaScript (Content-Encoding %q)", plain.Header().Get("Content-Encoding"))
	}
	zipped := c.Do("GET", "/api/auth/v2/docs/swagger-ui-bundle.js", nil, "Accept-Encoding", "br, gzip").Want(200)
	if zipped.Header().Get("Content-Encoding") != "gzip" || zipped.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("with gzip accepted: Content-Encoding %q, Vary %q", zipped.Header().Get("Content-Encoding"), zipped.Header().Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plain.Body.Bytes()) {
		t.Errorf("the gzipped bundle is not the plain one compressed (err %v)", err)
	}
	refused := c.Do("GET", "/api/auth/v2/docs/swagger-ui-bundle.js", nil, "Accept-Encoding", "gzip;q=0").Want(200)
	if refused.Header().Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 still got gzip")
	}
	c.Do("GET", "/api/auth/v2/docs/swagger-ui.css", nil).Want(200)
	c.Do("GET", "/api/auth/v2/docs/embed.go", nil).Want(404, "not_found")
}
