package lambdahttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"authfn/pkg/auth"
	"authfn/pkg/lambdahttp"
	"authfn/pkg/web"
)

// echo answers with what the service would believe about the request.
func echo() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/auth/v2/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		c := auth.ClientFromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"id": r.PathValue("id"), "ip": c.IP, "request_id": c.RequestID, "ua": c.UserAgent,
			"spoof": r.Header.Get("X-GoLambdaProxy-ApiGw-Context"),
		})
	})
	logger := slog.New(slog.DiscardHandler)
	return web.Stack(logger, mux, web.Options{Gateway: lambdahttp.Gateway})
}

const spoof = `{"requestId":"forged","http":{"sourceIp":"6.6.6.6"},"identity":{"sourceIp":"6.6.6.6"}}`

func TestEventShapes(t *testing.T) {
	h := lambdahttp.Handler(echo(), nil)
	hdrs := map[string]string{"content-type": "application/json", "user-agent": "UA/1", "x-golambdaproxy-apigw-context": spoof, "x-forwarded-for": "6.6.6.6"}
	cases := []struct {
		name   string
		event  any
		wantIP string
		wantID string
	}{
		{"HTTP API v2", events.APIGatewayV2HTTPRequest{
			Version: "2.0", RawPath: "/api/auth/v2/things/42", Headers: hdrs, Body: "{}",
			RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "v2-req", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/api/auth/v2/things/42", SourceIP: "203.0.113.2"}},
		}, "203.0.113.2", "v2-req"},
		{"REST API v1", events.APIGatewayProxyRequest{
			HTTPMethod: "POST", Path: "/api/auth/v2/things/42", Headers: hdrs, Body: "{}",
			RequestContext: events.APIGatewayProxyRequestContext{RequestID: "v1-req", Stage: "prod", Identity: events.APIGatewayRequestIdentity{SourceIP: "203.0.113.1"}},
		}, "203.0.113.1", "v1-req"},
		{"ALB", events.ALBTargetGroupRequest{
			HTTPMethod: "POST", Path: "/api/auth/v2/things/42", Body: "{}",
			Headers:        map[string]string{"content-type": "application/json", "user-agent": "UA/1", "x-forwarded-for": "6.6.6.6, 203.0.113.3", "x-amzn-trace-id": "Root=1-abc-def", "host": "alb.example"},
			RequestContext: events.ALBTargetGroupRequestContext{ELB: events.ELBContext{TargetGroupArn: "arn:aws:elasticloadbalancing:x"}},
		}, "203.0.113.3", "1-abc-def"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := json.Marshal(tc.event)
			out, err := h(context.Background(), raw)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(out)
			var resp struct {
				StatusCode int               `json:"statusCode"`
				Body       string            `json:"body"`
				Headers    map[string]string `json:"headers"`
			}
			if err := json.Unmarshal(b, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d, body %s", resp.StatusCode, resp.Body)
			}
			var got map[string]string
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"id": "42", "ip": tc.wantIP, "request_id": tc.wantID, "ua": "UA/1", "spoof": ""}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if !strings.Contains(string(b), tc.wantID) {
				t.Errorf("response does not echo the request id: %s", b)
			}
		})
	}
}

func TestScheduledAndUnknownEvents(t *testing.T) {
	ran := false
	h := lambdahttp.Handler(echo(), func(context.Context) (any, error) { ran = true; return map[string]int{"removed": 3}, nil })
	scheduled := `{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","account":"1","time":"2026-11-26T00:00:00Z","region":"eu-west-1","resources":[],"detail":{}}`
	out, err := h(context.Background(), json.RawMessage(scheduled))
	if err != nil || !ran {
		t.Fatalf("scheduled event: %v, ran %v", err, ran)
	}
	if b, _ := json.Marshal(out); string(b) != `{"removed":3}` {
		t.Errorf("scheduled result = %s", b)
	}
	for _, ev := range []string{`{"foo":1}`, `[]`, `"x"`, `{"source":"aws.s3"}`} {
		if _, err := h(context.Background(), json.RawMessage(ev)); err == nil {
			t.Errorf("event %s accepted", ev)
		}
	}
	noSchedule := lambdahttp.Handler(echo(), nil)
	if _, err := noSchedule(context.Background(), json.RawMessage(scheduled)); !errors.Is(err, lambdahttp.ErrUnknownEvent) {
		t.Errorf("scheduled event without a scheduled handler: %v", err)
	}
}

// TestAfterEach: the metrics flush runs once at the end of every
// invocation, whether it answered, failed or panicked.
func TestAfterEach(t *testing.T) {
	flushes := 0
	h := lambdahttp.AfterEach(lambdahttp.Handler(echo(), nil), func() { flushes++ })
	if _, err := h(context.Background(), json.RawMessage(`{"version":"2.0","rawPath":"/x","requestContext":{"http":{"method":"GET","path":"/x"}}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := h(context.Background(), json.RawMessage(`{"nothing":"known"}`)); err == nil {
		t.Fatal("an unknown event was served")
	}
	panicky := lambdahttp.AfterEach(func(context.Context, json.RawMessage) (any, error) { panic("boom") }, func() { flushes++ })
	func() {
		defer func() { _ = recover() }()
		_, _ = panicky(context.Background(), nil)
	}()
	if flushes != 3 {
		t.Errorf("flushes = %d, want 3", flushes)
	}
}
