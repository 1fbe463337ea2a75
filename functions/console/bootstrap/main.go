// Command bootstrap is the console's AWS Lambda function: wiring only.
package main

import "authfn/functions/lambdamain"

func main() { lambdamain.Serve("ConsoleFunction") }
