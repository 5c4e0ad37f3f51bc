package ecosystem

import (
	"fmt"
	"strconv"
	"strings"
)

// noteKind is what a warning is about.
type noteKind int

const (
	noteUnknown    noteKind = iota // an app's key opm does not know
	noteSIGINT                     // PM2's kill signal applied
	noteDeploy                     // PM2's deploy section
	noteUnknownTop                 // a top-level key opm does not know
	noteCluster                    // PM2's exec_mode cluster, kept but run as fork
	noteSameName                   // PM2 dump: processes of one name, not one app
)

// ExecModeNote says how opm runs what PM2 would run in cluster mode.
const ExecModeNote = "opm runs each instance as a process of its own, as PM2's fork mode does (no Node cluster module): instances that listen on one port need SO_REUSEPORT, or a port each (increment_var)"

// note is one fact a warning reports, where it was met.
type note struct {
	kind noteKind
	key  string
	line int
}

// warnings turns the notes of the file and of the apps kept into the
// file's warnings: one per key (one for PM2's kill signal), naming the
// apps it concerns and the first line it is met on.
func (l *loader) warnings(apps []*decoded) []string {
	var out []string
	for _, n := range l.fileNotes {
		switch n.kind {
		case noteDeploy:
			out = append(out, l.at(n.line)+"deploy is PM2's deployment setup, which opm does not do: ignored")
		case noteUnknownTop:
			out = append(out, l.at(n.line)+fmt.Sprintf("unknown top-level key %q: ignored (the file's apps go under apps)", n.key))
		case noteSameName:
			out = append(out, l.at(n.line)+fmt.Sprintf("PM2 ran processes named %q with different scripts, which opm cannot keep under one name: the first is imported, not this one (start it under a name of its own)", n.key))
		}
	}
	type group struct {
		note
		apps []string
	}
	var groups []*group
	byKey := map[note]*group{}
	for _, a := range apps {
		for _, n := range a.notes {
			k := note{kind: n.kind, key: n.key}
			g := byKey[k]
			if g == nil {
				g = &group{note: n}
				byKey[k] = g
				groups = append(groups, g)
			}
			g.apps = append(g.apps, a.Name)
		}
	}
	for _, g := range groups {
		apps := appList(g.apps)
		switch g.kind {
		case noteUnknown:
			if l.format == FormatPM2Dump {
				out = append(out, l.at(g.line)+fmt.Sprintf("%q (%s) is a PM2 setting opm does not know: not imported", g.key, apps))
				break
			}
			out = append(out, l.at(g.line)+fmt.Sprintf("unknown key %q (%s): ignored; check its spelling (opm reads PM2's key names)", g.key, apps))
		case noteCluster:
			out = append(out, l.at(g.line)+fmt.Sprintf("exec_mode cluster (%s) is kept but not acted on: %s", apps, ExecModeNote))
		case noteSIGINT:
			verb := "stops"
			if len(g.apps) > 1 {
				verb = "stop"
			}
			change := "set kill_signal to change it"
			if l.format == FormatPM2Dump {
				change = "change it with opm start NAME --kill-signal SIGNAL"
			}
			out = append(out, l.at(0)+fmt.Sprintf("%s %s with SIGINT, as under PM2; %s", apps, verb, change))
		}
	}
	if l.o.Env != "" {
		found := false
		for _, a := range apps {
			found = found || a.hasEnv
		}
		if !found {
			out = append(out, l.at(0)+fmt.Sprintf("--env %s: no app defines env_%s, so the apps get their env only", l.o.Env, l.o.Env))
		}
	}
	return out
}

// at is a warning's prefix: the file, and the line when known.
func (l *loader) at(line int) string {
	if line > 0 {
		return l.file + ":" + strconv.Itoa(line) + ": "
	}
	return l.file + ": "
}

// appList names apps: app "web", or apps "web", "api".
func appList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	if len(q) == 1 {
		return "app " + q[0]
	}
	return "apps " + strings.Join(q, ", ")
}
