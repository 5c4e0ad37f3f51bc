package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/proc"
	"opm/daemon/store"
	"opm/daemon/testkit"
)

// instanceIDs returns, for each live process of app name (by its
// marker), the instance id it was given in OPM_INSTANCE, keyed by pid.
func (e *env) instanceIDs(name string) map[int]int {
	e.t.Helper()
	out := map[int]int{}
	for _, pid := range testkit.WithArg(e.appMark(name)) {
		env, err := proc.Environ(pid)
		if err != nil {
			continue // ended meanwhile
		}
		v, ok := proc.EnvValue(env, api.InstanceEnv)
		id, err := strconv.Atoi(v)
		if !ok || err != nil {
			e.t.Fatalf("process %d of %s has no instance id in its environment (%s=%q)", pid, name, api.InstanceEnv, v)
		}
		out[pid] = id
	}
	return out
}

// pidWithInstance is the pid of the given instance in ids (instanceIDs).
func pidWithInstance(ids map[int]int, instance int) int {
	for pid, id := range ids {
		if id == instance {
			return pid
		}
	}
	return 0
}

// checkInstances fails the test unless app name has exactly n live
// processes, whose instance ids are 0..n-1, each once.
func (e *env) checkInstances(name string, n int, when string) map[int]int {
	e.t.Helper()
	ids := e.instanceIDs(name)
	got := slices.Sorted(maps.Values(ids))
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(got, want) {
		e.t.Fatalf("%s: %s runs instances %v (%d processes), want exactly %v", when, name, got, len(got), want)
	}
	return ids
}

// startInstances starts app name as n instances of a blocking process
// with its marker.
func (e *env) startInstances(name string, n int, flags ...string) {
	e.t.Helper()
	args := append([]string{"start", os.Args[0], "--name", name, "-i", strconv.Itoa(n), "--env", testkit.ChildEnv + "=block"}, flags...)
	e.ok(append(args, "--", e.appMark(name))...)
}

// rows returns the rows of app name in `opm list --json`, by instance.
func (e *env) rows(name string) []api.App {
	e.t.Helper()
	var out []api.App
	for _, a := range e.list() {
		if a.Name == name {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(x, y api.App) int { return x.Instance - y.Instance })
	return out
}

// Each instance is a process of its own with its instance id, its port
// (increment_var) and its own log files; opm list shows each; the name
// targets them all, an id one.
func TestInstancesEnvironmentAndLogs(t *testing.T) {
	e := newEnv(t)
	e.ok("start", os.Args[0], "--name", "web", "-i", "3", "--increment-var", "PORT",
		"--env", "PORT=3000", "--env", "NODE_APP_INSTANCE=inherited", "--env", testkit.ChildEnv+"=print-env")
	rows := e.rows("web")
	if len(rows) != 3 {
		t.Fatalf("opm list shows %d rows of web, want 3: %+v", len(rows), rows)
	}
	pids := map[int]bool{}
	for i, a := range rows {
		if a.Instance != i || a.Instances != 3 || a.Status != "online" || pids[a.PID] {
			t.Fatalf("row %d: instance %d of %d, %s, pid %d; want instance %d of 3, online, a pid of its own", i, a.Instance, a.Instances, a.Status, a.PID, i)
		}
		pids[a.PID] = true
		want := []string{
			fmt.Sprintf("%s=%d", api.InstanceEnv, i),
			fmt.Sprintf("NODE_APP_INSTANCE=%d", i),
			fmt.Sprintf("PORT=%d", 3000+i),
		}
		logPath := filepath.Join(e.home, "logs", "web-out.log")
		if i > 0 {
			logPath = filepath.Join(e.home, "logs", fmt.Sprintf("web-out-%d.log", i))
		}
		if a.Spec.OutLog != logPath {
			t.Fatalf("instance %d logs to %s, want %s", i, a.Spec.OutLog, logPath)
		}
		testkit.WaitFor(t, "instance "+strconv.Itoa(i)+"'s environment in its log", 10*time.Second, func() bool {
			b, _ := os.ReadFile(logPath)
			for _, w := range want {
				if !strings.Contains(string(b), "\n"+w+"\n") {
					return false
				}
			}
			return true
		})
	}
	table := e.ok("list").stdout
	for _, label := range []string{"web:0", "web:1", "web:2"} {
		if !strings.Contains(table, label) {
			t.Fatalf("opm list does not show %s:\n%s", label, table)
		}
	}
	if r := e.run("delete", strconv.Itoa(rows[1].ID)); r.code == 0 || !strings.Contains(r.stderr, "opm scale web") {
		t.Fatalf("deleting one instance by id: %v; want a refusal that points to opm scale", r)
	}
	e.ok("stop", strconv.Itoa(rows[1].ID))
	if got := e.rows("web"); got[0].Status != "online" || got[1].Status != "stopped" || got[2].Status != "online" {
		t.Fatalf("after stopping instance 1 by id: %s %s %s, want online stopped online", got[0].Status, got[1].Status, got[2].Status)
	}
	e.ok("stop", "web")
	for _, a := range e.rows("web") {
		if a.Status != "stopped" {
			t.Fatalf("after opm stop web, instance %d is %s", a.Instance, a.Status)
		}
	}
	e.ok("delete", "web")
	if got := e.rows("web"); len(got) != 0 {
		t.Fatalf("after opm delete web, %d rows are left", len(got))
	}
}

// merge_logs gives every instance the app's one pair of files.
func TestInstancesMergeLogs(t *testing.T) {
	e := newEnv(t)
	e.ok("start", os.Args[0], "--name", "m", "-i", "2", "--merge-logs", "--env", testkit.ChildEnv+"=print-env")
	out := filepath.Join(e.home, "logs", "m-out.log")
	for _, a := range e.rows("m") {
		if a.Spec.OutLog != out {
			t.Fatalf("instance %d logs to %s, want the merged %s", a.Instance, a.Spec.OutLog, out)
		}
	}
	testkit.WaitFor(t, "both instances' lines in "+out, 10*time.Second, func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), "\n"+api.InstanceEnv+"=0\n") && strings.Contains(string(b), "\n"+api.InstanceEnv+"=1\n")
	})
	if _, err := os.Stat(filepath.Join(e.home, "logs", "m-out-1.log")); !os.IsNotExist(err) {
		t.Fatalf("merged logs, yet m-out-1.log exists (%v)", err)
	}
}

// opm scale starts or stops the difference and leaves the other
// instances running as they were; so does a changed count in a start.
func TestScale(t *testing.T) {
	e := newEnv(t)
	e.startInstances("s", 2)
	first := e.checkInstances("s", 2, "after -i 2")
	pidOf := pidWithInstance
	p0, p1 := pidOf(first, 0), pidOf(first, 1)
	steps := []struct {
		args []string
		want int
	}{
		{[]string{"scale", "s", "4"}, 4},
		{[]string{"scale", "s", "-1"}, 3},
		{[]string{"scale", "s", "+2"}, 5},
		{[]string{"scale", "s", "1"}, 1},
		{[]string{"scale", "s", "3"}, 3},
	}
	for _, st := range steps {
		e.ok(st.args...)
		ids := e.checkInstances("s", st.want, strings.Join(st.args, " "))
		if pidOf(ids, 0) != p0 {
			t.Fatalf("%s: instance 0 is pid %d, was %d: scaling restarted it", strings.Join(st.args, " "), pidOf(ids, 0), p0)
		}
		if st.want > 1 && pidOf(ids, 1) != p1 && st.args[2] != "3" {
			t.Fatalf("%s: instance 1 is pid %d, was %d: scaling restarted it", strings.Join(st.args, " "), pidOf(ids, 1), p1)
		}
		rows := e.rows("s")
		if len(rows) != st.want {
			t.Fatalf("%s: opm list shows %d rows of s; want %d", strings.Join(st.args, " "), len(rows), st.want)
		}
		for i, a := range rows {
			if a.Instance != i || a.Instances != st.want || a.PID != pidOf(ids, i) {
				t.Fatalf("%s: row %d is instance %d of %d, pid %d; want instance %d of %d, pid %d", strings.Join(st.args, " "), i, a.Instance, a.Instances, a.PID, i, st.want, pidOf(ids, i))
			}
		}
	}
	if r := e.run("scale", "s", "0x"); r.code == 0 || !strings.Contains(r.stderr, "instances") {
		t.Fatalf("scale s 0x: %v; want an error that says what a count is", r)
	}
	if r := e.run("scale", "nosuch", "2"); r.code == 0 || !strings.Contains(r.stderr, "nosuch") {
		t.Fatalf("scale nosuch 2: %v; want an error naming the app", r)
	}
	// A start that changes the count, down and up, restarts every
	// instance with the definition and answers.
	e.ok("start", "s", "-i", "2")
	e.checkInstances("s", 2, "after opm start s -i 2")
	e.ok("start", "s", "-i", "4")
	e.checkInstances("s", 4, "after opm start s -i 4")
}

// The exactly-once race with instances: saved apps of 4 instances after a
// container restart, hit by concurrent restores, then a daemon killed
// with SIGKILL and more restores: each app runs instances 0..3, each
// exactly once, and the killed daemon's successor adopts them all.
// (make stress runs it for more rounds.)
func TestInstancesRestoreRace(t *testing.T) {
	e := newEnv(t)
	names := []string{"w0", "w1"}
	for _, n := range names {
		e.startInstances(n, 4)
	}
	e.ok("save")
	check := func(when string) map[string]map[int]int {
		t.Helper()
		got := map[string]map[int]int{}
		for _, n := range names {
			got[n] = e.checkInstances(n, 4, when)
			rows := e.rows(n)
			for i, a := range rows {
				if a.Instance != i || a.Instances != 4 || a.Status != "online" || pidWithInstance(got[n], i) != a.PID {
					t.Fatalf("%s: opm list shows %s as instance %d of %d, %s, pid %d; want instance %d of 4, online, pid %d", when, n, a.Instance, a.Instances, a.Status, a.PID, i, pidWithInstance(got[n], i))
				}
			}
			if len(rows) != 4 {
				t.Fatalf("%s: opm list shows %d rows of %s, want 4", when, len(rows), n)
			}
		}
		if d := e.daemons(); len(d) != 1 {
			t.Fatalf("%s: %d daemons %v", when, len(d), d)
		}
		return got
	}
	rounds := stressRounds(t, 20)
	cmds := [][]string{{"restore"}, {"restore"}, {"list", "--json"}, {"restore"}}
	for round := range rounds {
		e.freshContainer(names)
		for i, r := range e.runAll(cmds) {
			if r.code != 0 {
				t.Fatalf("round %d, command %d: %v", round, i, r)
			}
		}
		before := check(fmt.Sprintf("round %d, after concurrent restores", round))
		e.killDaemon()
		for i, r := range e.runAll(cmds) {
			if r.code != 0 {
				t.Fatalf("round %d, after SIGKILL, command %d: %v", round, i, r)
			}
		}
		after := check(fmt.Sprintf("round %d, after the daemon's SIGKILL and concurrent restores", round))
		for _, n := range names {
			for pid := range before[n] {
				if _, ok := after[n][pid]; !ok {
					t.Fatalf("round %d: %s's pid %d was not adopted by the next daemon: now %v", round, n, pid, after[n])
				}
			}
		}
	}
	t.Logf("%d rounds: 2 apps x 4 instances, exactly once after concurrent restores and after a daemon SIGKILL", rounds)
}

// A daemon killed while its runtime record of one instance was lost
// (here: removed) finds that instance's process by its token and adopts
// it, rather than starting a second one; a dump that lacks an instance
// (edited by hand) is restored with all of them.
func TestInstancesRepaired(t *testing.T) {
	e := newEnv(t)
	e.startInstances("r", 3)
	ids := e.checkInstances("r", 3, "after -i 3")
	rows := e.rows("r")
	e.killDaemon()
	if err := os.Remove(filepath.Join(e.runtime, store.RecordsDir, strconv.Itoa(rows[2].ID)+".json")); err != nil {
		t.Fatal(err)
	}
	e.ok("list")
	if got := e.checkInstances("r", 3, "after the SIGKILL and a lost record"); !maps.Equal(got, ids) {
		t.Fatalf("instances after the takeover %v, want the same processes %v", got, ids)
	}
	if rows := e.rows("r"); len(rows) != 3 || rows[2].PID != pidWithInstance(ids, 2) {
		t.Fatalf("after the takeover opm list shows %+v; want 3 rows, instance 2 adopted", rows)
	}

	// A daemon killed in the middle of 'opm scale r 2': the records of
	// instances 0 and 1 say 2, instance 2 still runs. The next daemon
	// stops it and keeps the others.
	e.killDaemon()
	for _, a := range rows[:2] {
		setRecordInstances(t, filepath.Join(e.runtime, store.RecordsDir, strconv.Itoa(a.ID)+".json"), 2)
	}
	e.ok("list")
	testkit.WaitFor(t, "instance 2 to be stopped", 10*time.Second, func() bool { return len(e.instanceIDs("r")) == 2 })
	got := e.checkInstances("r", 2, "after a scale cut short")
	if pidWithInstance(got, 0) != pidWithInstance(ids, 0) || pidWithInstance(got, 1) != pidWithInstance(ids, 1) {
		t.Fatalf("after a scale cut short: instances %v, want instances 0 and 1 of %v adopted", got, ids)
	}
	if rows := e.rows("r"); len(rows) != 2 || rows[0].Instances != 2 || rows[1].Instances != 2 {
		t.Fatalf("after a scale cut short opm list shows %+v; want 2 rows of 2 instances", rows)
	}
	if !strings.Contains(e.daemonLog(), "event=instances-repaired") {
		t.Fatalf("daemon.log does not say the app was repaired:\n%s", e.daemonLog())
	}
	e.ok("scale", "r", "3")

	e.ok("save")
	editDump(t, e, func(d *store.Dump) {
		d.Apps = slices.DeleteFunc(d.Apps, func(a store.DumpApp) bool { return a.Spec.Instance == 1 })
	})
	e.freshContainer([]string{"r"})
	e.ok("restore")
	e.checkInstances("r", 3, "after restoring a dump that lacks instance 1")
}

// setRecordInstances rewrites the runtime record at path with an
// instance count of n, as a daemon would have written it.
func setRecordInstances(t *testing.T, path string, n int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	rec["spec"].(map[string]any)["instances"] = n
	if b, err = json.Marshal(rec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// An app whose instances cannot start leaves nothing behind, as a single
// app does: the start fails and no row is left.
func TestInstancesFailedStartLeavesNothing(t *testing.T) {
	e := newEnv(t)
	// It exists, but its interpreter does not: exec fails.
	prog := writeFile(t, t.TempDir(), "ghost", "#!/nonexistent/opm-test-interpreter\n")
	if err := os.Chmod(prog, 0o755); err != nil {
		t.Fatal(err)
	}
	r := e.run("start", prog, "--name", "ghost", "-i", "3", "--interpreter", "none")
	if r.code == 0 || !strings.Contains(r.stderr, "ghost") {
		t.Fatalf("start of a missing program with -i 3: %v; want a failure naming the app", r)
	}
	if rows := e.rows("ghost"); len(rows) != 0 {
		t.Fatalf("after a failed start %d rows of ghost are left: %+v", len(rows), rows)
	}
}
