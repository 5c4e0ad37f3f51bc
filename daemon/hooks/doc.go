// Package hooks runs the commands and webhooks that config.toml's
// [hooks] and an app's own hook settings (api.Hooks) name, when their
// events happen.
//
// Fire never blocks: it queues the run (a bounded queue; a run that does
// not fit is dropped and logged) and returns. At most Workers runs go at
// once, each on a worker goroutine started the first time a hook fires
// (a daemon without hooks has none). A run has a timeout: a command is
// killed with its process group when it passes it; a URL hook is tried
// again, after a back-off doubling from RetryDelay, up to Retries more
// times. A run that fails for good is logged once in daemon.log
// (event=hook-failed). The supervisor never waits for a hook.
//
// A URL hook is a plain http:// POST made with daemon/wire's client over
// net.Dial: net/http's Transport would link TLS into the binary.
//
// Files:
//
//	hooks.go    Runner: the queue, the workers, retries
//	command.go  a command hook: /bin/sh -c, the event in the environment
//	webhook.go  a URL hook: the POST, and its json, slack or discord body
package hooks
