// Package api is the contract between the opm daemon and its clients: the
// types they exchange over the daemon's Unix socket, the rules both sides
// hold input to, and the one client every command uses. When the CLI
// checks something early, it calls the function here that the daemon
// calls too, so the two never drift.
//
// The wire format is JSON over HTTP/1.1 on <runtime>/opm.sock, under
// versioned paths, one request per connection (daemon/wire). Errors are returned as an Error body with a
// machine-readable Code that clients map to exit statuses.
//
// Files:
//
//	types.go    requests and answers: StartRequest, Spec, App, DaemonStatus...
//	bytesafe.go their JSON form: argv, environment and paths as bytes, losslessly
//	paths.go    endpoints, file names in the runtime dir and OPM_HOME, Version
//	openapi.yaml the API in OpenAPI 3 (not in the binary; daemon's TestOpenAPIRoutes checks it against the routes)
//	errors.go   the Error body and its codes
//	limits.go   ranges of numbers and durations, the request and definition size caps
//	name.go     what an app name may be (CheckName), and what is an id
//	command.go  which command lines the daemon runs through a shell (NeedsShell)
//	signal.go   signals as users write them (ParseSignal, CheckSignal)
//	settings.go ranges of the per-app settings (CheckSettingMs, CheckExitCode)
//	feed.go     Event, what GET /v1/events streams and hooks get; its types
//	hooks.go    Hooks, the on_* settings (CheckHooks)
//	client.go   Client, the daemon's one client
//	stream.go   Client.Stream: an answer read as it comes (GET /v1/events)
//	peer.go     the uid at the other end of a socket (SO_PEERCRED), checked by both sides
package api
