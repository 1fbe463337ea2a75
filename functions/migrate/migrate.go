// Package migrate is the deploy's migration step as a Lambda function: it
// applies pending migrations and creates the first admin, either as a
// CloudFormation custom resource (so a stack update migrates before the
// functions that need the new schema are updated) or when invoked directly.
package migrate

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"

	"authfn/pkg/app"
)

// physicalID names the one migration resource; it never changes, so
// CloudFormation never "replaces" it (which would send a Delete).
const physicalID = "authfn-schema"

// Setup is what the function runs: app.(*App).Setup.
type Setup func(ctx context.Context) (app.SetupResult, error)

// Handler answers custom-resource events (replying to CloudFormation's
// presigned URL) and any other invocation with the result itself.
func Handler(setup Setup) func(ctx context.Context, raw json.RawMessage) (any, error) {
	resource := cfn.LambdaWrap(customResource(setup))
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var probe struct {
			RequestType string `json:"RequestType"`
			ResponseURL string `json:"ResponseURL"`
		}
		_ = json.Unmarshal(raw, &probe)
		if probe.RequestType != "" && probe.ResponseURL != "" {
			var e cfn.Event
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, err
			}
			return resource(ctx, e)
		}
		return setup(ctx)
	}
}

// customResource migrates on Create and Update. Delete does nothing: a
// stack being torn down or rolled back must never drop user data.
func customResource(setup Setup) cfn.CustomResourceFunction {
	return func(ctx context.Context, e cfn.Event) (string, map[string]any, error) {
		if e.RequestType == cfn.RequestDelete {
			return physicalID, nil, nil
		}
		r, err := setup(ctx)
		if err != nil {
			return physicalID, nil, err
		}
		return physicalID, map[string]any{"MigrationsApplied": strings.Join(r.MigrationsApplied, ",")}, nil
	}
}
