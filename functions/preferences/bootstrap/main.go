// Command bootstrap is the preferences group's AWS Lambda function: wiring only.
package main

import "authfn/functions"

func main() { functions.Serve("PreferencesFunction") }
