package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The posix_spawn floor of scenario 2: the cheapest way to start N
// processes without a compiler. A python3 script calls os.posix_spawn
// (glibc's clone(CLONE_VM|CLONE_VFORK) + exec: no copy of the parent's
// page tables) in a plain sequential loop to start the same apps the
// other rows start (same argv, each in its own session, the sandbox's
// environment with its tag), then waits for SIGTERM. It is timed like the
// bare Go floor: from its exec until /proc shows all N apps.

// spawnLoopScript is run as `python3 -c spawnLoopScript <n> <sleep> <tag>`.
// The markers are built as workload.marker builds them.
const spawnLoopScript = `import os, signal, sys
n, sleep, tag = int(sys.argv[1]), sys.argv[2], sys.argv[3]
env = dict(os.environ)
for i in range(n):
    os.posix_spawn(sleep, [sleep, "infinity", "0.%s%05d" % (tag, i)], env, setsid=True)
while True:
    signal.pause()
`

// spawnProbeScript checks that os.posix_spawn exists and accepts setsid
// (Python ≥ 3.8 on a libc with POSIX_SPAWN_SETSID), and prints the real
// interpreter: a pyenv or asdf shim in front of it would add its own
// start-up to the floor.
const spawnProbeScript = `import os, sys
pid = os.posix_spawn(sys.argv[1], [sys.argv[1]], dict(os.environ), setsid=True)
_, st = os.waitpid(pid, 0)
if st != 0:
    sys.exit("probe child exited with status %d" % st)
print(sys.executable)
`

// spawnFloorMetric names the posix_spawn floor row of n apps.
func spawnFloorMetric(n int) string {
	return fmt.Sprintf("floor (posix_spawn loop): %d apps online", n)
}

// findSpawnPython returns the python3 interpreter that runs the
// posix_spawn floor, or an error saying why there is none.
func findSpawnPython(ctx context.Context) (string, error) {
	py, err := exec.LookPath("python3")
	if err != nil {
		return "", errors.New("python3 not found")
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		return "", err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(pctx, py, "-c", spawnProbeScript, truePath)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:] // the exception, without the traceback
		}
		return "", fmt.Errorf("%s cannot posix_spawn with setsid: %v: %s", py, err, msg)
	}
	if real := strings.TrimSpace(string(out)); real != "" {
		py = real
	}
	return py, nil
}

// measureSpawnFloor times the posix_spawn loop of python from its exec
// until its n apps run.
func measureSpawnFloor(ctx context.Context, python string, n int) (d time.Duration, err error) {
	r, err := startFloor(ctx, func(sb *sandbox) []string {
		return []string{python, "-c", spawnLoopScript, strconv.Itoa(n), sb.w.Sleep, sb.w.Tag}
	})
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, r.stop()) }()
	return r.waitApps(ctx, n)
}

// rowCheck is a target's check: met, and whether it could be judged.
type rowCheck = func(r *row) (met, known bool)

// targetPart is one condition of a target.
type targetPart struct {
	desc  string
	check rowCheck
}

// allOf is met when every part that can be judged is met, and unknown
// when none can be. When some parts are met and others not, Detail names
// the missed ones.
func allOf(parts ...targetPart) rowCheck {
	return func(r *row) (bool, bool) {
		var missed []string
		known, met := 0, 0
		for _, p := range parts {
			ok, k := p.check(r)
			switch {
			case !k:
			case ok:
				known++
				met++
			default:
				known++
				missed = append(missed, p.desc)
			}
		}
		if known == 0 {
			return false, false
		}
		if len(missed) > 0 && met > 0 {
			r.Detail = "missed: " + strings.Join(missed, ", ")
		}
		return len(missed) == 0, true
	}
}

// ratioAtMost is met when opm/PM2 is at most ratio; unknown without PM2.
func ratioAtMost(ratio float64) rowCheck {
	return func(r *row) (bool, bool) {
		if r.Ratio == nil {
			return false, false
		}
		return *r.Ratio <= ratio, true
	}
}

// lookupRow returns the row of scenario whose metric is metric or starts
// with metric followed by ", " (as "…, median of 20" does), or nil.
func (rep *report) lookupRow(scenario, metric string) *row {
	for _, r := range rep.Rows {
		if r.Scenario == scenario && (r.Metric == metric || strings.HasPrefix(r.Metric, metric+", ")) {
			return r
		}
	}
	return nil
}

// vsRow is met when opm's value is at most limit(ref), ref being opm's
// value on another row of the same run (a floor, a reference command),
// looked up when the report is finished. It is unknown while either
// value is missing (the reference was skipped or failed).
func vsRow(rep *report, scenario, metric string, limit func(ref float64) float64) rowCheck {
	return func(r *row) (bool, bool) {
		ref := rep.lookupRow(scenario, metric)
		if r.OPM == nil || ref == nil || ref.OPM == nil {
			return false, false
		}
		return *r.OPM <= limit(*ref.OPM), true
	}
}

// restoreTarget is the target of opm's "N apps online" row of
// scenario 2, or "" when n has none.
func restoreTarget(rep *report, n int) (string, rowCheck) {
	floor := targetPart{"≤ 1.2× posix_spawn floor", vsRow(rep, scenarioRestore, spawnFloorMetric(n), func(f float64) float64 { return 1.2 * f })}
	switch n {
	case 1000:
		return "≤ 1000, ≤ 0.1× PM2, ≤ 1.2× posix_spawn floor", allOf(
			targetPart{"≤ 1000", atMost(1000)},
			targetPart{"≤ 0.1× PM2", ratioAtMost(0.1)},
			floor)
	case 2000:
		return floor.desc, allOf(floor)
	}
	return "", nil
}
