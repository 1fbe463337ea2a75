// Command bootstrap is the users group's AWS Lambda function: wiring only.
package main

import "authfn/functions"

func main() { functions.Serve("UsersFunction") }
