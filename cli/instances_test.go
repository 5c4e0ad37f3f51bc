package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

// parseStart parses a command line of `opm start` as the app does and
// applies its setting flags to a new app's request; given says whether
// they count as settings (settingsGiven).
func parseStart(t *testing.T, args ...string) (req api.StartRequest, given bool, err error) {
	t.Helper()
	app := &ucli.App{
		Name:           "opm",
		ExitErrHandler: func(*ucli.Context, error) {},
		Writer:         &bytes.Buffer{},
		ErrWriter:      &bytes.Buffer{},
		Commands: []*ucli.Command{{
			Name:  "start",
			Flags: settingFlags(),
			Action: func(c *ucli.Context) error {
				req = api.StartRequest{Command: "app.js", Restart: api.RestartAlways}
				given = settingsGiven(c)
				return applySettings(c, &req, false)
			},
		}},
	}
	err = app.Run(reorderArgs(app, append([]string{"opm", "start", "app.js"}, args...)))
	return req, given, err
}

// -i/--instances is a setting: a number, max or 0 for one per CPU, -1
// for one less; --increment-var names a variable; both are settings
// given, as --merge-logs is.
func TestInstanceFlags(t *testing.T) {
	cpus := runtime.NumCPU()
	for _, c := range []struct {
		args []string
		want api.Settings
	}{
		{[]string{"-i", "4"}, api.Settings{Instances: 4}},
		{[]string{"--instances", "max"}, api.Settings{Instances: cpus}},
		{[]string{"--instances=0"}, api.Settings{Instances: cpus}},
		{[]string{"-i", "-1"}, api.Settings{Instances: max(cpus-1, 1)}},
		{[]string{"-i", "2", "--increment-var", "PORT"}, api.Settings{Instances: 2, IncrementVar: "PORT"}},
		{[]string{"--increment-var="}, api.Settings{}},
		{[]string{"-i", "3", "--merge-logs"}, api.Settings{Instances: 3, LogSettings: api.LogSettings{MergeLogs: true}}},
	} {
		req, given, err := parseStart(t, c.args...)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if !given {
			t.Errorf("%q: not settings given", c.args)
		}
		if req.Settings.Instances != c.want.Instances || req.IncrementVar != c.want.IncrementVar || req.MergeLogs != c.want.MergeLogs || req.Pending != nil {
			t.Errorf("%q: settings %+v, want %+v", c.args, req.Settings, c.want)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "many"}, `invalid --instances "many": give a number of processes, or max for one per CPU`},
		{[]string{"-i", "2.5"}, `invalid --instances "2.5": give a number of processes`},
		{[]string{"-i", "-3"}, "invalid --instances: instances must be between 1 and"},
		{[]string{"-i", "5000"}, "invalid --instances: instances must be between 1 and"},
		{[]string{"-i", "+2"}, "use opm scale NAME +2"},
		{[]string{"--increment-var", "PORT=3000"}, `invalid --increment-var "PORT=3000" is not an environment variable name`},
		{[]string{"-i"}, "flag needs an argument"},
	} {
		_, _, err := parseStart(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error containing %q", c.args, err, c.want)
			continue
		}
		if strings.Contains(c.want, "invalid") && ExitCode(err) != ExitUsage {
			t.Errorf("%q: exit code %d, want %d (usage)", c.args, ExitCode(err), ExitUsage)
		}
	}
	if _, given, _ := parseStart(t); given {
		t.Error("no flags: settings given")
	}
	if pm2Flag("instances") || pm2Flag("i") || pm2Flag("increment-var") {
		t.Error("a flag opm has is listed as a PM2 flag it lacks")
	}
}

// opm scale takes one app's name and a count: N, +N, -N or max.
func TestScaleArgs(t *testing.T) {
	for _, c := range [][2]string{{"web", "4"}, {"web", "+2"}, {"web", "-1"}, {"web", "max"}, {"web", "0"}, {" web ", "1"}} {
		if err := scaleArgs(strings.TrimSpace(c[0]), c[1]); err != nil {
			t.Errorf("scale %q %q: %v", c[0], c[1], err)
		}
	}
	for _, c := range []struct{ name, count, want string }{
		{"3", "4", "not an id"},
		{"web,api", "2", "one app at a time"},
		{"all", "2", "one app at a time"},
		{",", "2", "no app given"},
		{"web", "many", `instances "many": give a number of processes`},
		{"web", "5000", "between 1 and"},
		{"web", "+5000", "between 1 and"},
		{"web", "-2", ""}, // relative: the daemon's to check against the count
	} {
		err := scaleArgs(c.name, c.count)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("scale %q %q: %v", c.name, c.count, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || ExitCode(err) != ExitUsage):
			t.Errorf("scale %q %q: %v, want a usage error containing %q", c.name, c.count, err, c.want)
		}
	}
}

// opm scale is a command, and -1 is its count, not a flag.
func TestScaleCommandArgs(t *testing.T) {
	var out, errOut bytes.Buffer
	a := NewApp(Options{Stdout: &out, Stderr: &errOut})
	// Never a daemon: a command that gets as far as to call one fails.
	a.conn.once.Do(func() {})
	a.conn.err = errors.New("test: no daemon")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"opm", "scale"}, "opm scale needs an app's name and a number of instances"},
		{[]string{"opm", "scale", "web"}, "opm scale needs a number of instances after the app's name (e.g. opm scale web 4"},
		{[]string{"opm", "scale", "web", "2", "3"}, "got 3 arguments: web 2 3"},
		{[]string{"opm", "scale", "web", "--", "2"}, "opm scale takes no arguments after '--'"},
	} {
		err := a.Run(t.Context(), c.args)
		if err == nil || ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want a usage error containing %q", c.args, err, c.want)
		}
	}
	if err := a.Run(t.Context(), []string{"opm", "scale", "web", "-1"}); err == nil || !strings.Contains(err.Error(), "test: no daemon") {
		t.Errorf("opm scale web -1: %v, want it to call the daemon", err)
	}
	if err := a.Run(t.Context(), []string{"opm", "scale", "7", "-1"}); err == nil || !strings.Contains(err.Error(), "not an id") {
		t.Errorf("opm scale 7 -1: %v, want the id refused (-1 read as the count)", err)
	}
}

// Each instance of an app of several is its own row, its name with its
// instance id; an app of one keeps its plain name.
func TestRenderInstances(t *testing.T) {
	var b bytes.Buffer
	renderApps(&b, []api.App{
		{ID: 0, Name: "web", Instance: 0, Instances: 2, Status: api.StatusOnline, PID: 10},
		{ID: 1, Name: "web", Instance: 1, Instances: 2, Status: api.StatusOnline, PID: 11},
		{ID: 2, Name: "job", Instances: 1, Status: api.StatusStopped},
		{ID: 3, Name: "old\x1b", Status: api.StatusStopped}, // no count: an app of one
	})
	out := b.String()
	for _, want := range []string{" web:0 ", " web:1 ", " job ", ` old\x1b `} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "job:") || strings.Contains(out, "old\\x1b:") {
		t.Errorf("an app of one instance labelled with its id:\n%s", out)
	}
}

// opm info says which instance a row is, of how many, and what its
// increment_var is for it; instances kept by an older opm are not shown
// as pending.
func TestInfoInstances(t *testing.T) {
	app := api.App{ID: 7, Name: "web", Instance: 2, Instances: 4, Spec: api.Spec{
		Name: "web", Instance: 2, Env: []string{"PORT=3000", "A=1"},
		Settings: api.Settings{Instances: 4, IncrementVar: "PORT", Pending: map[string]json.RawMessage{
			"instances": json.RawMessage(`4`), "exec_mode": json.RawMessage(`"cluster"`),
		}},
	}}
	var b bytes.Buffer
	renderInfo(&b, app)
	out := b.String()
	for _, want := range []string{"web:2 (id 7)", "4 (this is instance 2)", "PORT (this instance: PORT=3002)", "NODE_APP_INSTANCE (this instance: NODE_APP_INSTANCE=2)", "opm env 7", "opm runs each instance as a process of its own"} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "not yet supported") {
		t.Errorf("info shows a setting as not yet supported:\n%s", out)
	}
	rows := instanceRows(api.App{Name: "one", Instances: 1})
	if len(rows) != 0 {
		t.Errorf("rows for an app of one instance: %v", rows)
	}
	rows = instanceRows(api.App{Name: "web", Instances: 1, Spec: api.Spec{Settings: api.Settings{IncrementVar: "PORT"}}})
	if len(rows) != 1 || !strings.Contains(rows[0][1].(string), "no PORT") {
		t.Errorf("increment_var without the variable: %v", rows)
	}
}

// opm logs: each instance's own files, prefixed with its label; files
// the instances share (merge_logs) read once, prefixed with the name.
func TestLogSourcesInstances(t *testing.T) {
	row := func(id, i, n int, name, out, err string) api.App {
		return api.App{ID: id, Name: name, Instance: i, Instances: n, Spec: api.Spec{Name: name, Instance: i, OutLog: out, ErrLog: err}}
	}
	apps := []api.App{
		row(0, 0, 2, "web", "/l/web-out.log", "/l/web-err.log"),
		row(1, 1, 2, "web", "/l/web-out-1.log", "/l/web-err-1.log"),
		row(2, 0, 3, "api", "/l/api-out.log", "/l/api-err.log"),
		row(3, 1, 3, "api", "/l/api-out.log", "/l/api-err.log"),
		row(4, 2, 3, "api", "/l/api-out.log", "/l/api-err.log"),
		row(5, 0, 1, "job", "/l/job-out.log", api.DevNull),
	}
	// One instance of an app that merges its logs: the file is all of
	// theirs.
	merged := row(2, 1, 3, "api", "/l/api-out.log", "/l/api-err.log")
	merged.Spec.MergeLogs = true
	if one := logSources([]api.App{merged}, true, false); len(one) != 1 || one[0].label != "api" || one[0].instance != nil {
		t.Errorf("merged logs of one instance: %+v", one[0])
	}
	srcs := logSources(apps, true, true)
	var got []string
	for _, s := range srcs {
		inst := "-"
		if s.instance != nil {
			inst = strings.Repeat("#", *s.instance+1)
		}
		got = append(got, s.label+" "+s.stream+" "+s.path+" "+inst)
	}
	want := []string{
		"web:0 out /l/web-out.log #",
		"web:0 err /l/web-err.log #",
		"web:1 out /l/web-out-1.log ##",
		"web:1 err /l/web-err-1.log ##",
		"api out /l/api-out.log -",
		"api err /l/api-err.log -",
		"job out /l/job-out.log -",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sources:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	out, _ := printed(logOptions{}, func(p *logPrinter) {
		p.print(srcs[2], []byte("hello"), time.Time{})
		p.print(srcs[4], []byte("merged"), time.Time{})
	})
	if out != "web:1 | hello\napi | merged\n" {
		t.Errorf("printed %q", out)
	}
	out, _ = printed(logOptions{json: true}, func(p *logPrinter) {
		p.print(srcs[2], []byte("hello"), time.Time{})
		p.print(srcs[4], []byte("merged"), time.Time{})
	})
	if out != `{"app":"web","instance":1,"stream":"out","message":"hello"}`+"\n"+`{"app":"api","stream":"out","message":"merged"}`+"\n" {
		t.Errorf("--json printed %s", out)
	}
}

// The daemon answers a start with one app; one of several instances has
// its other rows fetched. An answer that is a list is read too.
func TestDecodeApps(t *testing.T) {
	one, err := decodeApps(json.RawMessage(`{"id": 3, "name": "web", "instances": 2}`))
	if err != nil || len(one) != 1 || one[0].ID != 3 || one[0].Instances != 2 {
		t.Errorf("one app: %+v, %v", one, err)
	}
	list, err := decodeApps(json.RawMessage(` [{"id": 3}, {"id": 4}]`))
	if err != nil || len(list) != 2 || list[1].ID != 4 {
		t.Errorf("a list: %+v, %v", list, err)
	}
	if _, err := decodeApps(json.RawMessage(`"x"`)); err == nil {
		t.Error("a string read as an app")
	}
}
