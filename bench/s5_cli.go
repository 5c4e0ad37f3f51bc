package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"opm/daemon/api"
)

// Scenario 5: the wall time of the JSON listing (`opm list --json`,
// `pm2 jlist`) with N apps, from exec to exit, as a script calling it
// sees it. Each listing is checked to hold all N apps.

const scenarioCLI = "5 CLI list"

func runCLI(ctx context.Context, b *bench) error {
	var errs []error
	if err := measureExecFloor(ctx, b); err != nil {
		errs = append(errs, err)
	}
	for _, n := range b.p.CLIN {
		for _, t := range b.tools() {
			ds, scrapes, err := measureList(ctx, b, t, n, b.p.CLIRuns)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s, %d apps: %w", t.Name(), n, err))
				continue
			}
			if len(scrapes) > 0 {
				s := summarize(scrapes)
				b.rep.set(scenarioCLI, fmt.Sprintf("%d apps: GET /metrics on the socket, median of %d", n, s.N), "ms", t.Name(), ms(s.Median))
			}
			s := summarize(ds)
			r := b.rep.set(scenarioCLI, fmt.Sprintf("%d apps, median of %d", n, s.N), "ms", t.Name(), ms(s.Median))
			switch n {
			case 100:
				r.target("≤ 20, ≤ opm version + 5", allOf(
					targetPart{"≤ 20", atMost(20)},
					targetPart{"≤ opm version + 5", vsRow(b.rep, scenarioCLI, versionMetric, func(v float64) float64 { return v + 5 })}))
			case 1000:
				r.target("≤ 50", atMost(50))
			}
			b.rep.set(scenarioCLI, fmt.Sprintf("%d apps, max", n), "ms", t.Name(), ms(s.Max))
		}
	}
	return errors.Join(errs...)
}

func measureList(ctx context.Context, b *bench, t tool, n, runs int) (ds, scrapes []time.Duration, err error) {
	err = b.withSandbox(t, func(sb *sandbox) error {
		if err := startApps(ctx, t, sb, n); err != nil {
			return err
		}
		if t.Name() == "opm" {
			// A Prometheus scrape of opm's daemon: one request on its
			// socket, from the request to the last byte of the answer.
			for range runs {
				d, err := scrapeMetrics(api.SocketPath(sb.runtime))
				if err != nil {
					return fmt.Errorf("GET /metrics: %w", err)
				}
				scrapes = append(scrapes, d)
			}
		}
		for range runs {
			r := sb.run(ctx, cmdTimeout, t.listArgv()...)
			if err := r.error(); err != nil {
				return err
			}
			apps, err := t.parseList(r.Stdout)
			if err != nil {
				return err
			}
			if len(apps) != n {
				return fmt.Errorf("listing shows %d apps, want %d", len(apps), n)
			}
			ds = append(ds, r.Dur)
		}
		return nil
	})
	return ds, scrapes, err
}

// scrapeMetrics times one GET /metrics on the daemon's socket sock, as a
// scraper sees it, and checks the answer is the metrics.
func scrapeMetrics(sock string) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("unix", sock, cmdTimeout)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(cmdTimeout))
	if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: opm\r\nConnection: close\r\n\r\n"); err != nil {
		return 0, err
	}
	body, err := io.ReadAll(c)
	if err != nil {
		return 0, err
	}
	d := time.Since(start)
	if !bytes.HasPrefix(body, []byte("HTTP/1.1 200 ")) || !bytes.Contains(body, []byte("opm_app_up{")) {
		return 0, fmt.Errorf("not the metrics: %.200q", body)
	}
	return d, nil
}

// versionMetric names the row of `opm version`, before ", median of N".
const versionMetric = "opm version (start-up, no daemon)"

// minFloorRuns is the least number of timed runs of the commands that do
// not talk to a daemon: they are cheap, and the target of the listing
// compares with one of them.
const minFloorRuns = 20

// measureExecFloor times, like the listings, commands that do not talk
// to a daemon: true(1), the cost of any exec on this machine; a static
// hello-world Go binary, the least any Go program costs to start; and
// `opm version`, the opm binary's own start-up.
func measureExecFloor(ctx context.Context, b *bench) error {
	sb, err := newSandbox("OPM_HOME", "OPM_RUNTIME_DIR")
	if err != nil {
		return err
	}
	defer func() { sb.killAll(10 * time.Second); sb.remove() }()
	truePath, err := exec.LookPath("true")
	if err != nil {
		return err
	}
	var errs []error
	type command struct {
		metric string
		argv   []string
	}
	cmds := []command{{"floor: exec true(1)", []string{truePath}}}
	hello, err := buildHello(ctx, sb.scratch)
	switch {
	case errors.Is(err, errNoGo):
		b.rep.notef("scenario 5: no static hello-world Go floor: %v", err)
	case err != nil:
		errs = append(errs, fmt.Errorf("static hello-world Go floor: %w", err))
	default:
		cmds = append(cmds, command{"floor: static hello-world Go binary", []string{hello}})
	}
	cmds = append(cmds, command{versionMetric, []string{b.opm.bin, "version"}})
	for _, c := range cmds {
		var ds []time.Duration
		for range max(b.p.CLIRuns, minFloorRuns) {
			r := sb.run(ctx, cmdTimeout, c.argv...)
			if err := r.error(); err != nil {
				return err
			}
			ds = append(ds, r.Dur)
		}
		b.rep.set(scenarioCLI, fmt.Sprintf("%s, median of %d", c.metric, len(ds)), "ms", "opm", ms(summarize(ds).Median))
	}
	return errors.Join(errs...)
}

// helloMain is the static hello-world floor: the Go runtime's start-up
// and one write, without fmt's init.
const helloMain = `package main

import "os"

func main() { os.Stdout.WriteString("hello, world\n") }
`

// errNoGo: the go command is not installed.
var errNoGo = errors.New("the go command is not found")

// buildHello builds helloMain into a directory under dir with
// CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' (static, stripped,
// like opm's release build) and returns the binary.
func buildHello(ctx context.Context, dir string) (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", errNoGo
	}
	src, err := os.MkdirTemp(dir, "hello")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.21\n"), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(helloMain), 0o600); err != nil {
		return "", err
	}
	bin := filepath.Join(src, "hello")
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(bctx, goCmd, "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Dir = src
	// The module stands alone: no workspace, no vendoring, no toolchain
	// download.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local", "GO111MODULE=on")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}
