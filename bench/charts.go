package main

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The README's charts, drawn with gonum.org/v1/plot as SVG from
// results.json alone: the same file gives the same bytes (the only date
// in them is the run's, in the title).

// chartOutcome is one chart: the file written next to the README, or why
// there is none.
type chartOutcome struct {
	name   string // "restore"
	alt    string // the image's alt text
	file   string // "restore.svg", "" when not written
	why    string // why not written
	series int    // lines drawn
}

// chartSeries is one line of a chart: a tool or a floor.
type chartSeries struct {
	label string
	pts   plotter.XYs
}

// chartSpec describes a chart of a value against the number of apps.
type chartSpec struct {
	name, file, alt string
	title           string // first line of the title
	yLabel          string // without the unit
	none            string // why there is no chart when no row matches
	// The rows charted: those of scenario whose metric matches metric
	// (chartData).
	scenario string
	metric   *regexp.Regexp
}

var chartSpecs = []chartSpec{
	{
		name:     "restore",
		file:     "restore.svg",
		alt:      "restore time against the number of apps",
		title:    "Restore: time until all N saved apps are online",
		yLabel:   "time until all online",
		none:     "this run has no restore time (scenario 2 did not run or recorded nothing)",
		scenario: chartRestoreScenario,
		metric:   restoreMetric,
	},
	{
		name:     "daemon RSS",
		file:     "rss.svg",
		alt:      "daemon RSS against the number of apps",
		title:    "Daemon memory (RSS) with N apps online",
		yLabel:   "daemon RSS",
		none:     "this run has no RSS at scale (scenario 6 did not run or recorded nothing)",
		scenario: chartScaleScenario,
		metric:   rssMetric,
	},
}

const (
	chartRestoreScenario = "2 restore"
	chartScaleScenario   = "6 scale"
)

var (
	// "1000 apps online", "floor (bare Go spawner): 1000 apps online"
	restoreMetric = regexp.MustCompile(`^(?:floor \((?P<floor>.+)\): )?(?P<n>\d+) apps online$`)
	// "RSS at 1000 apps"
	rssMetric = regexp.MustCompile(`^RSS at (?P<n>\d+) apps$`)
)

// chartData returns the lines of the chart of the rows of scenario whose
// metric matches metric, and the unit. The group n of metric is the
// number of apps; a row whose optional group floor matched is a floor's,
// drawn after the tools' lines, with its value in the opm field.
func chartData(res *results, scenario string, metric *regexp.Regexp) ([]chartSeries, string) {
	apps, floor := metric.SubexpIndex("n"), metric.SubexpIndex("floor")
	c := newSeriesCollector()
	for _, r := range res.Rows {
		if r.Scenario != scenario {
			continue
		}
		m := metric.FindStringSubmatch(r.Metric)
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[apps])
		if err != nil {
			continue
		}
		if floor >= 0 && m[floor] != "" {
			c.add("floor: "+m[floor], n, r.OPM, r.Unit)
			continue
		}
		for _, t := range readmeTools {
			c.add(t.name, n, r.value(t.key), r.Unit)
		}
	}
	return c.result()
}

// seriesCollector gathers points by label, keeping the labels' order:
// the tools first (readmeTools' order), then the rest as they come.
type seriesCollector struct {
	order []string
	pts   map[string]plotter.XYs
	unit  string
}

func newSeriesCollector() *seriesCollector {
	c := &seriesCollector{pts: map[string]plotter.XYs{}}
	for _, t := range readmeTools {
		c.order = append(c.order, t.name)
	}
	return c
}

func (c *seriesCollector) add(label string, n int, v *float64, unit string) {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return
	}
	if !slices.Contains(c.order, label) {
		c.order = append(c.order, label)
	}
	if c.unit == "" {
		c.unit = unit
	}
	c.pts[label] = append(c.pts[label], plotter.XY{X: float64(n), Y: *v})
}

func (c *seriesCollector) result() ([]chartSeries, string) {
	var ss []chartSeries
	for _, l := range c.order {
		pts := c.pts[l]
		if len(pts) == 0 {
			continue
		}
		slices.SortStableFunc(pts, func(a, b plotter.XY) int {
			switch {
			case a.X < b.X:
				return -1
			case a.X > b.X:
				return 1
			}
			return 0
		})
		ss = append(ss, chartSeries{l, pts})
	}
	return ss, c.unit
}

// writeCharts draws every chart into dir; a chart without data is not
// written, and a stale file of it is removed.
func writeCharts(res *results, dir string) ([]chartOutcome, error) {
	var outs []chartOutcome
	for _, spec := range chartSpecs {
		out := chartOutcome{name: spec.name, alt: spec.alt}
		ss, unit := chartData(res, spec.scenario, spec.metric)
		path := filepath.Join(dir, spec.file)
		if len(ss) == 0 {
			out.why = spec.none
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			outs = append(outs, out)
			continue
		}
		svg, err := drawChart(spec, ss, unit, res)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", spec.file, err)
		}
		if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, svg) {
			if err := writeFileAtomic(path, svg, 0o644); err != nil {
				return nil, err
			}
		}
		out.file, out.series = spec.file, len(ss)
		outs = append(outs, out)
	}
	return outs, nil
}

// seriesLook gives each label its colour, dashes and glyph: the tools
// fixed colours, floors grey and dashed.
func seriesLook(label string, floor int) (draw.LineStyle, draw.GlyphStyle) {
	ls := draw.LineStyle{Width: vg.Points(1.5)}
	gs := draw.GlyphStyle{Radius: vg.Points(3)}
	switch label {
	case "opm":
		ls.Color, gs.Shape = color.RGBA{0x1f, 0x77, 0xb4, 0xff}, draw.CircleGlyph{}
	case "PM2":
		ls.Color, gs.Shape = color.RGBA{0xd6, 0x27, 0x28, 0xff}, draw.SquareGlyph{}
	case "supervisord":
		ls.Color, gs.Shape = color.RGBA{0xff, 0x7f, 0x0e, 0xff}, draw.TriangleGlyph{}
	default:
		greys := []color.Color{color.RGBA{0x55, 0x55, 0x55, 0xff}, color.RGBA{0x99, 0x99, 0x99, 0xff}}
		shapes := []draw.GlyphDrawer{draw.CrossGlyph{}, draw.PlusGlyph{}, draw.RingGlyph{}, draw.BoxGlyph{}}
		ls.Color, gs.Shape = greys[floor%len(greys)], shapes[floor%len(shapes)]
		ls.Width = vg.Points(1)
		ls.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	gs.Color = ls.Color
	return ls, gs
}

// chartWidth and chartHeight are the charts' size.
var chartWidth, chartHeight = vg.Points(560), vg.Points(360)

// drawChart returns the SVG of one chart.
func drawChart(spec chartSpec, ss []chartSeries, unit string, res *results) ([]byte, error) {
	p, err := buildChart(spec, ss, unit, res)
	if err != nil {
		return nil, err
	}
	c := vgsvg.New(chartWidth, chartHeight)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	// The SVG names the font it was laid out with; viewers without it
	// fall back to Arial (the same metrics) or any sans-serif.
	return bytes.ReplaceAll(buf.Bytes(), []byte("font-family:Liberation Sans;"), []byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")), nil
}

// buildChart lays out one chart.
func buildChart(spec chartSpec, ss []chartSeries, unit string, res *results) (*plot.Plot, error) {
	p := plot.New()
	commit := res.Commit
	if commit == "" {
		commit = "unknown"
	}
	p.Title.Text = fmt.Sprintf("%s\ncommit %s, %s", spec.title, commit, fmtStarted(res.Started))
	p.X.Label.Text = "apps (N)"
	p.Y.Label.Text = spec.yLabel
	if unit != "" {
		p.Y.Label.Text += " (" + unit + ")"
	}
	p.Add(plotter.NewGrid())
	var xs, ys []float64
	floors := 0
	for _, s := range ss {
		l, sc, err := plotter.NewLinePoints(s.pts)
		if err != nil {
			return nil, err
		}
		l.LineStyle, sc.GlyphStyle = seriesLook(s.label, floors)
		if !slices.ContainsFunc(readmeTools, func(t readmeTool) bool { return t.name == s.label }) {
			floors++
		}
		p.Add(l, sc)
		p.Legend.Add(s.label, l, sc)
		for _, pt := range s.pts {
			xs, ys = append(xs, pt.X), append(ys, pt.Y)
		}
	}
	// Every figure grows with N: the bottom right is where the lines are not.
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(-10), vg.Points(8)
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
		f.Variant = "Sans"
	}

	// X: a tick at every N measured; log when N spans a decade or more.
	ns := slices.Clone(xs)
	slices.Sort(ns)
	var xticks []plot.Tick
	for _, x := range slices.Compact(ns) {
		xticks = append(xticks, plot.Tick{Value: x, Label: fmtNum(x)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(xticks)
	xmin, xmax := slices.Min(xs), slices.Max(xs)
	if useLog(xmin, xmax) {
		p.X.Scale = plot.LogScale{}
		p.X.Min, p.X.Max = xmin/1.15, xmax*1.15
	} else {
		p.X.Min, p.X.Max = math.Min(0, xmin), xmax*1.05
		if xmax == 0 {
			p.X.Max = 1
		}
	}

	// Y: log when the values span a decade or more, else from 0.
	ymin, ymax := slices.Min(ys), slices.Max(ys)
	if useLog(ymin, ymax) {
		p.Y.Scale = plot.LogScale{}
		p.Y.Min, p.Y.Max = ymin/1.25, ymax*1.25
		p.Y.Tick.Marker = plot.TickerFunc(logTicks)
	} else {
		p.Y.Min, p.Y.Max = math.Min(0, ymin), ymax*1.08
		if p.Y.Max <= p.Y.Min {
			p.Y.Max = p.Y.Min + 1
		}
		p.Y.Tick.Marker = plot.TickerFunc(linearTicks)
	}

	return p, nil
}

// useLog says whether values from lo to hi call for a log axis: all
// positive and spanning a factor of 10 or more.
func useLog(lo, hi float64) bool {
	return lo > 0 && hi/lo >= 10
}

// logTicks puts ticks at 1, 2 and 5 × 10^k, labelled with fmtNum; when
// that makes more than 8 labels, only the powers of ten are labelled.
func logTicks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	var decade []bool
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		for _, m := range []float64{1, 2, 5} {
			if v := m * math.Pow(10, e); v >= lo && v <= hi {
				ticks = append(ticks, plot.Tick{Value: v, Label: fmtNum(v)})
				decade = append(decade, m == 1)
			}
		}
	}
	if len(ticks) > 8 {
		for i := range ticks {
			if !decade[i] {
				ticks[i].Label = ""
			}
		}
	}
	return ticks
}

// linearTicks is plot's default ticks, labelled with fmtNum.
func linearTicks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = fmtNum(ticks[i].Value)
		}
	}
	return ticks
}
