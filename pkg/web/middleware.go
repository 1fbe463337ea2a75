package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"authfn/pkg/auth"
)

// Options configure the middleware stack.
type Options struct {
	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// (docs/security.md 9). Empty: the header is ignored.
	TrustedProxies []netip.Prefix
	// AllowedOrigins may call the API from a browser (CORS). "*" allows any.
	AllowedOrigins []string
	// Gateway, if set, returns the source IP and request id that API
	// Gateway recorded for r (the Lambda starter sets it). They are taken
	// from the event's request context, which the client cannot forge.
	Gateway func(r *http.Request) (sourceIP, requestID string, ok bool)
	// Metrics, if set, is told of every request answered (pkg/metrics).
	Metrics RequestObserver
}

// RequestObserver counts answered requests. pattern is the ServeMux
// pattern that matched, "" for none; an implementation must use it, not
// the raw path, or every URL a client makes up becomes a series.
type RequestObserver interface {
	ObserveRequest(pattern, method string, status int, d time.Duration)
}

// Stack wraps the mux in the middleware every group shares, outside in:
// recover, request id and client, access log, metrics (when o.Metrics is
// set), security headers, CORS, then problem documents for unrouted
// requests.
func Stack(logger *slog.Logger, mux *http.ServeMux, o Options) http.Handler {
	var h http.Handler = routes(logger, mux)
	h = cors(o.AllowedOrigins, h)
	h = headers(h)
	h = instrument(o.Metrics, h)
	h = accessLog(logger, h)
	h = identify(o, h)
	return recoverer(logger, h)
}

// RequestID returns the id of the request ctx belongs to, or "". It
// travels in the request's auth.Client, which the core's audit events
// read too: one context value rather than two.
func RequestID(ctx context.Context) string {
	return auth.ClientFromContext(ctx).RequestID
}

// validRequestID reports whether an inbound X-Request-Id can be used:
// 1-64 characters of [A-Za-z0-9-].
func validRequestID(id string) bool { return idOf(id, 64, "-") }

// idOf reports whether id has 1 to max bytes, each a letter or digit of
// ASCII or one of extra. A loop, not a regular expression: it runs on
// every request.
func idOf(id string, max int, extra string) bool {
	if id == "" || len(id) > max {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// validGatewayID reports whether id, a request id from the event's
// request context, can be used as the request id. It admits more than an
// inbound X-Request-Id may carry, because the gateway, not the client,
// wrote it and its form is the gateway's: REST API ids are UUIDs, HTTP API
// ids are base64 ("JKJaXmPLvHcESHA="), ALB ids are trace roots. Echoing
// it unchanged is what lets a response be found in API Gateway's access
// log. Nothing that could break a header or a log line gets through.
func validGatewayID(id string) bool { return idOf(id, 128, "-_+/=") }

// identify settles the request id (a valid inbound one, else API
// Gateway's, else a new one) and the client's address, echoes the id, and
// puts both in the context for logs and audit events.
func identify(o Options, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		remote := remoteIP(r.RemoteAddr)
		var gwID string
		if o.Gateway != nil {
			if ip, id, ok := o.Gateway(r); ok {
				gwID = id
				if a, err := netip.ParseAddr(ip); err == nil {
					remote = a.Unmap()
				}
			}
		}
		id := r.Header.Get("X-Request-Id")
		switch {
		case validRequestID(id):
		case validGatewayID(gwID):
			id = gwID
		default:
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		client := auth.Client{
			IP:        clientIP(remote, r.Header.Values("X-Forwarded-For"), o.TrustedProxies),
			UserAgent: cleanText(r.UserAgent(), maxUserAgentBytes),
			RequestID: id,
		}
		next.ServeHTTP(w, r.WithContext(auth.WithClient(r.Context(), client)))
	})
}

// maxUserAgentBytes bounds the user agent kept for sessions and audit
// events: a real one is a few hundred bytes; megabytes are an attack on
// the stores.
const maxUserAgentBytes = 512

// cleanText makes client-supplied text fit for a store: valid UTF-8 (a
// byte PostgreSQL's text refuses would lose the audit event it is in), no
// control characters, at most n bytes without splitting a character.
func cleanText(s string, n int) string {
	if len(s) <= n && printableASCII(s) {
		return s // the common case, without a copy
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// printableASCII reports whether s is only bytes from ' ' to '~'.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

func remoteIP(addr string) netip.Addr {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(addr)
	return a.Unmap()
}

// clientIP believes X-Forwarded-For only when the peer is a trusted proxy,
// and then walks it from the right, skipping trusted hops: the first
// untrusted address is the client. Entries further left were written by the
// client itself and are never believed.
func clientIP(peer netip.Addr, xff []string, trusted []netip.Prefix) string {
	if !peer.IsValid() {
		return ""
	}
	peer = peer.WithZone("")
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	var hops []string
	for _, v := range xff {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: stop at the last address we can vouch for
		}
		a = a.Unmap().WithZone("") // a zone names the proxy's interface, not the client
		if !isTrusted(a, trusted) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// recoverer turns a panic into a generic 500 that carries the request id,
// and logs the stack.
func recoverer(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.ErrorContext(r.Context(), "panic", "panic", v, "stack", string(debug.Stack()))
				Error(w, r, logger, auth.Errorf(auth.CodeInternal, "panic"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog logs one line a request: never the query string, headers or
// body, where tokens and passwords travel.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		level := slog.LevelInfo
		if sw.status >= 500 && sw.status != StatusClientClosed {
			level = slog.LevelError
		}
		if !logger.Enabled(r.Context(), level) {
			return // without building the attributes of a line nobody keeps
		}
		logger.Log(r.Context(), level, "request",
			"method", r.Method, "path", r.URL.Path, "status", sw.status, "bytes", sw.bytes,
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"ip", auth.ClientFromContext(r.Context()).IP)
	})
}

// instrument tells obs of each request. It sits inside identify, which
// replaces the request, so that after the call it sees the request
// ServeMux matched and set Pattern on; and inside accessLog, whose
// statusWriter it reads instead of wrapping the writer again. A panic is
// counted as the 500 the recoverer answers, unless a status was written.
func instrument(obs RequestObserver, next http.Handler) http.Handler {
	if obs == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
			w = sw
		}
		done := false
		defer func() {
			status := sw.status
			switch {
			case status != 0:
			case done:
				status = http.StatusOK
			default:
				status = http.StatusInternalServerError
			}
			obs.ObserveRequest(r.Pattern, r.Method, status, time.Since(start))
		}()
		next.ServeHTTP(w, r)
		done = true
	})
}

// headers sets what every response carries. no-store is the default for
// every answer of an auth API (tokens, users, sessions); the few public
// documents override it.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// CORSPolicy is what the middleware answers a browser from an allowed
// origin with. In AWS the HTTP API answers preflights itself, so
// template.yaml's CorsConfiguration must say the same; a test in local/
// holds the two together.
type CORSPolicy struct {
	AllowMethods  []string
	AllowHeaders  []string
	ExposeHeaders []string
	MaxAge        int // seconds
}

// CORS returns the service's CORS policy.
func CORS() CORSPolicy {
	return CORSPolicy{
		AllowMethods:  []string{"GET", "POST", "PATCH", "DELETE"},
		AllowHeaders:  []string{"Authorization", "Content-Type", "X-Request-Id"},
		ExposeHeaders: []string{"X-Request-Id", "Retry-After", "Location", "WWW-Authenticate"},
		MaxAge:        600,
	}
}

// cors answers preflights and marks responses for the allowed origins.
// Tokens travel in the Authorization header, not cookies, so credentials
// are never allowed.
func cors(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	policy := CORS()
	allowMethods, allowHeaders := strings.Join(policy.AllowMethods, ", "), strings.Join(policy.AllowHeaders, ", ")
	expose, maxAge := strings.Join(policy.ExposeHeaders, ", "), strconv.Itoa(policy.MaxAge)
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		allowed[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !(allowed[origin] || allowed["*"]) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", expose)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", allowMethods)
			h.Set("Access-Control-Allow-Headers", allowHeaders)
			h.Set("Access-Control-Max-Age", maxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// routes serves mux, answering what it cannot route (404, 405) with
// problem documents instead of ServeMux's plain text.
func routes(logger *slog.Logger, mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusNotFound:
			Error(w, r, logger, auth.Errorf(auth.CodeNotFound, "No such route: %s %s.", r.Method, r.URL.Path))
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			Error(w, r, logger, auth.Errorf(CodeMethodNotAllowed, "Method %s is not allowed here.", r.Method))
		default: // a redirect to the clean path
			mux.ServeHTTP(w, r)
		}
	})
}

// headerRecorder captures what ServeMux's own 404/405 handlers write.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header         { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerRecorder) WriteHeader(code int)        { h.status = code }
