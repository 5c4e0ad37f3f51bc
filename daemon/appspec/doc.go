// Package appspec turns what a user asked to start into an app's full
// definition (api.Spec), and checks definitions read back from a file:
// the command resolved the way a PM2 user expects (an interpreter by
// extension, a PATH lookup, a shell for shell syntax), relative paths
// found from the caller's directory, the daemon's defaults filled in, the
// log paths derived from the name, and every rule of daemon/api applied.
// It reads the file system but never the app table, so the API handlers
// build a definition before handing it to the supervisor.
//
// Files:
//
//	build.go    Build: a start request into a definition
//	resolve.go  the command: interpreter, PATH, shell; DefaultName
//	check.go    Check: a definition read from the dump or a record
package appspec
