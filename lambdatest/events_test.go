//go:build lambdatest

package lambdatest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// The events are built here as JSON objects in the shapes AWS documents
// and sends, field names and all, rather than from aws-lambda-go's event
// types: the code under test decodes with those types, so building the
// events with them would only prove that they agree with themselves.

// request is what a client sends, before a front door wraps it in an
// event.
type request struct {
	method, path string
	body         string // JSON, or empty
	bearer       string // access token, or empty
	acceptGzip   bool   // the client sends Accept-Encoding: gzip
}

// userAgent is the client's User-Agent; sessions record it.
const userAgent = "authfn-lambdatest/1"

// forgedIP is the address a client claims in headers it controls. No
// front door here writes it, so the service must never record it.
const forgedIP = "6.6.6.6"

// forgedContext imitates the header in which aws-lambda-go-api-proxy once
// passed API Gateway's request context: a client sending it must not be
// able to choose its recorded address or request id.
const forgedContext = `{"requestId":"forged","http":{"sourceIp":"` + forgedIP + `"},"identity":{"sourceIp":"` + forgedIP + `"}}`

// frontDoor is one way AWS delivers an HTTP request to a function.
type frontDoor struct {
	name string
	// sourceIP is the client's address as this front door saw it.
	sourceIP string
	// event wraps r in this front door's event; the service should answer
	// with X-Request-Id equal to requestID.
	event func(r request, sourceIP string) (event map[string]any, requestID string)
}

// frontDoors are the event shapes lambdahttp serves. Each has its own
// client address, so a test can tell which one a session came from.
var frontDoors = []frontDoor{
	{name: "HTTP API v2", sourceIP: "198.51.100.2", event: httpAPIEvent},
	{name: "REST API v1", sourceIP: "198.51.100.1", event: restAPIEvent},
	{name: "ALB", sourceIP: "198.51.100.3", event: albEvent},
}

// clientHeaders are the headers the client sent, lower-cased as HTTP API
// and ALB deliver them, forged ones included.
func clientHeaders(r request) map[string]string {
	h := map[string]string{
		"accept":                        "application/json",
		"user-agent":                    userAgent,
		"x-forwarded-for":               forgedIP,
		"x-golambdaproxy-apigw-context": forgedContext,
	}
	if r.body != "" {
		h["content-type"] = "application/json"
		h["content-length"] = fmt.Sprint(len(r.body))
	}
	if r.bearer != "" {
		h["authorization"] = "Bearer " + r.bearer
	}
	if r.acceptGzip {
		h["accept-encoding"] = "gzip, deflate, br"
	}
	return h
}

// httpAPIEvent is an API Gateway HTTP API event, payload format 2.0 (a
// Lambda Function URL sends the same shape). Its request ids look like
// "JKJaXmPLvHcESHA=": base64, not a UUID.
func httpAPIEvent(r request, sourceIP string) (map[string]any, string) {
	id := base64.StdEncoding.EncodeToString(randomBytes(11))
	now := time.Now()
	h := clientHeaders(r)
	h["host"] = "r3pmxmplak.execute-api.us-east-1.amazonaws.com"
	h["x-amzn-trace-id"] = traceID(now)
	h["x-forwarded-port"] = "443"
	h["x-forwarded-proto"] = "https"
	e := map[string]any{
		"version":        "2.0",
		"routeKey":       r.method + " " + r.path,
		"rawPath":        r.path,
		"rawQueryString": "",
		"headers":        h,
		"requestContext": map[string]any{
			"accountId":    "123456789012",
			"apiId":        "r3pmxmplak",
			"domainName":   "r3pmxmplak.execute-api.us-east-1.amazonaws.com",
			"domainPrefix": "r3pmxmplak",
			"http": map[string]any{
				"method":    r.method,
				"path":      r.path,
				"protocol":  "HTTP/1.1",
				"sourceIp":  sourceIP,
				"userAgent": userAgent,
			},
			"requestId": id,
			"routeKey":  r.method + " " + r.path,
			"stage":     "$default",
			"time":      now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			"timeEpoch": now.UnixMilli(),
		},
		"isBase64Encoded": false,
	}
	if r.body != "" {
		e["body"] = r.body
	}
	return e, id
}

// restAPIEvent is an API Gateway REST API proxy event, payload format 1.0,
// from a stage named prod. Its request ids are UUIDs.
func restAPIEvent(r request, sourceIP string) (map[string]any, string) {
	id := uuid()
	now := time.Now()
	h := clientHeaders(r)
	h["Host"] = "r3pmxmplak.execute-api.us-east-1.amazonaws.com"
	h["X-Amzn-Trace-Id"] = traceID(now)
	h["X-Forwarded-Port"] = "443"
	h["X-Forwarded-Proto"] = "https"
	multi := map[string][]string{}
	for k, v := range h {
		multi[k] = []string{v}
	}
	var body any // null when there is none, as API Gateway sends it
	if r.body != "" {
		body = r.body
	}
	return map[string]any{
		"resource":                        r.path,
		"path":                            r.path,
		"httpMethod":                      r.method,
		"headers":                         h,
		"multiValueHeaders":               multi,
		"queryStringParameters":           nil,
		"multiValueQueryStringParameters": nil,
		"pathParameters":                  nil,
		"stageVariables":                  nil,
		"requestContext": map[string]any{
			"accountId":         "123456789012",
			"apiId":             "r3pmxmplak",
			"resourceId":        "a1b2c3",
			"resourcePath":      r.path,
			"httpMethod":        r.method,
			"extendedRequestId": strings.TrimRight(base64.StdEncoding.EncodeToString(randomBytes(11)), "="),
			"requestTime":       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			"path":              "/prod" + r.path,
			"protocol":          "HTTP/1.1",
			"stage":             "prod",
			"domainPrefix":      "r3pmxmplak",
			"requestTimeEpoch":  now.UnixMilli(),
			"requestId":         id,
			"identity": map[string]any{
				"sourceIp":  sourceIP,
				"userAgent": userAgent,
				"accountId": nil,
				"caller":    nil,
				"user":      nil,
				"userArn":   nil,
			},
			"domainName": "r3pmxmplak.execute-api.us-east-1.amazonaws.com",
		},
		"body":            body,
		"isBase64Encoded": false,
	}, id
}

// albEvent is an Application Load Balancer target-group event (without
// multi-value headers, the default). An ALB records no source address in
// the event: it appends the client's to X-Forwarded-For, after whatever
// the client wrote there. Its request id is the trace id's Root.
func albEvent(r request, sourceIP string) (map[string]any, string) {
	root := strings.TrimPrefix(traceID(time.Now()), "Root=")
	h := clientHeaders(r)
	h["host"] = "authfn-1234567890.us-east-1.elb.amazonaws.com"
	h["x-amzn-trace-id"] = "Root=" + root
	h["x-forwarded-for"] = forgedIP + ", " + sourceIP
	h["x-forwarded-port"] = "443"
	h["x-forwarded-proto"] = "https"
	return map[string]any{
		"requestContext": map[string]any{
			"elb": map[string]any{
				"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/authfn/6d0ecf831eec9f09",
			},
		},
		"httpMethod":            r.method,
		"path":                  r.path,
		"queryStringParameters": map[string]string{},
		"headers":               h,
		"body":                  r.body,
		"isBase64Encoded":       false,
	}, root
}

// scheduledEvent is what an EventBridge schedule rule (the template's
// Every15Minutes) sends.
func scheduledEvent() map[string]any {
	return map[string]any{
		"version":     "0",
		"id":          uuid(),
		"detail-type": "Scheduled Event",
		"source":      "aws.events",
		"account":     "123456789012",
		"time":        time.Now().UTC().Format(time.RFC3339),
		"region":      "us-east-1",
		"resources":   []string{"arn:aws:events:us-east-1:123456789012:rule/authfn-CleanupFunctionEvery15Minutes-1A2B3C4D5E6F"},
		"detail":      map[string]any{},
	}
}

// traceID is an X-Ray trace header: Root=1-<epoch seconds, hex>-<96 random bits>.
func traceID(now time.Time) string {
	return fmt.Sprintf("Root=1-%08x-%s", now.Unix(), hex.EncodeToString(randomBytes(12)))
}

func uuid() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return b
}
