package export

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"opm/cli/units"
	"opm/daemon/api"
)

// Systemd writes each app as a systemd service, opm-<name>.service.
//
// An app of N instances is one template unit, opm-<name>@.service, whose
// instances opm-<name>@0 … @N-1 are its processes, with the instance id
// (%i) in OPM_INSTANCE and the instance_var; what opm gives each instance
// of its own (its log files, its increment_var) is in a drop-in,
// opm-<name>@<i>.service.d/opm-instance.conf. A template rather than N
// units: one definition to change, enabled as opm-<name>@{0..N-1}, and
// scaled as opm scales, by enabling more instances.
//
// An app with cron_restart gets a timer, opm-<name>-restart.timer, that
// starts opm-<name>-restart.service, which restarts the app's units as
// opm's cron does: those that run (try-restart), and for restart never
// those that do not as well (restart).
func Systemd(rows []api.App, o Options) ([]File, error) {
	var files []File
	for _, a := range group(rows) {
		f, err := a.systemd(o)
		if err != nil {
			return nil, fmt.Errorf("export app %q as systemd units: %w", a.spec.Name, err)
		}
		files = append(files, f...)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if seen[f.Name] {
			return nil, fmt.Errorf("export as systemd units: two apps give the file %s (an app named like another's cron timer, <name>-restart): rename one", f.Name)
		}
		seen[f.Name] = true
	}
	return files, nil
}

// unitBase is the unit name of the app without its suffix: opm-<name>.
func (a app) unitBase() string { return "opm-" + units.EscapeName(a.spec.Name) }

// serviceName is the app's unit: opm-<name>.service, or the template
// opm-<name>@.service.
func (a app) serviceName() string {
	if a.count > 1 {
		return a.unitBase() + "@.service"
	}
	return a.unitBase() + ".service"
}

// instanceUnits are the units that run the app's processes.
func (a app) instanceUnits() []string {
	if a.count <= 1 {
		return []string{a.serviceName()}
	}
	out := make([]string, a.count)
	for i := range out {
		out[i] = a.unitBase() + "@" + strconv.Itoa(i) + ".service"
	}
	return out
}

// enableLine is the command line that enables and starts the app's
// units.
func (a app) enableLine() string {
	if a.count <= 1 {
		return "systemctl enable --now " + units.ShellQuote(a.serviceName())
	}
	return fmt.Sprintf("systemctl enable --now %s{0..%d}.service", units.ShellQuote(a.unitBase()+"@"), a.count-1)
}

// unitNames are the names of every unit the app's files define or
// instantiate: its service (each instance of a template), and the timer
// and service of its cron_restart.
func (a app) unitNames() []string {
	names := a.instanceUnits()
	if a.count > 1 {
		names = append(names, a.serviceName())
	}
	if a.spec.CronRestart != "" {
		names = append(names, a.unitBase()+"-restart.timer", a.unitBase()+"-restart.service")
	}
	return names
}

func (a app) systemd(o Options) ([]File, error) {
	s := a.spec
	name := a.serviceName()
	for _, n := range a.unitNames() {
		if err := units.CheckUnitName(n); err != nil {
			return nil, fmt.Errorf("%w: shorten the app's name", err)
		}
	}
	exec, err := units.ExecLine(s.Exec, s.Argv)
	if err != nil {
		return nil, err
	}
	sig, err := a.killSignal()
	if err != nil {
		return nil, err
	}
	u := &units.Unit{Header: []string{
		fmt.Sprintf("opm app %s, exported by 'opm export --format systemd' (opm %s).", s.Name, o.Version),
	}}
	if a.count > 1 {
		u.Header = append(u.Header,
			fmt.Sprintf("It has %d instances in opm: this template runs each, %s0 to %s%d.", a.count, a.unitBase()+"@", a.unitBase()+"@", a.count-1))
	}
	u.Header = append(u.Header,
		"Install: copy the files to /etc/systemd/system/, then",
		"  systemctl daemon-reload && "+a.enableLine())
	var timer []File
	if s.CronRestart != "" {
		if timer, err = a.restartTimer(o); err != nil {
			return nil, err
		}
		u.Header = append(u.Header, fmt.Sprintf("cron_restart: enable %s too.", units.ShellQuote(a.unitBase()+"-restart.timer")))
	}
	if notes := a.notMapped(FormatSystemd); len(notes) > 0 {
		u.Header = append(u.Header, `Not mapped (systemd has no equivalent; see opm's README, "Moving to systemd or Nomad"):`)
		for _, n := range notes {
			u.Header = append(u.Header, "  - "+n)
		}
	}

	unit := u.Section("Unit")
	unit.Set("Description", units.Text("opm app "+s.Name))
	unit.Set("After", "network.target")
	restart := map[string]string{api.RestartAlways: "always", api.RestartOnFailure: "on-failure", api.RestartNever: "no"}[s.Restart]
	if restart == "" {
		restart = "always"
	}
	if restart != "no" {
		unit.Comment(fmt.Sprintf("max_restarts %d, min_uptime %s: at most %d starts in this window (opm counts restarts after runs shorter than min_uptime).",
			s.MaxRestarts, a.restartWindow(), max(s.MaxRestarts, 0)+1))
		unit.Set("StartLimitIntervalSec", units.Span((a.restartInterval() + time.Second - 1).Truncate(time.Second)))
		unit.Set("StartLimitBurst", strconv.Itoa(max(s.MaxRestarts, 0)+1))
	}

	svc := u.Section("Service")
	if s.WaitReady {
		svc.Comment("wait_ready: the app says READY=1 on $NOTIFY_SOCKET, from any of its processes.")
		svc.Set("Type", "notify")
		svc.Set("NotifyAccess", "all")
	} else {
		svc.Set("Type", "exec")
	}
	if o.User != "" && o.User != "root" {
		svc.Set("User", units.Text(o.User))
		if o.Group != "" {
			svc.Set("Group", units.Text(o.Group))
		}
	}
	if s.Cwd != "" {
		if p, err := units.Path(s.Cwd); err == nil {
			svc.Set("WorkingDirectory", p)
		} else {
			svc.Comment("cwd not mapped: " + err.Error())
		}
	}
	env, err := a.env(a.count <= 1, 0)
	if err != nil {
		return nil, err
	}
	setEnv(svc, env)
	if a.count > 1 {
		svc.Comment("The instance id, as opm sets it.")
		vars := []string{api.InstanceEnv}
		if v := a.spec.InstanceVarName(); v != api.InstanceEnv {
			vars = append(vars, v)
		}
		for _, k := range vars {
			if units.EnvName(k) {
				svc.Set("Environment", k+"=%i")
			} else {
				svc.Comment(fmt.Sprintf("instance_var %q not mapped: systemd takes letters, digits and _ only", k))
			}
		}
		if v := s.IncrementVar; v != "" {
			svc.Comment(fmt.Sprintf("increment_var %s: instance 0's value above; each instance's drop-in sets its own.", v))
		}
	}
	svc.Set("ExecStart", exec)
	svc.Set("Restart", restart)
	if restart == "on-failure" {
		svc.Comment("opm restarts an app that died of any signal; systemd's on-failure does not")
		svc.Comment("after these (a clean exit to it) unless told.")
		svc.Set("RestartForceExitStatus", "SIGHUP SIGINT SIGTERM SIGPIPE")
	}
	svc.Set("RestartSec", units.Span(a.restartDelay()))
	if codes := exitCodes(s.StopExitCodes); codes != "" {
		svc.Comment("stop_exit_codes: the app is done, not restarted.")
		svc.Set("SuccessExitStatus", codes)
		svc.Set("RestartPreventExitStatus", codes)
	}
	svc.Set("KillSignal", sig)
	if s.KillTimeoutMs <= 0 {
		svc.Comment("opm's default kill_timeout (systemd's own is 90s).")
	}
	svc.Set("TimeoutStopSec", units.Span(a.killTimeout()))
	perInstance := a.count > 1 && !s.MergeLogs
	if !perInstance {
		logLines(svc, a, o, 0)
	}
	u.Section("Install").Set("WantedBy", "multi-user.target")

	files := []File{{Name: name, Data: []byte(u.String())}}
	if a.count > 1 && (perInstance || s.IncrementVar != "") {
		for i := range a.count {
			f, err := a.dropIn(o, i, perInstance)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
	}
	return append(files, timer...), nil
}

// dropIn is what instance i of a template has of its own: its log files
// and its increment_var.
func (a app) dropIn(o Options, i int, logs bool) (File, error) {
	u := &units.Unit{Header: []string{fmt.Sprintf("Instance %d of opm app %s: what opm gives this instance of its own.", i, a.spec.Name)}}
	svc := u.Section("Service")
	if v := a.spec.IncrementVar; v != "" {
		env, err := a.env(true, i)
		if err != nil {
			return File{}, err
		}
		var own []string
		for _, kv := range env {
			if k, _, _ := strings.Cut(kv, "="); k == v {
				own = append(own, kv)
			}
		}
		setEnv(svc, own)
	}
	if logs {
		logLines(svc, a, o, i)
	}
	return File{Name: fmt.Sprintf("%s@%d.service.d/opm-instance.conf", a.unitBase(), i), Data: []byte(u.String())}, nil
}

// setEnv writes an Environment= line for each variable, and a comment
// for each that systemd cannot hold.
func setEnv(svc *units.Section, env []string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case !units.EnvName(k):
			svc.Comment(fmt.Sprintf("environment variable %q not mapped: systemd takes letters, digits and _ only", k))
		case !utf8.ValidString(v):
			svc.Comment(fmt.Sprintf("environment variable %s not mapped: its value is not UTF-8, which systemd refuses", k))
		default:
			svc.Set("Environment", units.Word(kv))
		}
	}
}

// logLines sends instance i's output where opm sends it.
func logLines(svc *units.Section, a app, o Options, i int) {
	out, errLog, _ := a.logFiles(o, i)
	for _, l := range []struct{ key, path string }{{"StandardOutput", out}, {"StandardError", errLog}} {
		switch {
		case l.path == "":
		case l.path == api.DevNull:
			svc.Set(l.key, "null")
		default:
			p, err := units.Path(l.path)
			if err != nil {
				svc.Comment(l.key + " not mapped: " + err.Error())
				continue
			}
			svc.Set(l.key, "append:"+p)
		}
	}
}

// exitCodes are stop_exit_codes as systemd lists exit statuses.
func exitCodes(codes []int) string {
	var out []string
	for _, c := range codes {
		if c >= 0 && c <= 255 && !slices.Contains(out, strconv.Itoa(c)) {
			out = append(out, strconv.Itoa(c))
		}
	}
	return strings.Join(out, " ")
}

// restartTimer is the timer and service that restart the app at each
// time of its cron_restart.
func (a app) restartTimer(o Options) ([]File, error) {
	s := a.spec
	cal, err := units.CronCalendar(s.CronRestart)
	if err != nil {
		return nil, err
	}
	base := a.unitBase() + "-restart"
	// opm's cron restarts a running app, and starts a stopped one only
	// for restart never (a periodic job) unless a user stopped it.
	verb, what := "try-restart", []string{
		"restarts the app at each of these times if it is running (systemctl try-restart),",
		"as opm restarts only a running app: a stopped or failed unit stays so.",
	}
	if s.Restart == api.RestartNever {
		verb, what = "restart", []string{
			"restarts the app at each of these times, and starts it if it is not running",
			"(systemctl restart), as opm starts a periodic job (restart never). Unlike opm,",
			"systemd cannot tell a unit you stopped from one that ended: to keep the app",
			"stopped, stop this timer too.",
		}
	}
	t := &units.Unit{Header: append(append([]string{
		fmt.Sprintf("cron_restart %q of opm app %s, exported by 'opm export --format systemd' (opm %s):", s.CronRestart, s.Name, o.Version),
	}, what...),
		"Enable it: systemctl enable --now "+units.ShellQuote(base+".timer"),
	)}
	t.Section("Unit").Set("Description", units.Text("Restart opm app "+s.Name+" (cron_restart)"))
	timer := t.Section("Timer")
	if cal.Every > 0 {
		timer.Set("OnActiveSec", units.Span(cal.Every))
		timer.Set("OnUnitActiveSec", units.Span(cal.Every))
	}
	for _, c := range cal.OnCalendar {
		timer.Set("OnCalendar", c)
	}
	timer.Comment("On time to the second, as cron (systemd's default lets a timer be a minute late).")
	timer.Set("AccuracySec", "1s")
	t.Section("Install").Set("WantedBy", "timers.target")

	svc := &units.Unit{Header: []string{fmt.Sprintf("Started by %s.timer: systemctl %s of opm app %s (see the timer).", base, verb, s.Name)}}
	svc.Section("Unit").Set("Description", units.Text("Restart opm app "+s.Name))
	ss := svc.Section("Service")
	ss.Set("Type", "oneshot")
	ss.Set("ExecStart", "systemctl "+verb+" "+units.Args(a.instanceUnits()))
	return []File{{Name: base + ".timer", Data: []byte(t.String())}, {Name: base + ".service", Data: []byte(svc.String())}}, nil
}
