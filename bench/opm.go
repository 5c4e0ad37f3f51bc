package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"
)

// opmTool drives the opm binary.
type opmTool struct {
	bin string
	// jobs is how many `opm start` commands run at once.
	jobs int
	// restartDelay is written to config.toml as restart_delay and
	// restart_delay_max: back-off held at its minimum.
	restartDelay string
	// extra are flags every `opm start` gets (a variant of a scenario:
	// watch, cron, memory limits); {dir} stands for an empty directory
	// of the sandbox that nothing writes to.
	extra []string
	// config is appended to every sandbox's config.toml (a variant's
	// settings).
	config string
}

func (o *opmTool) Name() string { return "opm" }

// config.toml for every opm sandbox: back-off at its minimum and no
// restart limit, like PM2's defaults (restart_delay 0) with its limit lifted.
const opmConfig = `restart_delay = %q
restart_delay_max = %q
max_restarts = 1000000
`

func (o *opmTool) newSandbox() (*sandbox, error) {
	sb, err := newSandbox("OPM_HOME", "OPM_RUNTIME_DIR")
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(opmConfig, o.restartDelay, o.restartDelay) + o.config
	if err := os.WriteFile(filepath.Join(sb.home, "config.toml"), []byte(cfg), 0o600); err != nil {
		sb.remove()
		return nil, fmt.Errorf("write config.toml: %w", err)
	}
	return sb, nil
}

// start runs one `opm start` per app, as a user would, a few at a time.
func (o *opmTool) start(ctx context.Context, sb *sandbox, from, to int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(o.jobs)
	for i := from; i < to; i++ {
		g.Go(func() error {
			argv := []string{o.bin, "start", sb.w.Sleep, "--name", sb.w.name(i)}
			for _, f := range o.extra {
				argv = append(argv, strings.ReplaceAll(f, "{dir}", sb.quiet))
			}
			argv = append(append(argv, "--"), sb.w.args(i)...)
			return sb.run(ctx, cmdTimeout, argv...).error()
		})
	}
	return g.Wait()
}

func (o *opmTool) listArgv() []string { return []string{o.bin, "list", "--json"} }

func (o *opmTool) list(ctx context.Context, sb *sandbox) ([]listed, error) {
	r := sb.run(ctx, cmdTimeout, o.listArgv()...)
	if err := r.error(); err != nil {
		return nil, err
	}
	return o.parseList(r.Stdout)
}

func (o *opmTool) parseList(b []byte) ([]listed, error) {
	var apps []struct {
		Name   string `json:"name"`
		PID    int    `json:"pid"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(b, &apps); err != nil {
		return nil, fmt.Errorf("parse opm list --json: %w", err)
	}
	out := make([]listed, len(apps))
	for i, a := range apps {
		out[i] = listed(a)
	}
	return out, nil
}

func (o *opmTool) save(ctx context.Context, sb *sandbox) error {
	return sb.run(ctx, cmdTimeout, o.bin, "save").error()
}

func (o *opmTool) shutdown(ctx context.Context, sb *sandbox) error {
	return sb.run(ctx, bulkTimeout, o.bin, "daemon", "stop").error()
}

func (o *opmTool) restoreArgv() []string { return []string{o.bin, "restore"} }

// isDaemon: the CLI runs the daemon as `opm daemon run`.
func (o *opmTool) isDaemon(_ *sandbox, argv []string) bool {
	return len(argv) >= 3 && argv[1] == "daemon" && argv[2] == "run"
}

// stopOnCleanup: every sandbox checks that `opm daemon stop` leaves
// nothing behind.
func (o *opmTool) stopOnCleanup() bool { return true }
