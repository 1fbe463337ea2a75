package testenv

// The OpenAPI check of every exchange. HTTP.Send calls ValidateExchange for
// each request a test makes, so a handler and pkg/apidoc/openapi.json cannot
// drift apart without a test failing.
//
// What kin-openapi (v0.153.0) checks here, for an OpenAPI 3.1.0 document:
//   - the route: the request's path and method must be an operation of the
//     document (gorillamux router; paths are matched under the server URL
//     /api/auth/v2). Unlisted paths and methods may only be answered 404 and
//     405, and those answers are checked as problem documents (below);
//   - the request, for 2xx answers only (a test that sends a bad request on
//     purpose must still get its error answer checked, but its request is
//     not the contract's): path and query parameters against their schemas,
//     the body's Content-Type against the documented media types, the body
//     against its schema (JSON and form-encoded), and that a bearer route
//     was called with an "Authorization: Bearer" header (it does not verify
//     the token: the handlers do);
//   - the response: the status must be documented for the operation
//     (IncludeResponseStatus), the Content-Type must be one documented for
//     that status, the body must match its schema, and every header the
//     document marks required (X-Request-Id, X-Content-Type-Options,
//     WWW-Authenticate, Retry-After, Cache-Control, Location...) must be
//     present and match its schema. Schemas are checked with kin-openapi's
//     JSON Schema 2020-12 validator, which openapi3filter turns on for 3.1
//     documents: type arrays such as ["string","null"], const,
//     propertyNames, and the formats date-time and int64 are all enforced.
//
// What it does not check, and this file adds: that a response documented
// without content has an empty body, and the 404/405 answers to routes the
// document does not list (problem document, status and code, X-Request-Id,
// nosniff, and Allow on 405).
//
// What nothing here checks: headers the document does not mention (an
// undocumented header passes), response examples, the bytes-versus-
// characters rules JSON Schema cannot state (password lengths), and the
// semantics (that a 401 was the right answer). A CORS preflight, which the
// middleware answers for any path, is checked only for the headers every
// response carries.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"authfn/pkg/apidoc"
)

// openAPISpec is the loaded document, its router, and the operation that
// stands for every route the document does not list.
type openAPISpec struct {
	doc      *openapi3.T
	router   routers.Router
	unrouted *openapi3.Operation
}

// loadOpenAPI parses, validates and routes the document once per test
// binary: tests send thousands of requests, and the document never changes
// while they run.
var loadOpenAPI = sync.OnceValues(func() (*openAPISpec, error) {
	// The console's files: kin-openapi decodes JSON, forms and text/plain
	// only; these are checked as strings (type and headers, not content).
	for _, ct := range []string{"text/html", "text/javascript", "text/css", "image/png"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(apidoc.JSON())
	if err != nil {
		return nil, fmt.Errorf("load pkg/apidoc/openapi.json: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("pkg/apidoc/openapi.json is not a valid OpenAPI document: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route pkg/apidoc/openapi.json: %w", err)
	}
	unrouted, err := unroutedOperation(doc)
	if err != nil {
		return nil, err
	}
	return &openAPISpec{doc: doc, router: router, unrouted: unrouted}, nil
})

// unroutedOperation describes the answers to a path or method the document
// does not list. The document states them once, in its description, rather
// than on every operation; this builds them from its components so that
// they are held to the same Problem schema and headers.
func unroutedOperation(doc *openapi3.T) (*openapi3.Operation, error) {
	notFound := doc.Components.Responses["NotFound"]
	problem := doc.Components.Schemas["Problem"]
	requestID := doc.Components.Headers["RequestId"]
	noSniff := doc.Components.Headers["NoSniff"]
	if notFound == nil || problem == nil || requestID == nil || noSniff == nil {
		return nil, errors.New("pkg/apidoc/openapi.json lacks a component the validator needs: responses.NotFound, schemas.Problem, headers.RequestId or headers.NoSniff")
	}
	narrow := openapi3.NewObjectSchema()
	narrow.Type = nil
	narrow.Properties = openapi3.Schemas{
		"status": openapi3.NewSchemaRef("", &openapi3.Schema{Const: http.StatusMethodNotAllowed}),
		"code":   openapi3.NewSchemaRef("", &openapi3.Schema{Const: "method_not_allowed"}),
	}
	methodNotAllowed := openapi3.NewResponse().
		WithDescription("method_not_allowed").
		WithContent(openapi3.Content{"application/problem+json": openapi3.NewMediaType().
			WithSchema(&openapi3.Schema{AllOf: openapi3.SchemaRefs{problem, openapi3.NewSchemaRef("", narrow)}})})
	methodNotAllowed.Headers = openapi3.Headers{
		"X-Request-Id":           requestID,
		"X-Content-Type-Options": noSniff,
		"Allow": &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
			Required: true, Schema: openapi3.NewStringSchema().WithMinLength(1).NewRef(),
		}}},
	}
	return &openapi3.Operation{Responses: openapi3.NewResponses(
		openapi3.WithStatus(http.StatusNotFound, notFound),
		openapi3.WithStatus(http.StatusMethodNotAllowed, &openapi3.ResponseRef{Value: methodNotAllowed}),
	)}, nil
}

// ValidateExchange fails the test unless one request and the response it
// got agree with pkg/apidoc/openapi.json. reqBody is the body req was sent
// with (req.Body has been read by then); status, header and body are the
// response's. The request itself is checked only when the response is 2xx:
// tests send malformed requests on purpose, and what matters then is that
// the error answer is one the document promises.
func ValidateExchange(t testing.TB, req *http.Request, reqBody []byte, status int, header http.Header, body []byte) {
	t.Helper()
	for _, err := range checkExchange(req, reqBody, status, header, body) {
		t.Errorf("%s %s -> %d does not match pkg/apidoc/openapi.json: %v\nresponse body: %s", req.Method, req.URL.RequestURI(), status, err, truncateBody(body))
	}
}

// checkExchange returns every way the exchange departs from the document.
func checkExchange(req *http.Request, reqBody []byte, status int, header http.Header, body []byte) []error {
	spec, err := loadOpenAPI()
	if err != nil {
		return []error{err}
	}
	ctx := context.Background()
	vreq := req.Clone(ctx)
	vreq.Body, vreq.GetBody, vreq.ContentLength = nil, nil, int64(len(reqBody))
	if len(reqBody) > 0 {
		vreq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(reqBody)), nil }
		vreq.Body, _ = vreq.GetBody()
	}
	if vreq.Method == http.MethodHead {
		// ServeMux answers HEAD with a GET route; the document lists GET.
		vreq.Method = http.MethodGet
	}
	if isPreflight(req, status) {
		return checkHeadersOnly(spec, header)
	}

	route, params, err := spec.router.FindRoute(vreq)
	switch {
	case errors.Is(err, routers.ErrPathNotFound), errors.Is(err, routers.ErrMethodNotAllowed):
		want := http.StatusNotFound
		if errors.Is(err, routers.ErrMethodNotAllowed) {
			want = http.StatusMethodNotAllowed
		}
		if status != want {
			return []error{fmt.Errorf("the document has no %s %s (answers to it may only be %d), but the server answered %d: document the operation",
				req.Method, req.URL.Path, want, status)}
		}
		route = &routers.Route{Spec: spec.doc, Path: req.URL.Path, PathItem: &openapi3.PathItem{}, Method: req.Method, Operation: spec.unrouted}
	case err != nil:
		return []error{fmt.Errorf("find route: %w", err)}
	}

	var errs []error
	in := &openapi3filter.RequestValidationInput{
		Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			MultiError:          true,
			SkipSettingDefaults: true, // the request was served already; never rewrite it
			AuthenticationFunc:  bearerPresent,
		},
	}
	if status >= 200 && status < 300 && route.Operation != spec.unrouted {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			errs = append(errs, fmt.Errorf("request: %w", err))
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header,
		Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		errs = append(errs, fmt.Errorf("response: %w", err))
	}
	// kin-openapi skips the body of a response documented without content;
	// a 204 with a body, or any such body, is drift too.
	if r := route.Operation.Responses.Status(status); r != nil && r.Value != nil && len(r.Value.Content) == 0 && len(body) > 0 {
		errs = append(errs, fmt.Errorf("response: status %d is documented without a body, but %d bytes came", status, len(body)))
	}
	return errs
}

// isPreflight reports a CORS preflight the middleware answered itself: it
// is answered for any path, so the document states it once in prose.
func isPreflight(req *http.Request, status int) bool {
	return req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" && status == http.StatusNoContent
}

// checkHeadersOnly checks the headers the document says every response
// carries.
func checkHeadersOnly(spec *openAPISpec, header http.Header) []error {
	var errs []error
	for name, ref := range map[string]string{"X-Request-Id": "RequestId", "X-Content-Type-Options": "NoSniff"} {
		h := spec.doc.Components.Headers[ref]
		v := header.Get(name)
		if v == "" {
			errs = append(errs, fmt.Errorf("response header %s missing", name))
			continue
		}
		if err := h.Value.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			errs = append(errs, fmt.Errorf("response header %s: %w", name, err))
		}
	}
	return errs
}

// bearerPresent stands in for authentication in request validation: the
// handler has already verified the token, so all that is left to check is
// that an operation answered 2xx only when its documented security was
// presented (a public route documented as bearer, or the reverse, fails).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	if s == nil || s.Type != "http" || !strings.EqualFold(s.Scheme, "bearer") {
		return fmt.Errorf("security scheme %q is not one the test validator knows", in.SecuritySchemeName)
	}
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New("no Authorization: Bearer header on an operation that requires one")
	}
	return nil
}

// truncateBody keeps failure messages readable when a body is large (the
// document itself, a 64 KiB preferences object).
func truncateBody(b []byte) string {
	const max = 2048
	if len(b) > max {
		return string(b[:max]) + fmt.Sprintf("... (%d bytes)", len(b))
	}
	return string(b)
}
