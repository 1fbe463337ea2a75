//go:build lambdatest

package lambdatest

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
)

// testConsole: the console's function, started with no database, Redis
// or key, serves the console's page under its policy and Swagger UI's
// bundle, whose gzip bytes API Gateway gets base64-encoded and a browser
// gets back whole, through every front door.
func testConsole(t *testing.T, console *function) {
	for _, door := range frontDoors {
		page := console.do(t, door, request{method: "GET", path: "/api/auth/v2/console/"})
		page.expect(t, door.name+": GET /console/", http.StatusOK)
		if ct := page.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: console Content-Type = %q", door.name, ct)
		}
		if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: console CSP = %q", door.name, csp)
		}
		if !bytes.Contains(page.body, []byte("/api/auth/v2/console/")) {
			t.Errorf("%s: the page names none of its files: %s", door.name, page.body)
		}

		plain := console.do(t, door, request{method: "GET", path: "/api/auth/v2/docs/swagger-ui-bundle.js"})
		plain.expect(t, door.name+": GET /docs/swagger-ui-bundle.js", http.StatusOK)
		zipped := console.do(t, door, request{method: "GET", path: "/api/auth/v2/docs/swagger-ui-bundle.js", acceptGzip: true})
		zipped.expect(t, door.name+": GET /docs/swagger-ui-bundle.js (gzip)", http.StatusOK)
		if zipped.header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: Content-Encoding = %q, want gzip", door.name, zipped.header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(zipped.body))
		if err != nil {
			t.Fatalf("%s: the gzip body does not survive the event: %v", door.name, err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, plain.body) || !bytes.Contains(plain.body, []byte("SwaggerUIBundle")) {
			t.Errorf("%s: the gzipped bundle (%d bytes, err %v) is not the plain one (%d bytes)", door.name, len(unzipped), err, len(plain.body))
		}
	}
	console.do(t, frontDoors[0], request{method: "GET", path: "/api/auth/v2/console/missing.js"}).expect(t, "GET a missing file", http.StatusNotFound)
}
