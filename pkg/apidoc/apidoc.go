// Package apidoc holds the OpenAPI 3.1 document of the HTTP contract
// (docs/api.md), embedded so that every binary serves exactly the bytes the
// tests validate against. It imports nothing beyond embed: it is linked
// into every Lambda, and an OpenAPI library would only add cold-start
// weight. The validator lives in pkg/testenv, on the test path only.
package apidoc

import _ "embed"

//go:embed openapi.json
var document []byte

// JSON returns the OpenAPI document, to be served as is. The slice is
// shared: callers must not modify it.
func JSON() []byte { return document }
