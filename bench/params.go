package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// params are the harness's flags, as recorded in the report.
type params struct {
	Quick        bool          `json:"quick"`
	PM2          bool          `json:"pm2"`
	OPMBin       string        `json:"opm_bin"`
	PM2Prefix    string        `json:"pm2_prefix"`
	Out          string        `json:"out"`
	Only         string        `json:"only,omitempty"`
	FlagTime     time.Duration `json:"-"`
	RestoreN     intList       `json:"restore_n"`
	CrashN       int           `json:"crash_n"`
	CrashApps    int           `json:"crash_apps"`
	IdleN        int           `json:"idle_n"`
	IdleWindow   time.Duration `json:"-"`
	CLIN         intList       `json:"cli_n"`
	CLIRuns      int           `json:"cli_runs"`
	ScaleN       intList       `json:"scale_n"`
	RaceN        int           `json:"race_n"`
	RaceK        int           `json:"race_k"`
	RaceRounds   int           `json:"race_rounds"`
	LogsN        int           `json:"logs_n"`
	LogsTime     time.Duration `json:"-"`
	LogsMaxSize  string        `json:"logs_max_size"`
	LogsMaxFiles int           `json:"logs_max_files"`
	LogsDrain    time.Duration `json:"-"`
	FlashN       int           `json:"flash_n"`
	FlashTime    time.Duration `json:"-"`
	Jobs         int           `json:"jobs"`
	RestartDelay string        `json:"restart_delay"`

	// Supervisord: go-supervisord runs next to opm, built into
	// SupervisordPrefix.
	Supervisord       bool   `json:"supervisord"`
	SupervisordPrefix string `json:"supervisord_prefix"`

	// Text forms of the durations, for the JSON.
	FlagTimeText   string `json:"flag_benchtime"`
	IdleWindowText string `json:"idle_window"`
	LogsTimeText   string `json:"logs_time"`
	LogsDrainText  string `json:"logs_drain"`
	FlashTimeText  string `json:"flash_time"`
}

// intList is a comma-separated list of counts.
type intList []int

func (l *intList) String() string {
	s := make([]string, len(*l))
	for i, n := range *l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	*l = nil
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("want positive counts separated by commas, got %q", v)
		}
		*l = append(*l, n)
	}
	return nil
}

// quickValues replace the defaults of flags not given on the command
// line when --quick is set: the whole run then takes under a minute.
var quickValues = map[string]string{
	"flag-benchtime": "100ms",
	"restore-n":      "50",
	"crash-n":        "10",
	"crash-apps":     "5",
	"idle-n":         "10",
	"idle-window":    "3s",
	"cli-n":          "50",
	"cli-runs":       "5",
	"scale-n":        "10,50",
	"race-n":         "10",
	"race-rounds":    "1",
	"logs-n":         "4",
	"logs-time":      "2s",
	"flash-n":        "10",
	"flash-time":     "5s",
}

// parseParams parses args (without the program name).
func parseParams(args []string) (params, error) {
	p := params{RestoreN: intList{100, 1000, 2000}, CLIN: intList{100, 1000}, ScaleN: intList{10, 100, 250, 500, 1000}}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./bench [flags]\n\nMeasures opm (and, with --pm2, PM2) on the scenarios of bench/README.md.\n\n")
		fs.PrintDefaults()
	}
	fs.BoolVar(&p.Quick, "quick", false, "small N and short windows: under a minute, for development")
	fs.BoolVar(&p.PM2, "pm2", false, "also run scenarios 2-6, the restore race and logs on PM2 (installed with npm under --pm2-prefix)")
	fs.StringVar(&p.OPMBin, "opm", "bin/opm", "the opm binary")
	fs.StringVar(&p.PM2Prefix, "pm2-prefix", "bench/.pm2", "npm prefix PM2 is installed into (never global)")
	fs.BoolVar(&p.Supervisord, "supervisord", true, "also run scenarios 2-6 and the restore race on go-supervisord (built with go install under --supervisord-prefix; --supervisord=false skips it)")
	fs.StringVar(&p.SupervisordPrefix, "supervisord-prefix", "bench/.supervisord", "directory go-supervisord is built into (GOBIN; never global)")
	fs.StringVar(&p.Out, "out", "bench/results.json", "where to write the JSON results")
	fs.StringVar(&p.Only, "only", "", "comma list of scenarios to run: 1,2,3,4,5,6,race,logs,flash (default all)")
	fs.DurationVar(&p.FlagTime, "flag-benchtime", time.Second, "scenario 1: time per micro-benchmark")
	fs.Var(&p.RestoreN, "restore-n", "scenario 2: saved apps per restore")
	fs.IntVar(&p.CrashN, "crash-n", 50, "scenario 3: kills")
	fs.IntVar(&p.CrashApps, "crash-apps", 20, "scenario 3, distinct apps: apps, each killed once")
	fs.IntVar(&p.IdleN, "idle-n", 100, "scenario 4: apps")
	fs.DurationVar(&p.IdleWindow, "idle-window", 30*time.Second, "scenario 4: measurement window")
	fs.Var(&p.CLIN, "cli-n", "scenario 5: apps")
	fs.IntVar(&p.CLIRuns, "cli-runs", 10, "scenario 5: list commands timed per N")
	fs.Var(&p.ScaleN, "scale-n", "scenario 6: app counts to measure at, ascending")
	fs.IntVar(&p.RaceN, "race-n", 50, "restore race: apps")
	fs.IntVar(&p.RaceK, "race-k", 3, "restore race: concurrent restore commands")
	fs.IntVar(&p.RaceRounds, "race-rounds", 3, "restore race: rounds per tool")
	fs.IntVar(&p.LogsN, "logs-n", 10, "logs: apps writing at once")
	fs.DurationVar(&p.LogsTime, "logs-time", 10*time.Second, "logs: how long each app writes")
	fs.IntVar(&p.FlashN, "flash-n", 100, "flash: apps (opm only)")
	fs.DurationVar(&p.FlashTime, "flash-time", time.Minute, "flash: measurement window, one crash per second")
	fs.StringVar(&p.LogsMaxSize, "logs-max-size", "10M", "logs: rotation size (opm log_max_size, pm2-logrotate max_size)")
	fs.IntVar(&p.LogsMaxFiles, "logs-max-files", 10000, "logs: rotated files kept per log (opm log_max_files, pm2-logrotate retain): more than a run makes, so retention drops no line")
	fs.DurationVar(&p.LogsDrain, "logs-drain", 2*time.Minute, "logs: how long after the writers stop the files may still be changing")
	fs.IntVar(&p.Jobs, "jobs", 4, "opm start commands run at once while setting up apps")
	fs.StringVar(&p.RestartDelay, "restart-delay", "1ns", "opm config.toml restart_delay and restart_delay_max (the smallest positive value: back-off at its minimum)")
	if err := fs.Parse(args); err != nil {
		return p, err
	}
	if fs.NArg() > 0 {
		return p, fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	}
	if p.Quick {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		for name, v := range quickValues {
			if !given[name] {
				if err := fs.Set(name, v); err != nil {
					return p, err
				}
			}
		}
	}
	if p.CrashN < 1 || p.CrashApps < 1 || p.IdleN < 1 || p.CLIRuns < 1 || p.RaceN < 1 || p.RaceK < 2 || p.RaceRounds < 1 || p.Jobs < 1 ||
		p.LogsN < 1 || p.LogsMaxFiles < 1 || p.LogsTime <= 0 || p.LogsDrain <= 0 ||
		p.FlashN < 1 || p.FlashTime < time.Second {
		return p, fmt.Errorf("counts must be positive, --race-k at least 2 and --flash-time at least 1s")
	}
	p.FlagTimeText, p.IdleWindowText = p.FlagTime.String(), p.IdleWindow.String()
	p.LogsTimeText, p.LogsDrainText = p.LogsTime.String(), p.LogsDrain.String()
	p.FlashTimeText = p.FlashTime.String()
	return p, nil
}

// runs reports whether scenario id is selected by --only.
func (p params) runs(id string) bool {
	if p.Only == "" {
		return true
	}
	for f := range strings.SplitSeq(p.Only, ",") {
		if strings.TrimSpace(f) == id {
			return true
		}
	}
	return false
}
