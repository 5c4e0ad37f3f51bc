package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixtureResults is a full run with PM2 (no supervisord values) in the
// format the harness writes.
const fixtureResults = `{
  "machine": {"nproc": 2, "cpu_model": "AMD EPYC", "kernel": "6.18.44", "memory_mb": 24105, "go": "go1.26.8", "load_start": 30.5, "load_end": 4.2},
  "commit": "153dd27-dirty",
  "started": "2026-11-26T17:28:03.5Z",
  "seconds": 765.3,
  "quick": false,
  "opm": "opm version 0.1.0-dev",
  "pm2": "PM2 7.0.4 on Node v20.20.2",
  "params": {"quick": false, "pm2": true, "restore_n": [100, 1000], "idle_window": "30s"},
  "rows": [
    {"scenario": "1 flag check", "metric": "shm Flag.InProgress time", "unit": "ns/op", "opm": 0.8664},
    {"scenario": "1 flag check", "metric": "shm Flag.InProgress allocs", "unit": "allocs/op", "opm": 0, "target": "0", "met": true},
    {"scenario": "2 restore", "metric": "floor (bare Go spawner): 100 apps online", "unit": "ms", "opm": 512.25},
    {"scenario": "2 restore", "metric": "floor (posix_spawn loop): 100 apps online", "unit": "ms", "opm": 301.5},
    {"scenario": "2 restore", "metric": "100 apps online", "unit": "ms", "opm": 420.123, "pm2": 2500, "opm_per_pm2": 0.168, "target": "≤ 1000, ≤ 0.1 PM2", "met": false, "detail": "limit met, ratio to PM2 missed"},
    {"scenario": "2 restore", "metric": "100 apps: command returned", "unit": "ms", "opm": 300, "pm2": 2400},
    {"scenario": "2 restore", "metric": "floor (bare Go spawner): 1000 apps online", "unit": "ms", "opm": 6872},
    {"scenario": "2 restore", "metric": "floor (posix_spawn loop): 1000 apps online", "unit": "ms", "opm": 3100.7},
    {"scenario": "2 restore", "metric": "1000 apps online", "unit": "ms", "opm": 5200.4, "pm2": 20758, "opm_per_pm2": 0.2505, "target": "≤ 1000, ≤ 0.1 PM2", "met": false},
    {"scenario": "6 scale", "metric": "RSS at 10 apps", "unit": "MB", "opm": 12.5, "pm2": 70.25, "opm_per_pm2": 0.178},
    {"scenario": "6 scale", "metric": "threads at 10 apps", "unit": "count", "opm": 17, "pm2": 11},
    {"scenario": "6 scale", "metric": "RSS at 1000 apps", "unit": "MB", "opm": 50, "pm2": 163, "opm_per_pm2": 0.307},
    {"scenario": "6 scale", "metric": "RSS at 100 apps", "unit": "MB", "opm": 18.75, "pm2": 80},
    {"scenario": "race ×3, 50 apps", "metric": "hung commands | pipes", "unit": "commands", "opm": 0, "pm2": 6, "target": "0", "met": true}
  ],
  "races": [
    {"tool": "opm", "round": 1, "restorers": 3, "apps": 50, "daemons": 1, "running": 50, "missing": 0, "duplicates": 0, "hung": 0, "failed": 0, "left_after_stop": 0, "seconds": 1.2041},
    {"tool": "PM2", "round": 1, "restorers": 3, "apps": 50, "daemons": 3, "running": 50, "missing": 0, "duplicates": 0, "hung": 2, "failed": 0, "left_after_stop": 2, "seconds": 30.05}
  ],
  "load_by_scenario": {"1": 30.5, "2": 28.6, "6": 7.2, "race": 14.2},
  "errors": ["scenario 5 (CLI list): opm list <n> failed"],
  "notes": ["scenario 4 window: 30s after a 1s settle"]
}
`

const (
	readmeBefore = "# bench\n\nProse about the harness.\n\n## Latest results\n\nSee the table.\n\n"
	readmeAfter  = "\n### What limits opm here\n\nAnalysis, no figures.\n"
)

func fixture(t *testing.T, js string) *results {
	t.Helper()
	var res results
	if err := json.Unmarshal([]byte(js), &res); err != nil {
		t.Fatal(err)
	}
	return &res
}

// tempReadme writes a README with an old generated section to a temp dir.
func tempReadme(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "README.md")
	old := readmeBefore + readmeBegin + "\nold figures | 1 | 2\n" + readmeEnd + readmeAfter
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadmeRegenerate(t *testing.T) {
	path := tempReadme(t)
	res := fixture(t, fixtureResults)
	written, err := regenerateReadme(res, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 2 {
		t.Errorf("charts written: %v, want restore.svg and rss.svg", written)
	}
	first := readFile(t, path)
	s := string(first)
	if !strings.HasPrefix(s, readmeBefore+readmeBegin+"\n") {
		t.Errorf("text before the section changed:\n%s", s)
	}
	if !strings.HasSuffix(s, "\n"+readmeEnd+readmeAfter) {
		t.Errorf("text after the section changed:\n%s", s)
	}
	if strings.Contains(s, "old figures") {
		t.Error("the old section is still there")
	}
	for _, want := range []string{
		"commit `153dd27-dirty`", "2026-11-26 17:28 UTC", "12 min 45 s", "A full run",
		"AMD EPYC", "`nproc` 2", "23.5 GiB RAM", "Linux 6.18.44", "go1.26.8",
		"30.5 at the start, 4.2 at the end", "1: 30.5, 2: 28.6, 6: 7.2, race: 14.2",
		"`go run ./bench --pm2`", "PM2 7.0.4 on Node v20.20.2",
		"![restore time against the number of apps](restore.svg)",
		"![daemon RSS against the number of apps](rss.svg)",
		"### 2 restore", "Load average 28.6 as it started.",
		"| 100 apps online | ms | 420 | 2500 | 0.168 | ≤ 1000, ≤ 0.1 PM2 | **NO** (limit met, ratio to PM2 missed) |",
		"| shm Flag.InProgress time | ns/op | 0.866 | ", // three significant digits
		"| 1000 apps online | ms | 5200 | 20758 | 0.251 |",
		`hung commands \| pipes`, // a pipe in a cell is escaped
		"| PM2 | 1 | 3 | 50 | 3 | 50 | 0 | 0 | 2 | 0 | 30.1 | 2 |",
		"### Errors", "opm list &lt;n&gt; failed", "This run reported 1 error",
		"### Notes", "scenario 4 window",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("section lacks %q:\n%s", want, s)
		}
	}

	// Idempotent: the same results give the same bytes, README and charts.
	svgs := map[string][]byte{}
	for _, f := range written {
		svgs[f] = readFile(t, f)
	}
	if _, err := regenerateReadme(res, path); err != nil {
		t.Fatal(err)
	}
	if second := readFile(t, path); !bytes.Equal(first, second) {
		t.Errorf("second run changed the README:\n%s\n---\n%s", first, second)
	}
	for f, b := range svgs {
		if !bytes.Equal(b, readFile(t, f)) {
			t.Errorf("second run changed %s", f)
		}
	}
}

// tableHeader returns the header line of the table under heading.
func tableHeader(t *testing.T, s, heading string) string {
	t.Helper()
	_, after, ok := strings.Cut(s, heading+"\n")
	if !ok {
		t.Fatalf("no %q in:\n%s", heading, s)
	}
	for line := range strings.Lines(after) {
		if strings.HasPrefix(line, "| ") {
			return strings.TrimSpace(line)
		}
	}
	t.Fatalf("no table under %q", heading)
	return ""
}

func TestReadmeColumns(t *testing.T) {
	res := fixture(t, fixtureResults)
	s := renderSection(res, nil)
	if strings.Contains(s, "supervisord") {
		t.Errorf("no row has a supervisord value, yet the section names it:\n%s", s)
	}
	if h, want := tableHeader(t, s, "### 1 flag check"), "| metric | unit | opm | target | met |"; h != want {
		t.Errorf("scenario 1 (opm alone): header %q, want %q", h, want)
	}
	if h, want := tableHeader(t, s, "### 2 restore"), "| metric | unit | opm | PM2 | opm/PM2 | target | met |"; h != want {
		t.Errorf("scenario 2: header %q, want %q", h, want)
	}

	// With supervisord values and ratios, and without PM2's.
	js := strings.ReplaceAll(fixtureResults, `"pm2": `, `"supervisord": `)
	js = strings.ReplaceAll(js, `"opm_per_pm2": `, `"opm_per_supervisord": `)
	s = renderSection(fixture(t, js), nil)
	if h, want := tableHeader(t, s, "### 2 restore"), "| metric | unit | opm | supervisord | opm/supervisord | target | met |"; h != want {
		t.Errorf("scenario 2 with supervisord: header %q, want %q", h, want)
	}
	if h, want := tableHeader(t, s, "### 6 scale"), "| metric | unit | opm | supervisord | opm/supervisord | target | met |"; h != want {
		t.Errorf("scenario 6 with supervisord: header %q, want %q", h, want)
	}
}

func TestReadmeMissingMarkers(t *testing.T) {
	for name, text := range map[string]string{
		"none":     "# bench\n\n## Latest results\n\nfigures\n",
		"no end":   "# bench\n" + readmeBegin + "\nfigures\n",
		"no begin": "# bench\nfigures\n" + readmeEnd + "\n",
		"reversed": "# bench\n" + readmeEnd + "\nfigures\n" + readmeBegin + "\n",
		"twice":    readmeBegin + "\n" + readmeEnd + "\n" + readmeBegin + "\n" + readmeEnd + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "README.md")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := regenerateReadme(fixture(t, fixtureResults), path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), readmeBegin) || !strings.Contains(err.Error(), readmeEnd) {
				t.Errorf("the error does not say which lines to add: %v", err)
			}
			if got := readFile(t, path); string(got) != text {
				t.Errorf("README changed despite the error:\n%s", got)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), "restore.svg")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a chart was written despite the error: %v", err)
			}
		})
	}
}

// svgSeries parses an SVG with encoding/xml and returns which of labels
// its text elements show (the legend's entries).
func svgSeries(t *testing.T, path string, labels []string) []string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(readFile(t, path)))
	var found []string
	var inText bool
	var root string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", path, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
			inText = tok.Name.Local == "text"
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if l := strings.TrimSpace(string(tok)); inText && slices.Contains(labels, l) {
				found = append(found, l)
			}
		}
	}
	if root != "svg" {
		t.Fatalf("%s: root element %q, want svg", path, root)
	}
	return found
}

func TestReadmeCharts(t *testing.T) {
	dir := t.TempDir()
	res := fixture(t, fixtureResults)
	outs, err := writeCharts(res, dir)
	if err != nil {
		t.Fatal(err)
	}
	labels := []string{"opm", "PM2", "supervisord", "floor: bare Go spawner", "floor: posix_spawn loop"}
	want := map[string][]string{
		"restore.svg": {"opm", "PM2", "floor: bare Go spawner", "floor: posix_spawn loop"},
		"rss.svg":     {"opm", "PM2"},
	}
	if len(outs) != len(want) {
		t.Fatalf("%d charts, want %d: %+v", len(outs), len(want), outs)
	}
	for _, o := range outs {
		w, ok := want[o.file]
		if !ok {
			t.Errorf("unexpected chart %+v", o)
			continue
		}
		if o.series != len(w) {
			t.Errorf("%s: %d series, want %d", o.file, o.series, len(w))
		}
		if got := svgSeries(t, filepath.Join(dir, o.file), labels); !slices.Equal(got, w) {
			t.Errorf("%s: legend %q, want %q", o.file, got, w)
		}
		svg := string(readFile(t, filepath.Join(dir, o.file)))
		if !strings.Contains(svg, "commit 153dd27-dirty, 2026-11-26 17:28 UTC") {
			t.Errorf("%s: the title lacks the commit and date", o.file)
		}
	}

	// The restore chart's points: every N of every series, sorted.
	ss, unit := chartData(res, chartRestoreScenario, restoreMetric)
	if unit != "ms" || len(ss) != 4 || len(ss[0].pts) != 2 || ss[0].pts[0].X != 100 || ss[0].pts[1].Y != 5200.4 {
		t.Errorf("restore series %+v (%s)", ss, unit)
	}
	ss, _ = chartData(res, chartScaleScenario, rssMetric)
	if len(ss) != 2 || len(ss[1].pts) != 3 || ss[1].pts[1].X != 100 || ss[1].pts[1].Y != 80 {
		t.Errorf("RSS series %+v", ss)
	}
}

func TestReadmeNoChartData(t *testing.T) {
	path := tempReadme(t)
	dir := filepath.Dir(path)
	// A stale chart from an earlier run must not survive.
	if err := os.WriteFile(filepath.Join(dir, "restore.svg"), []byte("<svg/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	js := `{"started": "2026-11-27T12:09:27Z", "quick": true, "params": {"quick": true, "only": "4"},
	  "rows": [{"scenario": "4 idle daemon", "metric": "100 apps: RSS", "unit": "MB", "opm": 16.2}]}`
	written, err := regenerateReadme(fixture(t, js), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 0 {
		t.Errorf("charts written without data: %v", written)
	}
	for _, f := range []string{"restore.svg", "rss.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want it absent", f, err)
		}
	}
	s := string(readFile(t, path))
	for _, want := range []string{
		"No restore chart: this run has no restore time", "No daemon RSS chart:",
		"**Not a full run:** a --quick run of some scenarios only (--only 4)",
		"commit `unknown (not recorded)`", "`go run ./bench --quick --only 4`",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("section lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "PM2") {
		t.Errorf("an opm-only run shows a PM2 column:\n%s", s)
	}
}

func TestReadmePartial(t *testing.T) {
	for js, want := range map[string]string{
		`{"quick": false, "params": {"quick": false}}`:              "",
		`{"quick": true, "params": {"quick": true}}`:                "a --quick run",
		`{"quick": false, "params": {"quick": false, "only": "4"}}`: "a run of some scenarios only (--only 4)",
	} {
		if got := fixture(t, js).partial(); got != want {
			t.Errorf("%s: partial %q, want %q", js, got, want)
		}
	}
}

func TestFmtSeconds(t *testing.T) {
	for s, want := range map[float64]string{45.25: "45.2 s", 765.3: "12 min 45 s", 3800: "1 h 3 min"} {
		if got := fmtSeconds(s); got != want {
			t.Errorf("fmtSeconds(%v) = %q, want %q", s, got, want)
		}
	}
}
