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
// starts opm-<name>-restart.service, which restarts the app's units.
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

func (a app) systemd(o Options) ([]File, error) {
	s := a.spec
	name := a.serviceName()
	if err := units.CheckUnitName(name); err != nil {
		return nil, err
	}
	exec, err := units.ExecLine(s.Exec, s.Argv)
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
		if v := a.instanceVar(); v != api.InstanceEnv {
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
	svc.Set("RestartSec", units.Span(a.restartDelay()))
	if codes := exitCodes(s.StopExitCodes); codes != "" {
		svc.Comment("stop_exit_codes: the app is done, not restarted.")
		svc.Set("SuccessExitStatus", codes)
		svc.Set("RestartPreventExitStatus", codes)
	}
	svc.Set("KillSignal", a.killSignal())
	if s.KillTimeoutMs > 0 {
		svc.Set("TimeoutStopSec", units.Span(ms(s.KillTimeoutMs)))
	}
	perInstance := a.count > 1 && !s.MergeLogs
	if !perInstance {
		logLines(svc, a, o, 0)
	}
	if s.MaxMemoryRestart > 0 {
		svc.Comment(fmt.Sprintf("max_memory_restart %s is not mapped: opm restarts the app when the RSS of", api.FormatSize(s.MaxMemoryRestart)))
		svc.Comment("its processes stays over it. MemoryMax= has the kernel kill it at that much")
		svc.Comment("memory (page cache included), then Restart= starts it again:")
		svc.Comment("MemoryMax=" + api.FormatSize(s.MaxMemoryRestart))
	}
	if s.Watch || len(s.WatchPaths) > 0 {
		svc.Comment("watch is not mapped: systemd does not restart a service when its files change.")
	}
	if s.ExpBackoffRestartDelayMs > 0 && s.RestartDelayMs == 0 {
		svc.Comment("exp_backoff_restart_delay: a constant RestartSec; systemd 254's RestartSteps= and")
		svc.Comment("RestartMaxDelaySec= would make it grow.")
	}
	if s.WaitReady && s.ListenTimeoutMs > 0 {
		svc.Comment("listen_timeout is not mapped: opm takes an app that is not ready by then as")
		svc.Comment("online; TimeoutStartSec= would fail its start.")
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
	out, errLog, combined := a.logFiles(o.Home, i)
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
	if combined != "" {
		svc.Comment(fmt.Sprintf("log_file %s is not mapped: systemd writes each stream to one place.", combined))
	}
	svc.Comment("Not rotated as opm rotates them (log_max_size): use logrotate, or drop")
	svc.Comment("StandardOutput= and StandardError= for the journal.")
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
	t := &units.Unit{Header: []string{
		fmt.Sprintf("cron_restart %q of opm app %s, exported by 'opm export --format systemd' (opm %s):", s.CronRestart, s.Name, o.Version),
		"restarts the app (starts it if it is stopped) at each of these times.",
		"Enable it: systemctl enable --now " + units.ShellQuote(base+".timer"),
	}}
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

	svc := &units.Unit{Header: []string{fmt.Sprintf("Started by %s.timer: restarts opm app %s.", base, s.Name)}}
	svc.Section("Unit").Set("Description", units.Text("Restart opm app "+s.Name))
	ss := svc.Section("Service")
	ss.Set("Type", "oneshot")
	ss.Set("ExecStart", "systemctl restart "+units.Args(a.instanceUnits()))
	return []File{{Name: base + ".timer", Data: []byte(t.String())}, {Name: base + ".service", Data: []byte(svc.String())}}, nil
}
