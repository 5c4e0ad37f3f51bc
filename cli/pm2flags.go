package cli

// pm2Flags are the flags of PM2's commands that opm does not have (yet):
// an unknown flag among them is reported as such, so that a PM2 user
// learns it is missing rather than mistyped. A flag opm gains leaves the
// list.
var pm2Flags = map[string]bool{
	"log-type": true, "f": true, "force": true,
	"namespace": true, "no-daemon": true, "no-treekill": true,
	"shutdown-with-message": true, "port": true, "append-env-to-name": true,
	"source-map-support": true, "disable-source-map-support": true,
	"deep-monitoring": true, "nostream": true, "highlight": true,
}

// pm2Flag reports whether name is a PM2 flag opm does not have.
func pm2Flag(name string) bool { return pm2Flags[name] }
