// Command bootstrap is the cleanup group's AWS Lambda function: wiring only.
package main

import "authfn/functions"

func main() { functions.Serve("CleanupFunction") }
