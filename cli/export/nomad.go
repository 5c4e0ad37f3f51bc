package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"opm/daemon/api"
)

// nomadMinInterval is the shortest restart interval Nomad accepts.
const nomadMinInterval = 5 * time.Second

// Nomad writes the apps as one Nomad job, {"Job": {...}} as
// `nomad job run -json` and the jobs API take it: the job opm-<host> (or
// opm-<Options.Job>), of type service, with a task group per app (Count:
// its instances) of one task that runs the app's command with its
// environment, under Options.Driver (raw_exec: on the host as Nomad's
// user; exec: isolated). Each group restarts its task as opm restarts
// the app and, as opm leaves an errored app stopped, is not rescheduled
// once its restarts are spent. What a job has no equivalent for is kept
// in the task's Meta (opm_*), so that nothing is lost silently.
func Nomad(rows []api.App, o Options) ([]byte, error) {
	name := o.Job
	if name == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "apps"
		}
		name = h
	}
	id := "opm-" + strings.Map(func(r rune) rune {
		if r == ' ' || r == '/' || r < 0x20 || r == 0x7f {
			return '-'
		}
		return r
	}, name)
	driver := o.Driver
	if driver == "" {
		driver = DriverRawExec
	}
	job := &nomadJob{
		ID:          &id,
		Name:        &id,
		Type:        new("service"),
		Datacenters: []string{"*"},
		Meta:        map[string]string{"opm_exported_by": "opm export --format nomad (opm " + o.Version + ")"},
	}
	for _, a := range group(rows) {
		g, err := a.nomadGroup(driver)
		if err != nil {
			return nil, fmt.Errorf("export app %q as a Nomad task group: %w", a.spec.Name, err)
		}
		job.TaskGroups = append(job.TaskGroups, g)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct{ Job *nomadJob }{job}); err != nil {
		return nil, fmt.Errorf("encode the Nomad job: %w", err)
	}
	return b.Bytes(), nil
}

func (a app) nomadGroup(driver string) (*nomadGroup, error) {
	s := a.spec
	if len(s.Argv) == 0 || s.Exec == "" {
		return nil, fmt.Errorf("no command")
	}
	// Neither driver has a working directory: the task runs from its
	// own. A shell enters the app's, then runs the command as it is.
	command, args := s.Exec, s.Argv[1:]
	if s.Cwd != "" {
		command = "/bin/sh"
		args = append([]string{"-c", `cd "$0" && exec "$@"`, s.Cwd, s.Exec}, s.Argv[1:]...)
	}
	env, err := a.env(false, 0)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	// Nomad numbers a group's allocations from 0, as opm its instances.
	vars[api.InstanceEnv] = "${NOMAD_ALLOC_INDEX}"
	vars[a.spec.InstanceVarName()] = "${NOMAD_ALLOC_INDEX}"
	if err := checkUTF8(command, args, vars); err != nil {
		return nil, err
	}
	sig, err := a.killSignal()
	if err != nil {
		return nil, err
	}
	task := &nomadTask{
		Name:        s.Name,
		Driver:      driver,
		Config:      map[string]any{"command": command, "args": args},
		Env:         vars,
		KillSignal:  sig,
		KillTimeout: new(a.killTimeout()),
		Meta:        map[string]string{},
	}
	if _, err := strconv.Atoi(sig); err == nil {
		task.KillSignal = "SIGTERM" // a real-time signal: Nomad takes names only (notMapped)
	}
	if s.Cwd != "" {
		task.Meta["opm_cwd"] = s.Cwd
	}
	if s.CronRestart != "" {
		task.Meta["opm_cron_restart"] = s.CronRestart
	}
	if s.IncrementVar != "" {
		task.Meta["opm_increment_var"] = s.IncrementVar
	}
	for i, note := range a.notMapped(FormatNomad) {
		task.Meta[fmt.Sprintf("opm_not_mapped_%d", i+1)] = note
	}
	if s.LogMaxFiles > 0 || s.LogMaxSize > 0 {
		task.LogConfig = &nomadLogConfig{}
		if s.LogMaxFiles > 0 {
			task.LogConfig.MaxFiles = new(s.LogMaxFiles)
		}
		if s.LogMaxSize > 0 {
			task.LogConfig.MaxFileSizeMB = new(int(max((s.LogMaxSize+(1<<20)-1)>>20, 1)))
		}
	}
	attempts, mode := max(s.MaxRestarts, 0), "fail"
	if s.Restart == api.RestartNever {
		attempts = 0
	}
	delay := a.restartDelay()
	interval := max(a.restartInterval(), nomadMinInterval, time.Duration(attempts)*delay)
	return &nomadGroup{
		Name:  new(s.Name),
		Count: new(a.count),
		Tasks: []*nomadTask{task},
		RestartPolicy: &nomadRestartPolicy{
			Attempts: &attempts,
			Interval: &interval,
			Delay:    &delay,
			Mode:     &mode,
		},
		ReschedulePolicy: &nomadReschedulePolicy{Attempts: new(0), Unlimited: new(false)},
	}, nil
}

// checkUTF8 refuses what JSON cannot hold as it is.
func checkUTF8(command string, args []string, env map[string]string) error {
	bad := func(s string) bool { return !utf8.ValidString(s) }
	if bad(command) {
		return fmt.Errorf("its command %q is not UTF-8, which a JSON job cannot hold", command)
	}
	for _, a := range args {
		if bad(a) {
			return fmt.Errorf("its argument %q is not UTF-8, which a JSON job cannot hold", a)
		}
	}
	for k, v := range env {
		if bad(k) || bad(v) {
			return fmt.Errorf("its environment variable %q is not UTF-8, which a JSON job cannot hold", strings.ToValidUTF8(k, "?"))
		}
	}
	return nil
}

// The parts of a Nomad job that Nomad writes, by the names and in the
// JSON forms of Nomad's jobs API (github.com/hashicorp/nomad/api, whose
// types the tests decode these into, strictly). They are opm's own, not
// that module's: its client would bring an HTTP client and TLS into
// every opm binary for one rarely used command. A pointer is set when
// zero says something (Attempts: 0, not Nomad's default).
type nomadJob struct {
	ID          *string
	Name        *string
	Type        *string
	Datacenters []string
	TaskGroups  []*nomadGroup
	Meta        map[string]string `json:",omitempty"`
}

type nomadGroup struct {
	Name             *string
	Count            *int
	Tasks            []*nomadTask
	RestartPolicy    *nomadRestartPolicy
	ReschedulePolicy *nomadReschedulePolicy
}

type nomadTask struct {
	Name        string
	Driver      string
	Config      map[string]any
	Env         map[string]string `json:",omitempty"`
	KillSignal  string            `json:",omitempty"`
	KillTimeout *time.Duration
	Meta        map[string]string `json:",omitempty"`
	LogConfig   *nomadLogConfig   `json:",omitempty"`
}

type nomadLogConfig struct {
	MaxFiles      *int `json:",omitempty"`
	MaxFileSizeMB *int `json:",omitempty"`
}

type nomadRestartPolicy struct {
	Attempts *int
	Interval *time.Duration
	Delay    *time.Duration
	Mode     *string
}

type nomadReschedulePolicy struct {
	Attempts  *int
	Unlimited *bool
}
