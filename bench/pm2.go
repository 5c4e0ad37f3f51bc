package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// pm2Tool drives PM2 from the local install under bench/.pm2.
type pm2Tool struct {
	bin string
	// prefix is the npm prefix PM2 (and pm2-logrotate) is installed in.
	prefix string
}

func (p *pm2Tool) Name() string { return "PM2" }

func (p *pm2Tool) newSandbox() (*sandbox, error) { return newSandbox("PM2_HOME", "") }

// pm2App is one entry of an ecosystem file: the same command as opm runs,
// with PM2's restart limit lifted and no restart delay (its default).
type pm2App struct {
	Name        string   `json:"name"`
	Script      string   `json:"script"`
	Args        []string `json:"args"`
	Interpreter string   `json:"interpreter"`
	Autorestart bool     `json:"autorestart"`
	MaxRestarts int      `json:"max_restarts"`
	// RestartDelay is in ms.
	RestartDelay int `json:"restart_delay"`
}

// start writes the apps to an ecosystem file and starts it with one
// `pm2 start`: a PM2 CLI call costs ~0.5 s of Node start-up, so one call
// per app would take minutes for 1000 apps. This is how PM2 users start
// many apps.
func (p *pm2Tool) start(ctx context.Context, sb *sandbox, from, to int) error {
	var apps []pm2App
	for i := from; i < to; i++ {
		apps = append(apps, pm2App{
			Name: sb.w.name(i), Script: sb.w.Sleep, Args: sb.w.args(i),
			Interpreter: "none", Autorestart: true, MaxRestarts: 1000000,
		})
	}
	return p.startApps(ctx, sb, fmt.Sprintf("apps-%d-%d.json", from, to), apps)
}

// startApps writes apps to the ecosystem file file in the sandbox's
// scratch directory and runs `pm2 start` on it.
func (p *pm2Tool) startApps(ctx context.Context, sb *sandbox, file string, apps []pm2App) error {
	eco := struct {
		Apps []pm2App `json:"apps"`
	}{apps}
	b, err := json.Marshal(eco)
	if err != nil {
		return err
	}
	path := filepath.Join(sb.scratch, file)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return err
	}
	return sb.run(ctx, bulkTimeout, p.bin, "start", path).error()
}

func (p *pm2Tool) listArgv() []string { return []string{p.bin, "jlist"} }

func (p *pm2Tool) list(ctx context.Context, sb *sandbox) ([]listed, error) {
	r := sb.run(ctx, cmdTimeout, p.listArgv()...)
	if err := r.error(); err != nil {
		return nil, err
	}
	return p.parseList(r.Stdout)
}

// parseList decodes `pm2 jlist`, skipping any banner before the array.
func (p *pm2Tool) parseList(b []byte) ([]listed, error) {
	if i := bytes.IndexByte(b, '['); i > 0 {
		b = b[i:]
	}
	var apps []struct {
		Name   string `json:"name"`
		PID    int    `json:"pid"`
		PM2Env struct {
			Status string `json:"status"`
		} `json:"pm2_env"`
	}
	if err := json.Unmarshal(b, &apps); err != nil {
		return nil, fmt.Errorf("parse pm2 jlist: %w", err)
	}
	out := make([]listed, len(apps))
	for i, a := range apps {
		out[i] = listed{Name: a.Name, PID: a.PID, Status: a.PM2Env.Status}
	}
	return out, nil
}

func (p *pm2Tool) save(ctx context.Context, sb *sandbox) error {
	return sb.run(ctx, cmdTimeout, p.bin, "save").error()
}

func (p *pm2Tool) shutdown(ctx context.Context, sb *sandbox) error {
	return sb.run(ctx, bulkTimeout, p.bin, "kill").error()
}

func (p *pm2Tool) restoreArgv() []string { return []string{p.bin, "resurrect"} }

// isDaemon: PM2 titles its daemon "PM2 vX.Y.Z: God Daemon (<PM2_HOME>)".
func (p *pm2Tool) isDaemon(sb *sandbox, argv []string) bool {
	return strings.Contains(strings.Join(argv, " "), "God Daemon ("+sb.home+")")
}

// stopOnCleanup: `pm2 kill` stops apps one by one and takes minutes with
// 1000 apps; cleanup SIGKILLs PM2's processes instead.
func (p *pm2Tool) stopOnCleanup() bool { return false }

// logrotateName is pm2-logrotate's package and module name.
const logrotateName = "pm2-logrotate"

// installLogrotate installs pm2-logrotate into the sandbox the way its
// users do, `pm2 install`, but from the package npm put under PM2's
// prefix (`pm2 install file://<dir>`: npm links it, no download), after
// configuring it with `pm2 set`: rotation at --logs-max-size, --logs-max-files
// rotated files kept, no compression, and the size checked every second
// (workerInterval, in whole seconds: 1 is its smallest useful value). Its
// rotateInterval stays at the default (daily): that cron forces a rotation
// of every file whatever its size. It returns the module's PID once PM2
// lists it online.
func (p *pm2Tool) installLogrotate(ctx context.Context, sb *sandbox, prm params) (int, error) {
	dir, err := installLogrotatePackage(ctx, p.prefix)
	if err != nil {
		return 0, err
	}
	for _, kv := range [][2]string{
		{"max_size", prm.LogsMaxSize},
		{"retain", strconv.Itoa(prm.LogsMaxFiles)},
		{"compress", "false"},
		{"workerInterval", "1"},
	} {
		if err := sb.run(ctx, cmdTimeout, p.bin, "set", logrotateName+":"+kv[0], kv[1]).error(); err != nil {
			return 0, err
		}
	}
	if err := sb.run(ctx, bulkTimeout, p.bin, "install", "file://"+dir).error(); err != nil {
		return 0, err
	}
	var pid int
	err = poll(ctx, cmdTimeout, 50*time.Millisecond, func() (bool, error) {
		apps, err := p.list(ctx, sb)
		if err != nil {
			return false, err
		}
		for _, a := range apps {
			if a.Name == logrotateName && a.Status == "online" && a.PID > 0 {
				pid = a.PID
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return 0, fmt.Errorf("wait for %s online: %w", logrotateName, err)
	}
	return pid, nil
}
