// Command empty is a Lambda function that does nothing but answer: the
// floor that the functions' cold starts are compared with. `make
// lambda-bench` builds it with the same flags as the functions, so the
// difference between the two is what our code and its dependencies cost.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

// answer has the shape of an HTTP API answer, so the benchmark reads
// every function's first answer the same way.
var answer = json.RawMessage(`{"statusCode":200,"body":"empty"}`)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (json.RawMessage, error) { return answer, nil })
}
