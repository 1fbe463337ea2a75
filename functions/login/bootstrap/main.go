// Command bootstrap is the login group's AWS Lambda function: wiring only.
package main

import "authfn/functions"

func main() { functions.Serve("LoginFunction") }
