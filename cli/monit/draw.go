package monit

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jedib0t/go-pretty/v6/text"

	"opm/daemon/api"
)

// Minimum terminal size: below it the dashboard says so instead of
// drawing.
const (
	MinWidth  = 60
	MinHeight = 12
)

// SGR attributes.
const (
	sgrReset   = "\x1b[0m"
	sgrReverse = "\x1b[7m"
	sgrBold    = "\x1b[1m"
	sgrRed     = "\x1b[31m"
	sgrGreen   = "\x1b[32m"
	sgrGrey    = "\x1b[90m"
	sgrCyan    = "\x1b[36m"
)

// Column widths of the app table.
const (
	colMark     = 2 // "▶ "
	colID       = 3
	colStatus   = 16 // "waiting (1500ms)"
	colRestarts = 3
	colUptime   = 6
	colCPU      = 6 // "100.0%"
	colMem      = 8 // "1023.9mb"
	minName     = 6
	maxName     = 24
	maxSpark    = histLen
)

// layout is where the parts of a frame go.
type layout struct {
	w, h        int
	name, spark int // column widths
	appRows     int // lines for apps
	logRows     int // lines for the log tail
}

// layoutFor lays out a terminal of w×h for rows (their labels' widths).
func layoutFor(w, h int, rows []Row) layout {
	l := layout{w: w, h: h}
	l.name = minName
	for _, r := range rows {
		l.name = max(l.name, width(r.Label))
	}
	l.name = min(l.name, maxName)
	fixed := colMark + colID + 1 + l.name + 1 + colStatus + 1 + colRestarts + 1 + colUptime + 1 + 1 + colCPU + 1 + 1 + colMem
	if spare := w - fixed; spare < 2 && l.name > minName {
		l.name = max(minName, l.name-(2-spare))
		fixed = w - 2
	}
	l.spark = min(max((w-fixed)/2, 0), maxSpark)
	// Title, header, separator and key line; the rest is shared by the
	// apps (up to half) and the log tail.
	body := h - 4
	l.appRows = min(max(len(rows), 1), max(3, body/2))
	l.logRows = body - l.appRows
	return l
}

// frame draws the whole screen, one string per line, each at most w
// cells wide.
func (m *model) frame(w, h int) []string {
	if w < MinWidth || h < MinHeight {
		msg := fmt.Sprintf("terminal too small (%dx%d): opm monit needs at least %dx%d", w, h, MinWidth, MinHeight)
		lines := []string{fit(msg, w), fit("q quits", w)}
		return lines[:min(len(lines), max(h, 0))]
	}
	l := layoutFor(w, h, m.rows)
	var lines []string
	// The title: what opm monit is showing, and the last word of what
	// it did.
	title := fmt.Sprintf("opm monit · %d %s · every %s", len(m.rows), plural(len(m.rows), "app", "apps"), m.interval)
	lines = append(lines, m.titleLine(title, w))
	lines = append(lines, m.style(sgrBold, fit(m.header(l), w)))
	// The apps, scrolled to keep the selection in sight.
	if len(m.rows) == 0 {
		msg := "no apps (start one with 'opm start <script-or-command>')"
		if m.err != "" {
			msg = "cannot list the apps: " + m.err
		}
		lines = append(lines, fit(msg, w))
	}
	m.top = min(m.top, m.sel)
	if m.sel >= m.top+l.appRows {
		m.top = m.sel - l.appRows + 1
	}
	m.top = max(0, min(m.top, len(m.rows)-l.appRows))
	for i := m.top; i < len(m.rows) && i < m.top+l.appRows; i++ {
		lines = append(lines, m.appLine(l, i))
	}
	for len(lines) < 2+l.appRows {
		lines = append(lines, "")
	}
	// The log tail of the selected app.
	sep := "── logs"
	if r, ok := m.selected(); ok {
		sep += ": " + r.Label + " (out and err) "
	} else {
		sep += " "
	}
	lines = append(lines, m.style(sgrCyan, fit(sep+strings.Repeat("─", max(w-width(sep), 0)), w)))
	logs := m.logs
	if m.logErr != "" {
		logs = append(logs[:len(logs):len(logs)], LogLine{Text: "cannot read the logs: " + m.logErr, Err: true})
	}
	if len(logs) > l.logRows {
		logs = logs[len(logs)-l.logRows:]
	}
	for _, ln := range logs {
		s := fit(strings.ReplaceAll(ln.Text, "\t", "    "), w)
		if ln.Err {
			s = m.style(sgrRed, s)
		}
		lines = append(lines, s)
	}
	for len(lines) < h-1 {
		lines = append(lines, "")
	}
	keys := "↑↓ jk move · r restart · s stop · t start · l reload · q quit"
	lines = append(lines, m.style(sgrGrey, fit(keys, w-1)))
	return lines
}

// titleLine is the title with the message of the last action (or error)
// on the right.
func (m *model) titleLine(title string, w int) string {
	msg, bad := m.msg, m.msgErr
	if msg == "" && m.err != "" && len(m.rows) > 0 {
		msg, bad = "cannot list the apps: "+m.err, true
	}
	if msg == "" {
		return m.style(sgrBold, fit(title, w))
	}
	tw := width(title)
	if tw+3+width(msg) > w {
		tw = max(0, w-3-width(msg))
	}
	msgText := fit(msg, w-tw-3)
	sgr := sgrGreen
	if bad {
		sgr = sgrRed
	}
	return m.style(sgrBold, fit(title, tw)) + " · " + m.style(sgr, msgText)
}

// header is the app table's header line.
func (m *model) header(l layout) string {
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", colMark))
	b.WriteString(fitRight("id", colID) + " ")
	b.WriteString(fit("name", l.name) + " ")
	b.WriteString(fit("status", colStatus) + " ")
	b.WriteString(fitRight("↺", colRestarts) + " ")
	b.WriteString(fitRight("uptime", colUptime) + " ")
	b.WriteString(fit("cpu", l.spark+1+colCPU) + " ")
	b.WriteString(fit("memory", l.spark+1+colMem))
	return b.String()
}

// appLine is the line of the i-th app: selected in reverse video.
func (m *model) appLine(l layout, i int) string {
	r := m.rows[i]
	h := m.hist[r.ID]
	sel := i == m.sel
	mark := "  "
	if sel {
		mark = "▶ "
	}
	cpu, mem := "-", "-"
	if r.Sampled {
		cpu = strconv.FormatFloat(r.CPU, 'f', 1, 64) + "%"
		mem = r.MemoryText
	}
	var cpuSpark, memSpark string
	if h != nil {
		// CPU from 0 to 100% (or the peak, on several cores); memory
		// over the range it moved in, so that a leak shows.
		cpuSpark = sparkline(h.cpu, l.spark, 0, max(100, peak(h.cpu)))
		memSpark = sparkline(h.mem, l.spark, low(h.mem), peak(h.mem))
	} else {
		cpuSpark = strings.Repeat(" ", l.spark)
		memSpark = cpuSpark
	}
	status := fit(r.StatusText, colStatus)
	var pre, post strings.Builder
	pre.WriteString(mark)
	pre.WriteString(fitRight(strconv.Itoa(r.ID), colID) + " ")
	pre.WriteString(fit(r.Label, l.name) + " ")
	post.WriteString(" " + fitRight(strconv.Itoa(r.Restarts), colRestarts) + " ")
	post.WriteString(fitRight(r.Uptime, colUptime) + " ")
	post.WriteString(cpuSpark + " " + fitRight(cpu, colCPU) + " ")
	post.WriteString(memSpark + " " + fitRight(mem, colMem))
	if sel {
		return sgrReverse + fit(pre.String()+status+post.String(), l.w) + sgrReset
	}
	// The layout keeps the line within the width.
	return pre.String() + m.style(StatusColor(r.Status).EscapeSeq(), status) + post.String()
}

// StatusColor is the colour of an app's status, in opm monit as in opm
// list.
func StatusColor(status string) text.Color {
	switch status {
	case api.StatusOnline:
		return text.FgGreen
	case api.StatusErrored:
		return text.FgRed
	case api.StatusWaiting, api.StatusLaunching, api.StatusStopping:
		return text.FgYellow
	}
	return text.FgHiBlack
}

// style wraps s in the attribute sgr, unless colours are off.
func (m *model) style(sgr, s string) string {
	if !m.color || s == "" {
		return s
	}
	return sgr + s + sgrReset
}

// sparks are the eight levels of a sparkline.
var sparks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the last n values of vals scaled from bottom to top,
// one cell each, right-aligned; a missing value (negative: not running)
// is blank. Values that hardly move (within 1% of top) are drawn level,
// half way up.
func sparkline(vals []float64, n int, bottom, top float64) string {
	var b strings.Builder
	if len(vals) > n {
		vals = vals[len(vals)-n:]
	}
	b.WriteString(strings.Repeat(" ", n-len(vals)))
	for _, v := range vals {
		switch {
		case v < 0:
			b.WriteByte(' ')
		case top <= 0:
			b.WriteRune(sparks[0])
		case top-bottom <= top/100:
			b.WriteRune(sparks[len(sparks)/2-1])
		default:
			i := int((v - bottom) / (top - bottom) * float64(len(sparks)))
			b.WriteRune(sparks[max(0, min(i, len(sparks)-1))])
		}
	}
	return b.String()
}

// peak is the largest of vals (0 for none).
func peak(vals []float64) float64 {
	p := 0.0
	for _, v := range vals {
		p = max(p, v)
	}
	return p
}

// low is the smallest of vals that is not missing (0 for none).
func low(vals []float64) float64 {
	l := -1.0
	for _, v := range vals {
		if v >= 0 && (l < 0 || v < l) {
			l = v
		}
	}
	return max(l, 0)
}

// width is how many cells s takes.
func width(s string) int {
	return text.StringWidthWithoutEscSequences(s)
}

// fit cuts s to w cells (the last one an ellipsis when cut) and pads it
// with spaces to w.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return text.Pad(text.Snip(s, w, "…"), w, ' ')
}

// fitRight is fit aligned to the right.
func fitRight(s string, w int) string {
	sw := width(s)
	if sw >= w {
		return fit(s, w)
	}
	return strings.Repeat(" ", w-sw) + s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
