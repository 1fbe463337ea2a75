// Package lambdahttp serves a net/http handler on AWS Lambda. One handler
// takes every HTTP event shape a function can be wired to (API Gateway
// HTTP API payload 2.0 and Lambda Function URLs, REST API payload 1.0, and
// Application Load Balancer), told apart by the event's shape, and
// optionally EventBridge scheduled events.
package lambdahttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

// Scheduled runs for an EventBridge scheduled event.
type Scheduled func(ctx context.Context) (any, error)

// AfterEach wraps h so that after runs at the end of every invocation,
// whatever its outcome, a panic included: an invocation's metrics are
// flushed before the next begins.
func AfterEach(h func(ctx context.Context, raw json.RawMessage) (any, error), after func()) func(ctx context.Context, raw json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		defer after()
		return h(ctx, raw)
	}
}

// shape is just enough of an event to tell the kinds apart.
type shape struct {
	Version        string          `json:"version"`
	HTTPMethod     string          `json:"httpMethod"`
	Source         string          `json:"source"`
	DetailType     string          `json:"detail-type"`
	RequestContext json.RawMessage `json:"requestContext"`
}

type contextShape struct {
	ELB  *json.RawMessage `json:"elb"`
	HTTP *json.RawMessage `json:"http"`
}

// ErrUnknownEvent is returned for an event of no shape this package serves.
var ErrUnknownEvent = errors.New("lambdahttp: unsupported event: want an API Gateway (v1 or v2), Function URL, ALB or scheduled event")

// Handler returns the Lambda handler Start runs; tests call it directly.
func Handler(h http.Handler, scheduled Scheduled) func(ctx context.Context, raw json.RawMessage) (any, error) {
	h = stripProxyHeaders(h)
	v1 := httpadapter.New(h)
	v2 := httpadapter.NewV2(h)
	alb := httpadapter.NewALB(h)
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var s shape
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("lambdahttp: event is not a JSON object: %w", err)
		}
		var rc contextShape
		if len(s.RequestContext) > 0 {
			_ = json.Unmarshal(s.RequestContext, &rc)
		}
		switch {
		case rc.ELB != nil:
			var e events.ALBTargetGroupRequest
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, err
			}
			return alb.ProxyWithContext(ctx, e)
		case s.Version == "2.0" && rc.HTTP != nil:
			var e events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, err
			}
			return v2.ProxyWithContext(ctx, e)
		case s.HTTPMethod != "" && len(s.RequestContext) > 0:
			var e events.APIGatewayProxyRequest
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, err
			}
			return v1.ProxyWithContext(ctx, e)
		case s.Source == "aws.events" && scheduled != nil:
			return scheduled(ctx)
		}
		return nil, ErrUnknownEvent
	}
}

// stripProxyHeaders removes headers named like the ones the adapter can
// use to pass API Gateway's context. This service reads that context from
// the Go context only, so a client-sent X-GoLambdaProxy-ApiGw-Context
// could never be believed; dropping it keeps any later code from trying.
func stripProxyHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "x-golambdaproxy-") {
				r.Header.Del(k)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// Gateway returns the client's address and the request id that the load
// balancer or API Gateway recorded for r, read from the event's request
// context (never from a header the client sends). For an ALB, which
// records no source address, it is the entry the ALB itself appended to
// X-Forwarded-For: the rightmost.
func Gateway(r *http.Request) (sourceIP, requestID string, ok bool) {
	ctx := r.Context()
	if c, ok := core.GetAPIGatewayV2ContextFromContext(ctx); ok {
		return c.HTTP.SourceIP, c.RequestID, true
	}
	if c, ok := core.GetAPIGatewayContextFromContext(ctx); ok {
		return c.Identity.SourceIP, c.RequestID, true
	}
	if _, ok := core.GetTargetGroupRequetFromContextALB(ctx); ok {
		id := r.Header.Get("X-Amzn-Trace-Id")
		if i := strings.LastIndex(id, "="); i >= 0 {
			id = id[i+1:] // "Root=1-5e...": the ALB's id of this request
		}
		return lastForwardedFor(r.Header.Values("X-Forwarded-For")), id, true
	}
	return "", "", false
}

func lastForwardedFor(values []string) string {
	if len(values) == 0 {
		return ""
	}
	hops := strings.Split(values[len(values)-1], ",")
	a, err := netip.ParseAddr(strings.TrimSpace(hops[len(hops)-1]))
	if err != nil {
		return ""
	}
	return a.String()
}
