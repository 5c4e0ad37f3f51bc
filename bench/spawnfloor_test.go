package main

import (
	"testing"
)

func ptr(v float64) *float64 { return &v }

func TestAllOf(t *testing.T) {
	yes := func(*row) (bool, bool) { return true, true }
	no := func(*row) (bool, bool) { return false, true }
	unknown := func(*row) (bool, bool) { return false, false }
	for _, c := range []struct {
		name       string
		parts      []targetPart
		met, known bool
		wantDetail string
	}{
		{"all met", []targetPart{{"a", yes}, {"b", yes}}, true, true, ""},
		{"one missed", []targetPart{{"a", yes}, {"b", no}}, false, true, "missed: b"},
		{"all missed", []targetPart{{"a", no}, {"b", no}}, false, true, ""},
		{"unknown ignored", []targetPart{{"a", yes}, {"b", unknown}}, true, true, ""},
		{"unknown and missed", []targetPart{{"a", unknown}, {"b", no}}, false, true, ""},
		{"nothing known", []targetPart{{"a", unknown}}, false, false, ""},
	} {
		r := &row{}
		met, known := allOf(c.parts...)(r)
		if met != c.met || known != c.known || r.Detail != c.wantDetail {
			t.Errorf("%s: got %v %v %q, want %v %v %q", c.name, met, known, r.Detail, c.met, c.known, c.wantDetail)
		}
	}
}

func TestRestoreTarget(t *testing.T) {
	rep := &report{}
	if desc, _ := restoreTarget(rep, 100); desc != "" {
		t.Fatalf("target at 100 apps: %q", desc)
	}
	r := rep.set(scenarioRestore, "2000 apps online", "ms", "opm", 1300)
	desc, check := restoreTarget(rep, 2000)
	if desc == "" {
		t.Fatal("no target at 2000 apps")
	}
	if _, known := check(r); known {
		t.Fatal("known without the floor row")
	}
	rep.set(scenarioRestore, spawnFloorMetric(2000), "ms", "opm", 1000)
	if met, known := check(r); !known || met {
		t.Fatalf("1300 ms against a 1000 ms floor: met %v known %v", met, known)
	}
	rep.set(scenarioRestore, spawnFloorMetric(2000), "ms", "opm", 1100)
	if met, known := check(r); !known || !met {
		t.Fatalf("1300 ms against a 1100 ms floor: met %v known %v", met, known)
	}

	r = rep.set(scenarioRestore, "1000 apps online", "ms", "opm", 900)
	_, check = restoreTarget(rep, 1000)
	rep.set(scenarioRestore, spawnFloorMetric(1000), "ms", "opm", 700)
	if met, known := check(r); !known || met || r.Detail != "missed: ≤ 1.2× posix_spawn floor" {
		t.Fatalf("900 ms, floor 700 ms: met %v known %v detail %q", met, known, r.Detail)
	}
	r.Detail = ""
	r.Ratio = ptr(0.05)
	rep.set(scenarioRestore, spawnFloorMetric(1000), "ms", "opm", 800)
	if met, known := check(r); !known || !met || r.Detail != "" {
		t.Fatalf("900 ms, floor 800 ms, ratio 0.05: met %v known %v detail %q", met, known, r.Detail)
	}
	r.Ratio = ptr(0.2)
	if met, _ := check(r); met || r.Detail != "missed: ≤ 0.1× PM2" {
		t.Fatalf("ratio 0.2: met %v detail %q", met, r.Detail)
	}
}

func TestLookupRowPrefix(t *testing.T) {
	rep := &report{}
	rep.set(scenarioCLI, versionMetric+"ish, median of 20", "ms", "opm", 1)
	rep.set(scenarioCLI, versionMetric+", median of 20", "ms", "opm", 30)
	r := rep.lookupRow(scenarioCLI, versionMetric)
	if r == nil || *r.OPM != 30 {
		t.Fatalf("found %+v", r)
	}
	if rep.lookupRow("other", versionMetric) != nil {
		t.Fatal("found a row of another scenario")
	}
	list := rep.set(scenarioCLI, "100 apps, median of 10", "ms", "opm", 34)
	check := vsRow(rep, scenarioCLI, versionMetric, func(v float64) float64 { return v + 5 })
	if met, known := check(list); !known || !met {
		t.Fatalf("34 ms against version 30 + 5: met %v known %v", met, known)
	}
	list.OPM = ptr(36)
	if met, known := check(list); !known || met {
		t.Fatalf("36 ms against version 30 + 5: met %v known %v", met, known)
	}
}

// TestSpawnFloor runs the posix_spawn loop of three apps and checks that
// they are found and cleaned up.
func TestSpawnFloor(t *testing.T) {
	py, err := findSpawnPython(t.Context())
	if err != nil {
		t.Skip(err)
	}
	d, err := measureSpawnFloor(t.Context(), py, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 {
		t.Fatalf("took %v", d)
	}
}
