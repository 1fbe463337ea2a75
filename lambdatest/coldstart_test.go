//go:build lambdatest

package lambdatest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"authfn/pkg/testenv"
)

// BenchmarkColdStart measures what a Lambda user pays first: from starting
// the emulator with a function's bootstrap to the first answer of an
// invocation, which includes starting the function (RIE starts it on the
// first invocation). The baseline is an empty Go function built with the
// same flags. Each iteration is one round that cold-starts every subject
// once, in a new random order, so that a shared machine's drift touches
// them all alike; the table printed at the end gives each one's median and
// its ratio to the baseline's. Figures are never asserted (docs/architecture.md,
// Performance). `make lambda-bench` runs it with -benchtime=10x.
func BenchmarkColdStart(b *testing.B) {
	rie := requireFile(b, riePath)
	_, prefix := testenv.Redis(b)
	vars := map[string]string{
		// Real servers, though a cold start should not reach them: if one
		// did, its round trip would show here.
		"DATABASE_URL":     testenv.EmptyPostgresURL(b),
		"REDIS_URL":        testenv.DefaultRedisURL,
		"REDIS_KEY_PREFIX": prefix,
		"JWT_SECRET":       base64.StdEncoding.EncodeToString(randomBytes(48)),
	}
	cfn := newCloudFormation()
	defer cfn.Close()

	subjects := []subject{{name: "empty", bootstrap: bootstrapPath("empty"), invocation: emptyInvocation}}
	for _, f := range functions {
		inv := liveInvocation
		switch f.group {
		case "migrate":
			inv = cfn.deleteInvocation
		case "authorizer":
			inv = authorizerInvocation
		}
		subjects = append(subjects, subject{name: f.id, bootstrap: bootstrapPath(f.group), invocation: inv})
	}
	for i := range subjects {
		s := &subjects[i]
		s.bootstrap = requireFile(b, s.bootstrap)
		fi, err := os.Stat(s.bootstrap)
		if err != nil {
			b.Fatal(err)
		}
		s.size = fi.Size()
		// One start each before measuring: it warms the page cache and
		// checks every subject answers.
		measureColdStart(b, s, rie, vars)
	}

	for b.Loop() {
		for _, i := range rand.Perm(len(subjects)) {
			s := &subjects[i]
			total, init := measureColdStart(b, s, rie, vars)
			s.total, s.init = append(s.total, total), append(s.init, init)
		}
	}
	for _, s := range subjects {
		b.ReportMetric(float64(median(s.total).Microseconds())/1000, s.name+"-ms")
	}
	printColdStarts(os.Stdout, subjects)
}

// subject is a bootstrap to cold-start, the first invocation to send it,
// and what was measured.
type subject struct {
	name, bootstrap string
	// invocation returns an event and a check that the answer came from
	// the handler.
	invocation func() (event []byte, check func(result []byte) error)
	size       int64
	// total is from starting the emulator to the answer; init is the
	// function's own start as RIE reports it.
	total, init []time.Duration
}

// initReport is RIE's record of the function's own start: from starting
// the bootstrap to its first request for an event.
var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// measureColdStart starts a fresh emulator with s, invokes it once and
// returns the time from starting the process to the answer, and the
// function's own init time as RIE reports it.
func measureColdStart(b *testing.B, s *subject, rie string, vars map[string]string) (total, init time.Duration) {
	b.Helper()
	event, check := s.invocation()
	for attempt := 1; ; attempt++ {
		e, err := startEmulator(s.name, rie, s.bootstrap, lambdaEnv(s.name, vars))
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(b.Context(), 30*time.Second)
		status, result, err := e.invoke(ctx, event)
		total = time.Since(e.started)
		cancel()
		e.stop()
		if errors.Is(err, errPortTaken) && attempt < 3 {
			continue
		}
		if err != nil {
			b.Fatalf("%s: invoke: %v\n%s", s.name, err, e.output())
		}
		if status != http.StatusOK {
			b.Fatalf("%s: emulator status = %d, want 200; body %q\n%s", s.name, status, result, e.output())
		}
		if err := check(result); err != nil {
			b.Fatalf("%s: first answer %s: %v\n%s", s.name, result, err, e.output())
		}
		m := initReport.FindStringSubmatch(e.output())
		if m == nil {
			b.Fatalf("%s: no INIT REPORT in the emulator's output:\n%s", s.name, e.output())
		}
		ms, _ := strconv.ParseFloat(m[1], 64)
		return total, time.Duration(ms * float64(time.Millisecond))
	}
}

// emptyInvocation is any event: the empty function answers a constant.
func emptyInvocation() ([]byte, func([]byte) error) {
	return []byte(`{}`), func(result []byte) error {
		var r struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
		}
		if err := json.Unmarshal(result, &r); err != nil || r.StatusCode != http.StatusOK || r.Body != "empty" {
			return fmt.Errorf("want the empty function's constant (%v)", err)
		}
		return nil
	}
}

// liveInvocation is GET /health/live as an HTTP API event. Only the health
// function serves it; the others answer 404, which still proves that the
// runtime started and the request went through our middleware and mux:
// the answer must carry the event's request id.
func liveInvocation() ([]byte, func([]byte) error) {
	event, id := httpAPIEvent(request{method: "GET", path: "/api/auth/v2/health/live"}, frontDoors[0].sourceIP)
	raw, _ := json.Marshal(event)
	return raw, func(result []byte) error {
		var r struct {
			StatusCode int               `json:"statusCode"`
			Headers    map[string]string `json:"headers"`
			Body       string            `json:"body"`
		}
		if err := json.Unmarshal(result, &r); err != nil {
			return err
		}
		if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusNotFound {
			return fmt.Errorf("status = %d, want 200 or 404", r.StatusCode)
		}
		if got := r.Headers["X-Request-Id"]; got != id {
			return fmt.Errorf("X-Request-Id = %q, want %q: the answer did not come from our handler", got, id)
		}
		return nil
	}
}

// authorizerInvocation is a REST TOKEN authorizer event with a token that
// is not one: the answer is a deny, reached without a store.
func authorizerInvocation() ([]byte, func([]byte) error) {
	raw, _ := json.Marshal(map[string]any{"type": "TOKEN", "authorizationToken": "Bearer not-a-jwt", "methodArn": guardedMethodArn})
	return raw, func(result []byte) error {
		var r struct {
			PrincipalID string `json:"principalId"`
		}
		if err := json.Unmarshal(result, &r); err != nil {
			return err
		}
		if r.PrincipalID != "anonymous" {
			return fmt.Errorf("principalId = %q, want anonymous (a deny)", r.PrincipalID)
		}
		return nil
	}
}

// cloudFormation stands in for the presigned URL a custom resource
// answers at.
type cloudFormation struct {
	*httptest.Server
	mu      sync.Mutex
	replies map[string]string // RequestId -> Status
}

func newCloudFormation() *cloudFormation {
	c := &cloudFormation{replies: map[string]string{}}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var reply struct{ RequestID, Status string }
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &reply)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.replies[reply.RequestID] = reply.Status
	}))
	return c
}

// deleteInvocation is a custom-resource Delete, the one event the migrate
// function answers without touching the database; its reply to
// CloudFormation proves that the handler ran.
func (c *cloudFormation) deleteInvocation() ([]byte, func([]byte) error) {
	id := uuid()
	raw, _ := json.Marshal(map[string]any{
		"RequestType":        "Delete",
		"ServiceToken":       "arn:aws:lambda:us-east-1:123456789012:function:authfn-MigrateFunction-1A2B3C",
		"ResponseURL":        c.URL + "/reply",
		"StackId":            "arn:aws:cloudformation:us-east-1:123456789012:stack/authfn/5b8b1f30-7a1c-11ee-b962-0ac0b1c8e7a1",
		"RequestId":          id,
		"LogicalResourceId":  "Migrations",
		"PhysicalResourceId": "authfn-schema",
		"ResourceType":       "Custom::Migrations",
		"ResourceProperties": map[string]any{"CodeVersion": "1"},
	})
	return raw, func([]byte) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if got := c.replies[id]; got != "SUCCESS" {
			return fmt.Errorf("CloudFormation reply = %q, want SUCCESS", got)
		}
		return nil
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// printColdStarts writes the results as the Markdown table README.md
// keeps, with ratios to the first subject, the empty function.
func printColdStarts(w io.Writer, subjects []subject) {
	base := subjects[0]
	ratio := func(d, of time.Duration) string { return fmt.Sprintf("%.2f×", float64(d)/float64(of)) }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
	fmt.Fprintf(w, "\nCold start under the Lambda emulator, %s, %s/%s, %d CPUs, median of %d:\n\n",
		time.Now().Format(time.DateOnly), runtime.GOOS, arch, runtime.NumCPU(), len(base.total))
	fmt.Fprintln(w, "| function | binary (MiB, stripped) | cold start (ms) | × empty | function init (ms) | × empty |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, s := range subjects {
		fmt.Fprintf(w, "| %s | %.1f | %s | %s | %s | %s |\n", s.name, float64(s.size)/(1<<20),
			ms(median(s.total)), ratio(median(s.total), median(base.total)),
			ms(median(s.init)), ratio(median(s.init), median(base.init)))
	}
}
