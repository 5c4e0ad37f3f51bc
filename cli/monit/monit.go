package monit

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Row is one app's line, as the Source words it.
type Row struct {
	ID    int
	Label string // printable: "web", "web:1"
	// Status is the app's status ("online"), for its colour; StatusText
	// is what is shown ("waiting (200ms)").
	Status, StatusText string
	PID                int
	Restarts           int
	Uptime             string // "5m", "-" when not running
	// Sampled says whether CPU and Memory were measured (the app runs).
	Sampled    bool
	CPU        float64 // percent
	Memory     uint64  // bytes
	MemoryText string  // "23.4mb"
}

// LogLine is one line of the log tail, printable; Err for the err log.
type LogLine struct {
	Text string
	Err  bool
}

// Source is what the dashboard shows and acts on: the daemon.
type Source interface {
	// Apps lists the apps, one row per instance.
	Apps(ctx context.Context) ([]Row, error)
	// Logs is the last n lines of the out and err logs of the app of
	// that id, as `opm logs` prints them.
	Logs(ctx context.Context, id, n int) ([]LogLine, error)
	// Act restarts, stops, starts or reloads (action) the app of that id.
	Act(ctx context.Context, action string, id int) error
}

// Options shape the dashboard.
type Options struct {
	// Interval is how often the apps are fetched while it is open.
	Interval time.Duration
	// Color turns colours on (the selection is in reverse video either
	// way).
	Color bool
}

// histLen is how many samples of CPU and memory each app keeps.
const histLen = 30

// history is the CPU and memory samples of one app, oldest first; -1
// where it did not run.
type history struct {
	cpu, mem []float64
}

// model is the dashboard's state. Only Run's goroutine touches it.
type model struct {
	interval time.Duration
	color    bool
	rows     []Row
	hist     map[int]*history
	sel, top int
	selID    int // the selected app's id, kept across refreshes
	logs     []LogLine
	logID    int // the app the logs are of
	logErr   string
	err      string // the last refresh's error
	msg      string // the last action's outcome
	msgErr   bool
}

// snapshot is what one refresh fetched.
type snapshot struct {
	rows   []Row
	err    error
	logID  int // the app the logs are of; -1 for none
	logs   []LogLine
	logErr error
}

// actionDone is the outcome of an action.
type actionDone struct {
	msg string
	err error
}

// Run shows the dashboard on the terminal in/out until q, Ctrl-C or the
// end of ctx.
func Run(ctx context.Context, in, out *os.File, src Source, o Options) error {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	t, err := openTerminal(in, out)
	if err != nil {
		return err
	}
	defer t.restore()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	input := make(chan []byte)
	go readInput(ctx, in, input)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	defer signal.Stop(winch)
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()

	m := &model{interval: o.Interval, color: o.Color, hist: map[int]*history{}, selID: -1, logID: -1}
	results := make(chan snapshot, 1)
	acts := make(chan actionDone)
	inflight, again := false, false
	refresh := func() {
		if inflight {
			again = true
			return
		}
		inflight = true
		logID := -1
		if id, ok := m.selectedID(); ok {
			logID = id
		}
		_, h := t.size()
		n := max(layoutFor(0, h, m.rows).logRows, 1)
		go func() {
			s := fetch(ctx, src, logID, n)
			select {
			case results <- s:
			case <-ctx.Done():
			}
		}()
	}
	act := func(a action) {
		r, ok := m.selected()
		if !ok {
			return
		}
		m.msg, m.msgErr = a.doing+" "+r.Label+"…", false
		go func() {
			err := src.Act(ctx, a.name, r.ID)
			d := actionDone{msg: a.done + " " + r.Label, err: err}
			if err != nil {
				d.msg = a.failed + " " + r.Label + ": " + err.Error()
			}
			select {
			case acts <- d:
			case <-ctx.Done():
			}
		}()
	}
	draw := func() error {
		w, h := t.size()
		return write(out, m.frame(w, h), h)
	}

	refresh()
	for {
		if err := draw(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			refresh()
		case <-winch:
		case s := <-results:
			inflight = false
			m.apply(s)
			if id, ok := m.selectedID(); again || ok && id != m.logID {
				again = false
				refresh()
			}
		case d := <-acts:
			m.msg, m.msgErr = d.msg, d.err != nil
			refresh()
		case b, ok := <-input:
			if !ok {
				return nil // the terminal went away
			}
			for _, k := range decodeKeys(b) {
				switch k {
				case keyQuit:
					return nil
				case keyUp:
					m.move(m.sel - 1)
				case keyDown:
					m.move(m.sel + 1)
				case keyTop:
					m.move(0)
				case keyBottom:
					m.move(len(m.rows) - 1)
				default:
					if a, ok := actions[k]; ok {
						act(a)
					}
				}
			}
			if id, ok := m.selectedID(); ok && id != m.logID {
				m.logs, m.logErr = nil, ""
				refresh()
			}
		}
	}
}

// action is what a key does to the selected app: the action Source.Act
// is given, and what is said while it runs, once done, and when it
// failed.
type action struct {
	name, doing, done, failed string
}

// actions are the keys that act on the selected app.
var actions = map[key]action{
	keyRestart: {"restart", "restarting", "restarted", "could not restart"},
	keyStop:    {"stop", "stopping", "stopped", "could not stop"},
	keyStart:   {"start", "starting", "started", "could not start"},
	keyReload:  {"reload", "reloading", "reloaded", "could not reload"},
}

// fetch asks src for the apps and, when logID is an app's (not -1), for
// its log tail of n lines.
func fetch(ctx context.Context, src Source, logID, n int) snapshot {
	s := snapshot{logID: logID}
	s.rows, s.err = src.Apps(ctx)
	if logID >= 0 {
		s.logs, s.logErr = src.Logs(ctx, logID, n)
	}
	return s
}

// apply takes in a refresh: the rows, a sample of each app, the logs.
func (m *model) apply(s snapshot) {
	if s.err != nil {
		m.err = oneLine(s.err.Error())
	} else {
		m.err = ""
		m.rows = s.rows
		seen := map[int]bool{}
		for _, r := range m.rows {
			seen[r.ID] = true
			h := m.hist[r.ID]
			if h == nil {
				h = &history{}
				m.hist[r.ID] = h
			}
			cpu, mem := -1.0, -1.0
			if r.Sampled {
				cpu, mem = r.CPU, float64(r.Memory)
			}
			h.cpu = appendCapped(h.cpu, cpu)
			h.mem = appendCapped(h.mem, mem)
		}
		for id := range m.hist {
			if !seen[id] {
				delete(m.hist, id)
			}
		}
		m.move(m.indexOf(m.selID))
	}
	if s.logID >= 0 && s.logID == m.selID {
		m.logID, m.logs, m.logErr = s.logID, s.logs, ""
		if s.logErr != nil {
			m.logErr = oneLine(s.logErr.Error())
		}
	}
}

// indexOf is the row of the app of that id; the selected row's place
// (clamped) when it is gone, the first when none was selected.
func (m *model) indexOf(id int) int {
	for i, r := range m.rows {
		if r.ID == id {
			return i
		}
	}
	if id < 0 {
		return 0
	}
	return m.sel
}

// move selects row i, kept within the rows.
func (m *model) move(i int) {
	m.sel = max(0, min(i, len(m.rows)-1))
	m.selID = -1
	if len(m.rows) > 0 {
		m.selID = m.rows[m.sel].ID
	}
}

// selected is the selected row.
func (m *model) selected() (Row, bool) {
	if m.sel < 0 || m.sel >= len(m.rows) {
		return Row{}, false
	}
	return m.rows[m.sel], true
}

func (m *model) selectedID() (int, bool) {
	r, ok := m.selected()
	return r.ID, ok
}

func appendCapped(vals []float64, v float64) []float64 {
	vals = append(vals, v)
	if len(vals) > histLen {
		vals = append(vals[:0], vals[len(vals)-histLen:]...)
	}
	return vals
}

// oneLine keeps the first line of an error message.
func oneLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// readInput sends what the terminal sends until it fails or ctx ends.
func readInput(ctx context.Context, in *os.File, input chan<- []byte) {
	defer close(input)
	buf := make([]byte, 256)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			select {
			case input <- append([]byte(nil), buf[:n]...):
			case <-ctx.Done():
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// write draws lines from the top of the screen, each on a line cleared
// first, and clears what is below them, in one write.
func write(out *os.File, lines []string, h int) error {
	var b strings.Builder
	for i, ln := range lines {
		fmt.Fprintf(&b, "\x1b[%d;1H\x1b[2K", i+1)
		b.WriteString(ln)
		b.WriteString("\x1b[0m")
	}
	if len(lines) < h {
		fmt.Fprintf(&b, "\x1b[%d;1H\x1b[J", len(lines)+1)
	}
	_, err := out.WriteString(b.String())
	return err
}
