package api

import (
	"fmt"
	"net/url"
	"path/filepath"
)

// Version is opm's version, reported by `opm version` and the daemon.
var Version = "0.1.0-dev"

// File names inside the runtime directory (tmpfs) and OPM_HOME.
const (
	SocketName    = "opm.sock"
	DaemonLogName = "daemon.log"
	DumpName      = "dump.json"
	LogsDir       = "logs"
)

// SocketPath is the daemon's socket inside runtimeDir.
func SocketPath(runtimeDir string) string { return filepath.Join(runtimeDir, SocketName) }

// MaxSocketPath is the longest socket path the kernel accepts: sun_path
// holds 108 bytes including the terminating NUL.
const MaxSocketPath = 107

// CheckSocketPath refuses a socket path too long to bind or connect to.
func CheckSocketPath(path string) error {
	if len(path) > MaxSocketPath {
		return fmt.Errorf("socket path %s is %d bytes, more than the %d a Unix socket allows (set OPM_RUNTIME_DIR to a shorter directory)", path, len(path), MaxSocketPath)
	}
	return nil
}

// Endpoints. Targets are path-escaped with TargetPath.
//
//	GET    /v1/apps[?summary=1]        -> []App, every app (sampled)
//	POST   /v1/apps                    StartRequest -> App
//	GET    /v1/apps/{target}[?summary=1] -> []App (sampled)
//	DELETE /v1/apps/{target}           -> []App (the removed apps)
//	POST   /v1/apps/{target}/{action}  action: start|stop|restart|reload|reset -> []App
//	POST   /v1/apps/{target}/signal?signal=SIGUSR2 -> []App
//	POST   /v1/flush                   FlushRequest -> []App
//	GET    /v1/daemon                  -> DaemonStatus
//	POST   /v1/daemon/stop             -> DaemonStatus (then the daemon exits)
//	POST   /v1/save                    -> SaveResult
//	POST   /v1/restore                 -> RestoreResult
//	GET    /metrics                    -> Prometheus text format (sampled)
//
// daemon/api/openapi.yaml documents every endpoint.
const (
	PathMetrics = "/metrics"
	PathApps    = "/v1/apps"
	PathFlush   = "/v1/flush"
	PathDaemon  = "/v1/daemon"
	PathStop    = "/v1/daemon/stop"
	PathSave    = "/v1/save"
	PathRestore = "/v1/restore"
)

// With the query parameter summary=1 (SummaryParam) a listing leaves out
// each app's environment (Spec.Env, kilobytes per app): what a table
// needs, fast with a thousand apps. Without it apps come in full.
const SummaryParam = "summary"

// StopRequest is the optional body of POST PathStop: KeepApps leaves
// the apps running for the next daemon to adopt (`opm daemon restart`).
// KeepAppsParam gives the same as a query parameter (?keep_apps=1).
type StopRequest struct {
	KeepApps bool `json:"keep_apps"`
}

// KeepAppsParam names StopRequest.KeepApps as a query parameter.
const KeepAppsParam = "keep_apps"

// SignalParam names the signal of POST /v1/apps/{target}/signal.
const SignalParam = "signal"

// SummaryPath is the listing of every app without environments.
const SummaryPath = PathApps + "?" + SummaryParam + "=1"

// TargetPath is the path of the apps named by target ("3", "web",
// "web,3", "all").
func TargetPath(target string) string { return PathApps + "/" + url.PathEscape(target) }
