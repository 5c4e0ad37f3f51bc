package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
)

// report collects every figure of one run; it is printed as tables and
// written as JSON.
type report struct {
	Machine machine   `json:"machine"`
	Commit  string    `json:"commit"` // the work tree's when the run started: gitCommit
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Quick   bool      `json:"quick"`
	OPM     string    `json:"opm"`
	PM2     string    `json:"pm2,omitempty"`
	// Supervisord is go-supervisord's version when it ran.
	Supervisord string `json:"supervisord,omitempty"`
	Params      params `json:"params"`
	Rows        []*row `json:"rows"`
	Races       []race `json:"races,omitempty"`
	// Load is the 1-minute load average as each scenario started.
	Load   map[string]float64 `json:"load_by_scenario,omitempty"`
	Errors []string           `json:"errors,omitempty"`
	Notes  []string           `json:"notes,omitempty"`
}

// row is one metric, measured on opm and, when run, on PM2 and
// go-supervisord. Lower is better for every metric with a peer's column,
// so a ratio below 1 is opm ahead.
type row struct {
	Scenario string   `json:"scenario"`
	Metric   string   `json:"metric"`
	Unit     string   `json:"unit"`
	OPM      *float64 `json:"opm,omitempty"`
	PM2      *float64 `json:"pm2,omitempty"`
	Ratio    *float64 `json:"opm_per_pm2,omitempty"`
	// Supervisord is go-supervisord's value; SupervisordRatio opm's per it.
	Supervisord      *float64 `json:"supervisord,omitempty"`
	SupervisordRatio *float64 `json:"opm_per_supervisord,omitempty"`
	Target           string   `json:"target,omitempty"`
	Met              *bool    `json:"met,omitempty"`
	// Detail says which part of a two-part target was missed.
	Detail string `json:"detail,omitempty"`

	check func(r *row) (met, known bool)
	// noRatio marks counts whose ratio means nothing.
	noRatio bool
}

// set records value v of tool ("opm", "PM2" or "supervisord") for a
// metric.
func (rep *report) set(scenario, metric, unit, tool string, v float64) *row {
	var r *row
	for _, x := range rep.Rows {
		if x.Scenario == scenario && x.Metric == metric {
			r = x
		}
	}
	if r == nil {
		r = &row{Scenario: scenario, Metric: metric, Unit: unit}
		rep.Rows = append(rep.Rows, r)
	}
	switch tool {
	case "PM2":
		r.PM2 = &v
	case "supervisord":
		r.Supervisord = &v
	default:
		r.OPM = &v
	}
	return r
}

// target attaches a target to the row.
func (r *row) target(desc string, check func(r *row) (met, known bool)) *row {
	r.Target, r.check = desc, check
	return r
}

// atMost is met when opm's value is at most limit.
func atMost(limit float64) func(r *row) (bool, bool) {
	return func(r *row) (bool, bool) {
		if r.OPM == nil {
			return false, false
		}
		return *r.OPM <= limit, true
	}
}

// atLeast is met when opm's value is at least limit.
func atLeast(limit float64) func(r *row) (bool, bool) {
	return func(r *row) (bool, bool) {
		if r.OPM == nil {
			return false, false
		}
		return *r.OPM >= limit, true
	}
}

// andRatio adds "opm/PM2 at most ratio" to check when PM2 ran.
func andRatio(check func(r *row) (bool, bool), ratio float64) func(r *row) (bool, bool) {
	return func(r *row) (bool, bool) {
		met, known := check(r)
		if !known || r.Ratio == nil {
			return met, known
		}
		ratioMet := *r.Ratio <= ratio
		switch {
		case met && !ratioMet:
			r.Detail = "limit met, ratio to PM2 missed"
		case !met && ratioMet:
			r.Detail = "limit missed, ratio to PM2 met"
		}
		return met && ratioMet, true
	}
}

func (rep *report) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintln(os.Stderr, "bench:", msg)
	rep.Errors = append(rep.Errors, msg)
}

func (rep *report) notef(format string, args ...any) {
	rep.Notes = append(rep.Notes, fmt.Sprintf(format, args...))
}

// finish computes ratios and target verdicts.
func (rep *report) finish() {
	rep.Seconds = math.Round(time.Since(rep.Started).Seconds()*10) / 10
	rep.Machine.LoadEnd = loadAvg()
	for _, r := range rep.Rows {
		r.Ratio, r.SupervisordRatio, r.Met, r.Detail = nil, nil, nil, ""
		if !r.noRatio {
			r.Ratio, r.SupervisordRatio = ratio(r.OPM, r.PM2), ratio(r.OPM, r.Supervisord)
		}
		if r.check != nil {
			if met, known := r.check(r); known {
				r.Met = &met
			}
		}
	}
}

// ratio is opm/peer, or nil when either is missing or peer is 0.
func ratio(opm, peer *float64) *float64 {
	if opm == nil || peer == nil || *peer == 0 {
		return nil
	}
	q := *opm / *peer
	return &q
}

// hasSupervisord reports whether some row has a go-supervisord value.
func (rep *report) hasSupervisord() bool {
	for _, r := range rep.Rows {
		if r.Supervisord != nil {
			return true
		}
	}
	return false
}

// writeJSON writes the report to path.
func (rep *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// print writes the tables.
func (rep *report) print(w io.Writer) {
	fmt.Fprintf(w, "machine: %s\n", rep.Machine)
	fmt.Fprintf(w, "opm: %s", rep.OPM)
	if rep.PM2 != "" {
		fmt.Fprintf(w, "; %s", rep.PM2)
	}
	if rep.Supervisord != "" {
		fmt.Fprintf(w, "; %s", rep.Supervisord)
	}
	fmt.Fprintf(w, "; run took %.1f s%s\n\n", rep.Seconds, map[bool]string{true: " (--quick)"}[rep.Quick])

	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	t.Style().Format.Header = text.FormatDefault
	hdr := table.Row{"scenario", "metric", "opm"}
	if rep.PM2 != "" {
		hdr = append(hdr, "PM2", "opm/PM2")
	}
	supd := rep.hasSupervisord()
	if supd {
		hdr = append(hdr, "supervisord", "opm/supervisord")
	}
	t.AppendHeader(append(hdr, "target", "met"))
	for _, r := range rep.Rows {
		line := table.Row{r.Scenario, r.Metric + " (" + r.Unit + ")", fmtPtr(r.OPM)}
		if rep.PM2 != "" {
			line = append(line, fmtPtr(r.PM2), fmtPtr(r.Ratio))
		}
		if supd {
			line = append(line, fmtPtr(r.Supervisord), fmtPtr(r.SupervisordRatio))
		}
		met := fmtMet(r.Met)
		if r.Detail != "" {
			met += " (" + r.Detail + ")"
		}
		t.AppendRow(append(line, r.Target, met))
	}
	t.Render()
	if len(rep.Load) > 0 {
		fmt.Fprint(w, "load average as each scenario started:")
		for _, s := range scenarios {
			if l, ok := rep.Load[s.id]; ok {
				fmt.Fprintf(w, " %s: %.1f", s.id, l)
			}
		}
		fmt.Fprintln(w)
	}
	if len(rep.Races) > 0 {
		fmt.Fprintln(w)
		printRaces(w, rep.Races)
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	for _, e := range rep.Errors {
		fmt.Fprintln(w, "error:", e)
	}
}

func fmtPtr(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmtNum(*v)
}

// fmtNum prints three significant digits, integers above 1000.
func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	default:
		return strings.TrimSuffix(fmt.Sprintf("%.3g", v), ".0")
	}
}

func fmtMet(m *bool) string {
	switch {
	case m == nil:
		return ""
	case *m:
		return "yes"
	default:
		return "NO"
	}
}

// supervisordWithin is met when opm's value is at most go-supervisord's
// plus slack (the measurement's resolution: two figures closer than that
// are not told apart); unknown when go-supervisord did not run.
func supervisordWithin(slack float64) func(r *row) (bool, bool) {
	return func(r *row) (bool, bool) {
		if r.OPM == nil || r.Supervisord == nil {
			return false, false
		}
		return *r.OPM <= *r.Supervisord+slack, true
	}
}

// below is met when opm's value is less than limit.
func below(limit float64) func(r *row) (bool, bool) {
	return func(r *row) (bool, bool) {
		if r.OPM == nil {
			return false, false
		}
		return *r.OPM < limit, true
	}
}
