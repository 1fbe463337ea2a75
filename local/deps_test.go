package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestRunnerLinksNoLambdaRuntime: the runner serves the groups over
// net/http and never starts the Lambda runtime client, whose RPC mode
// (net/rpc, encoding/gob) cost it about 3.5 MB of resident size; only
// functions/lambdamain, which the bootstraps import, may link it.
func TestRunnerLinksNoLambdaRuntime(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, p := range []string{"github.com/aws/aws-lambda-go/lambda", "net/rpc", "encoding/gob", "authfn/functions/lambdamain"} {
		if slices.Contains(deps, p) {
			t.Errorf("the runner links %s", p)
		}
	}
}
