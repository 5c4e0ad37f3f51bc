package daemon

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"opm/daemon/api"
	"opm/daemon/logs"
	"opm/daemon/process"
	"opm/daemon/store"
)

// instancesOf returns the instance ids of the rows of app name.
func (w *fakeWorld) instancesOf(name string) []int {
	var out []int
	for _, a := range w.s.group(name) {
		out = append(out, a.spec.Instance)
	}
	return out
}

// exitStopping ends the process of every app that is stopping.
func (w *fakeWorld) exitStopping() {
	for _, id := range w.s.allIDs() {
		if a := w.s.apps[id]; a != nil && a.state == Stopping {
			w.exit(a, 0)
		}
	}
}

func instancesSpec(name string, n int) api.Spec {
	spec := api.Spec{Name: name, Restart: api.RestartAlways, MaxRestarts: 3, KillTimeoutMs: 500}
	spec.Instances = n
	return spec
}

// One instance of a new app fails its first start while the others are
// being started: the name stays taken until the start has answered (a
// second start of it is refused, not registered beside), then every
// instance goes and the answer names the one that failed.
func TestInstancesFirstStartFailsForOne(t *testing.T) {
	w := newFakeWorld(t)
	spawn := w.s.spawn
	w.s.spawn = func(spec api.Spec, cg, keep string) (process.Process, error) {
		if spec.Instance == 1 {
			return nil, errors.New("cannot open web-out-1.log")
		}
		return spawn(spec, cg, keep)
	}
	w.hold = true
	reply := make(chan result, 1)
	w.handle(startReq{spec: instancesSpec("web", 3), reply: reply})
	// Instance 1's failure arrives first; the others are still spawning.
	var rest []spawnedEvent
	for _, ev := range w.pending {
		if a := w.s.apps[ev.id]; a.spec.Instance == 1 {
			w.s.handle(ev)
		} else {
			rest = append(rest, ev)
		}
	}
	w.pending = rest
	again := make(chan result, 1)
	w.handle(startReq{spec: instancesSpec("web", 3), reply: again})
	if r := <-again; api.CodeOf(r.err) != api.CodeConflict {
		t.Fatalf("a second start while the first is under way: %v; want a conflict", r.err)
	}
	if got := w.instancesOf("web"); !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("rows of web during the start: instances %v, want [0 1 2] once each", got)
	}
	w.hold = false
	w.handle(listReq{reply: make(chan result, 1)}) // runs the held spawns
	w.exitStopping()
	r := <-reply
	if api.CodeOf(r.err) != api.CodeStartFailed || !strings.Contains(r.err.Error(), "web:1") {
		t.Fatalf("answer: %v; want a start failure naming web:1", r.err)
	}
	if len(w.s.apps) != 0 || len(w.s.byKey) != 0 || len(w.s.names) != 0 {
		t.Fatalf("left in the table: %d apps, keys %v, names %v", len(w.s.apps), w.s.byKey, w.s.names)
	}
}

// Scale adds the instances an app lacks and removes the highest ones,
// leaving the others as they run; the answer waits for the removed ones
// to be gone. New instances of a stopped app stay stopped; 0 is refused.
func TestScaleInstances(t *testing.T) {
	w := newFakeWorld(t)
	reply := make(chan result, 1)
	w.handle(startReq{spec: instancesSpec("web", 2), reply: reply})
	if r := <-reply; r.err != nil {
		t.Fatal(r.err)
	}
	first := w.s.byKey["web"].pid
	scale := func(count string) result {
		t.Helper()
		reply := make(chan result, 1)
		w.handle(scaleReq{name: "web", count: count, reply: reply})
		w.exitStopping()
		select {
		case r := <-reply:
			return r
		default:
			t.Fatalf("scale %s: no answer", count)
			return result{}
		}
	}
	for _, step := range []struct {
		count string
		want  []int
	}{{"+2", []int{0, 1, 2, 3}}, {"-1", []int{0, 1, 2}}, {"1", []int{0}}, {"3", []int{0, 1, 2}}} {
		r := scale(step.count)
		if r.err != nil {
			t.Fatalf("scale %s: %v", step.count, r.err)
		}
		if got := w.instancesOf("web"); !slices.Equal(got, step.want) {
			t.Fatalf("scale %s: instances %v, want %v", step.count, got, step.want)
		}
		for _, a := range w.s.group("web") {
			if a.state != Online || a.spec.Instances != len(step.want) || w.s.byKey[a.spec.Key()] != a {
				t.Fatalf("scale %s: %s is %s with count %d (indexed: %v)", step.count, a.label(), a.state, a.spec.Instances, w.s.byKey[a.spec.Key()] == a)
			}
		}
		if len(r.apps) != len(step.want) {
			t.Fatalf("scale %s answered %d rows, want %d", step.count, len(r.apps), len(step.want))
		}
		if w.s.byKey["web"].pid != first {
			t.Fatalf("scale %s restarted instance 0", step.count)
		}
	}
	if r := scale("0"); api.CodeOf(r.err) != api.CodeBadRequest {
		t.Fatalf("scale 0: %v; want it refused", r.err)
	}
	w.action(t, "web", "stop")
	w.exitStopping()
	scale("5")
	for _, a := range w.s.group("web") {
		if a.state != Stopped {
			t.Fatalf("a stopped app scaled to 5: %s is %s, want stopped", a.label(), a.state)
		}
	}
}

// A start of the app with a lower count (an ecosystem file changed)
// answers once the instances beyond it are gone: a waiter's done that
// adds a waiter is completed too.
func TestUpdateLowersCount(t *testing.T) {
	w := newFakeWorld(t)
	reply := make(chan result, 1)
	w.handle(startReq{spec: instancesSpec("web", 3), reply: reply})
	<-reply
	reply = make(chan result, 1)
	w.handle(startReq{spec: instancesSpec("web", 1), update: true, reply: reply})
	w.exitStopping()
	w.exitStopping() // instance 0's restart stops it first
	select {
	case r := <-reply:
		if r.err != nil {
			t.Fatal(r.err)
		}
	default:
		t.Fatal("no answer to the update")
	}
	if got := w.instancesOf("web"); !slices.Equal(got, []int{0}) {
		t.Fatalf("instances after the update: %v, want [0]", got)
	}
}

// A dump's instances: one saved twice is restored once, one missing is
// made from its siblings, one beyond the count is left out.
func TestDumpGroups(t *testing.T) {
	w := newFakeWorld(t)
	spec := instancesSpec("web", 3)
	spec.Exec, spec.Argv, spec.Cwd = "/bin/true", []string{"true"}, "/"
	at := func(i int) store.DumpApp {
		s := spec
		s.Instance = i
		return store.DumpApp{Spec: s, Running: true}
	}
	beyond := at(0)
	beyond.Spec.Instances, beyond.Spec.Instance = 5, 4
	failed := map[string]string{}
	groups := w.s.dumpGroups([]store.DumpApp{at(0), at(2), at(2), beyond}, failed)
	if len(groups) != 1 || len(failed) != 0 {
		t.Fatalf("groups %d, failed %v; want one group, nothing failed", len(groups), failed)
	}
	var got []int
	for _, d := range groups[0] {
		got = append(got, d.Spec.Instance)
		if d.Spec.Instances != 3 {
			t.Fatalf("instance %d restored with count %d, want 3", d.Spec.Instance, d.Spec.Instances)
		}
	}
	if !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("restored instances %v, want [0 1 2]", got)
	}
}

func TestInstanceHelpers(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/l/web-out.log", "/l/web-out-2.log"},
		{"/l/.hidden", "/l/.hidden-2"},
		{"/l/noext", "/l/noext-2"},
		{api.DevNull, api.DevNull},
	} {
		if got := logs.InstancePath(c.in, 2); got != c.want {
			t.Errorf("InstancePath(%q, 2) = %q, want %q", c.in, got, c.want)
		}
	}
	env, err := api.InstanceEnvOf([]string{"PORT=3000", "NODE_APP_INSTANCE=x", "A=1"}, api.Settings{IncrementVar: "PORT"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(env)
	if want := []string{"A=1", "NODE_APP_INSTANCE=2", "OPM_INSTANCE=2", "PORT=3002"}; !slices.Equal(env, want) {
		t.Fatalf("instance env %q, want %q", env, want)
	}
	if _, err := api.InstanceEnvOf(nil, api.Settings{IncrementVar: "PORT"}, 1); err == nil {
		t.Fatal("increment_var without the variable: no error")
	}
	for _, c := range []struct {
		in      string
		current int
		want    int
		ok      bool
	}{{"4", 0, 4, true}, {"+2", 3, 5, true}, {"-1", 3, 2, true}, {"-3", 3, 0, false}, {"0", 2, 0, false}, {"x", 0, 0, false}, {"2000", 0, 0, false}} {
		got, err := api.ParseInstances(c.in, c.current)
		if (err == nil) != c.ok || c.ok && got != c.want {
			t.Errorf("ParseInstances(%q, %d) = %d, %v; want %d, ok %v", c.in, c.current, got, err, c.want, c.ok)
		}
	}
}
