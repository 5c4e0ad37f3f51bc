package main

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"
)

// go-supervisord (github.com/ochinchina/supervisord), the Go port of
// supervisord, is built from the Go module proxy at a pinned version into
// --supervisord-prefix (bench/.supervisord, git-ignored) the first time it
// is needed; never globally.
//
// v0.7.3 is its last release (May 2021); the proxy serves it by name
// but refuses the module's version list, so `@latest` cannot be
// resolved. It builds with Go 1.26. `go install <module>@v0.7.3` refuses it
// anyway: its go.mod has replace directives (its sub-modules config,
// process, … point at ./config, ./process, …), which `go install
// pkg@version` rejects, and resolving it that way also asks the proxy
// for the refused version list (to check for a deprecation). So the
// harness writes a throwaway module under the prefix that requires
// exactly v0.7.3 and runs `go install -mod=mod
// github.com/ochinchina/supervisord` in it with GOBIN=<prefix>: the same
// pinned version, its sub-modules taken at the pseudo-versions its go.mod
// requires (commit 74b0760, 3 May 2021, the day of the tag).
const (
	supervisordModule  = "github.com/ochinchina/supervisord"
	supervisordVersion = "v0.7.3"
)

// installSupervisord makes go-supervisord available under prefix, building
// it when the binary there is missing or was not built from
// supervisordVersion. It returns the tool and a description of the
// version ("go-supervisord v0.7.3 (prints v0.6.8), built with go1.26.8").
func installSupervisord(ctx context.Context, prefix string) (*supervisordTool, string, error) {
	prefix, err := filepath.Abs(prefix)
	if err != nil {
		return nil, "", err
	}
	bin := filepath.Join(prefix, "supervisord")
	if _, err := supervisordBuildVersion(bin); err != nil {
		if err := buildSupervisord(ctx, prefix); err != nil {
			return nil, "", err
		}
	}
	goVersion, err := supervisordBuildVersion(bin)
	if err != nil {
		return nil, "", err
	}
	// The binary's own version string is a constant its authors stopped
	// updating (v0.7.3 prints v0.6.8): recorded as it prints it.
	vctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(vctx, bin, "version").Output()
	if err != nil {
		return nil, "", fmt.Errorf("%s version: %w", bin, err)
	}
	desc := fmt.Sprintf("go-supervisord %s (prints %s), built with %s", supervisordVersion, strings.TrimSpace(string(out)), goVersion)
	return &supervisordTool{bin: bin}, desc, nil
}

// supervisordBuildVersion returns the Go version bin was built with, or
// an error when bin is missing or was not built from supervisordModule at
// supervisordVersion.
func supervisordBuildVersion(bin string) (string, error) {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "", err
	}
	mods := append([]*debug.Module{&info.Main}, info.Deps...)
	for _, m := range mods {
		if m.Path != supervisordModule {
			continue
		}
		if m.Version != supervisordVersion {
			return "", fmt.Errorf("%s was built from %s %s, want %s", bin, supervisordModule, m.Version, supervisordVersion)
		}
		return info.GoVersion, nil
	}
	return "", fmt.Errorf("%s was not built from %s", bin, supervisordModule)
}

// buildSupervisord builds supervisordModule at supervisordVersion into
// prefix with `go install`, from a throwaway module in prefix/build.
func buildSupervisord(ctx context.Context, prefix string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return errNoGo
	}
	src := filepath.Join(prefix, "build")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	mod := fmt.Sprintf("// Written by the opm bench harness: builds go-supervisord at a pinned version.\nmodule supervisordbuild\n\ngo 1.21\n\nrequire %s %s\n", supervisordModule, supervisordVersion)
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(mod), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: building go-supervisord %s into %s (go install)\n", supervisordVersion, prefix)
	ictx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ictx, goBin, "install", "-mod=mod", supervisordModule)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOBIN="+prefix, "GOWORK=off", "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go install %s@%s (is the Go module proxy reachable?): %w", supervisordModule, supervisordVersion, err)
	}
	return nil
}

// supervisordScenarios are the scenarios that measure go-supervisord:
// those whose code drives any tool through the tool interface (the logs
// scenario is opm's and PM2's own, the flash scenario opm's alone).
var supervisordScenarios = map[string]bool{"2": true, "3": true, "4": true, "5": true, "6": true, scenarioRace: true}

// setupSupervisord builds go-supervisord when --supervisord is on and a
// scenario that measures it is selected; when it cannot be built, the
// run goes on without it and a note says why.
func (b *bench) setupSupervisord(ctx context.Context) {
	if !b.p.Supervisord {
		return
	}
	needed := false
	for id := range supervisordScenarios {
		needed = needed || b.p.runs(id)
	}
	if !needed {
		return
	}
	t, version, err := installSupervisord(ctx, b.p.SupervisordPrefix)
	if err != nil {
		b.rep.notef("go-supervisord not measured: %v", err)
		return
	}
	b.supd, b.rep.Supervisord = t, version
}
