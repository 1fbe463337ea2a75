// Command bootstrap is the health group's AWS Lambda function: wiring only.
package main

import "authfn/functions/lambdamain"

func main() { lambdamain.Serve("HealthFunction") }
