package api

import "strings"

// AppTokenEnv names the variable that carries an app process's token
// (process.AppTokenEnv, the same name: package process imports this one,
// so it cannot be named from here).
const AppTokenEnv = "OPM_APP_TOKEN"

// ServiceEnv names the variables that a service manager sets for the
// process it runs (sd_notify's NOTIFY_SOCKET, WATCHDOG_USEC and
// WATCHDOG_PID; ServiceEnvName, which the units of `opm startup` set) or
// that opm sets for its own processes (ReadyFDEnv for the daemon a
// command starts, AppTokenEnv for each app). Each describes one process
// and who runs it: none is passed on to another process (an app, a
// daemon started by a command), nor written into what `opm export`
// writes. The daemon sets NOTIFY_SOCKET again for an app that waits for
// readiness, its own socket.
var ServiceEnv = []string{
	NotifySocketEnv, "WATCHDOG_USEC", "WATCHDOG_PID",
	ServiceEnvName, ReadyFDEnv, AppTokenEnv,
}

// IsServiceEnv reports whether kv, a "NAME=value" entry of an
// environment (or a bare NAME), sets one of ServiceEnv.
func IsServiceEnv(kv string) bool {
	name, _, _ := strings.Cut(kv, "=")
	for _, s := range ServiceEnv {
		if name == s {
			return true
		}
	}
	return false
}

// WithoutServiceEnv returns the entries of env that set none of
// ServiceEnv, in their order.
func WithoutServiceEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !IsServiceEnv(kv) {
			out = append(out, kv)
		}
	}
	return out
}
