// Command bootstrap is the users group's AWS Lambda function: wiring only.
package main

import "authfn/functions/lambdamain"

func main() { lambdamain.Serve("UsersFunction") }
