// Command bootstrap is the sessions group's AWS Lambda function: wiring only.
package main

import "authfn/functions"

func main() { functions.Serve("SessionsFunction") }
