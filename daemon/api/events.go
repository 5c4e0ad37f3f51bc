package api

// The events of daemon.log (its event= attribute) that commands read:
// `opm run` learns from them which apps to follow. The daemon writes them
// with these names.
const (
	EventStarted    = "started"     // a process of an app started
	EventAdopted    = "adopted"     // a live process taken over
	EventRemoved    = "removed"     // an app (or instance) removed
	EventRegistered = "registered"  // an app registered, not started
	EventUpdated    = "updated"     // an app's definition changed
	EventScaled     = "scaled"      // an app's instance count changed
	EventDaemonStop = "daemon-stop" // the daemon stops every app
	EventDaemonExit = "daemon-exit" // the daemon exits, apps left running
)
