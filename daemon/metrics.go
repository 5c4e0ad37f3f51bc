package daemon

import (
	"bytes"
	"maps"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"opm/daemon/api"
	"opm/daemon/proc"
)

// GET /metrics: the apps and the daemon in Prometheus' text exposition
// format (version 0.0.4). Everything is read when a scraper asks — the
// table from the loop, CPU and memory from one pass over /proc — and
// nothing is kept or ticks in between.
//
// The format is written here rather than with a metrics library: every
// figure is computed at scrape time, so a library's registry of live
// metric objects brings nothing, and both libraries cost more than this
// file (prometheus/client_golang adds 2.1 MB to opm and pulls protobuf;
// VictoriaMetrics/metrics 128 KiB, ~1 MB of RSS, and reads cgroup files
// in every opm process as it initialises). The tests parse the output
// with prometheus/common/expfmt.

// metricsReq asks the loop for the apps' figures (onMetrics).
type metricsReq struct {
	reply chan result
	out   *[]appMetrics
}

// appMetrics is what /metrics says of one app, copied on the loop.
type appMetrics struct {
	id, instance, instances int
	name, status            string
	pid, exitCode, restarts int
	uptime                  time.Duration
	restartsBy              map[string]int
}

// countRestart counts a restart of a by its reason, for /metrics.
func (a *app) countRestart(reason string) {
	if reason == "" {
		reason = "other"
	}
	if a.restartsBy == nil {
		a.restartsBy = make(map[string]int, 2)
	}
	a.restartsBy[reason]++
}

// onMetrics copies the figures of every app, in id order.
func (s *Supervisor) onMetrics(ev metricsReq) {
	now := s.now()
	ids := s.allIDs()
	out := make([]appMetrics, 0, len(ids))
	for _, id := range ids {
		a := s.apps[id]
		m := appMetrics{
			id: a.id, instance: a.spec.Instance, instances: a.spec.Count(),
			name: a.spec.Name, status: a.state.String(),
			exitCode: a.exitCode, restarts: a.restarts,
		}
		if a.awaitingReady && a.state == Online {
			m.status = api.StatusLaunching
		}
		if a.running() {
			m.pid = a.pid
			m.uptime = now.Sub(a.started)
		}
		if len(a.restartsBy) > 0 {
			m.restartsBy = maps.Clone(a.restartsBy)
		}
		out = append(out, m)
	}
	*ev.out = out
	ev.reply <- result{}
}

// statuses are the app statuses opm_apps counts, each always written.
var statuses = []string{api.StatusOnline, api.StatusLaunching, api.StatusWaiting, api.StatusStopping, api.StatusStopped, api.StatusErrored}

// handleMetrics answers GET /metrics.
func (srv *server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	var apps []appMetrics
	if _, ok := srv.call(r.Context(), w, func(reply chan result) event { return metricsReq{reply: reply, out: &apps} }); !ok {
		return
	}
	leaders := make([]int, 0, len(apps))
	for _, a := range apps {
		if a.pid > 0 {
			leaders = append(leaders, a.pid)
		}
	}
	var tree map[int]*proc.Session
	if len(leaders) > 0 {
		tree, _ = proc.Sessions(leaders) // none on error: figures left out
	}
	e := &expo{buf: bytes.NewBuffer(make([]byte, 0, 1024+len(apps)*1024))}
	writeAppMetrics(e, apps, tree)
	writeDaemonMetrics(e, apps)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(e.buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(e.buf.Bytes())
}

func writeAppMetrics(e *expo, apps []appMetrics, tree map[int]*proc.Session) {
	session := func(a *appMetrics) *proc.Session {
		if a.pid <= 0 {
			return nil
		}
		if t := tree[a.pid]; t != nil && t.Leader {
			return t
		}
		return nil
	}
	e.perApp("opm_app_up", "gauge", "1 when the app's process runs and is ready (status online), else 0.", apps,
		func(a *appMetrics) (float64, bool) { return b2f(a.status == api.StatusOnline), true })
	e.perApp("opm_app_restarts_total", "counter", "Restarts of the app since it was registered, whatever the reason.", apps,
		func(a *appMetrics) (float64, bool) { return float64(a.restarts), true })
	e.family("opm_app_restarts_by_reason_total", "counter", "Restarts of the app since the daemon started, by reason: crash, cron, watch, memory, reload, user.")
	for i := range apps {
		a := &apps[i]
		for _, reason := range slices.Sorted(maps.Keys(a.restartsBy)) {
			e.app("opm_app_restarts_by_reason_total", a, "reason", reason, float64(a.restartsBy[reason]))
		}
	}
	e.perApp("opm_app_last_exit_code", "gauge", "Exit status of the app's last process (-1: killed by a signal, or none ended yet).", apps,
		func(a *appMetrics) (float64, bool) { return float64(a.exitCode), true })
	e.perApp("opm_app_uptime_seconds", "gauge", "Seconds since the app's running process started (0 when none runs).", apps,
		func(a *appMetrics) (float64, bool) { return a.uptime.Seconds(), true })
	e.perApp("opm_app_cpu_seconds_total", "counter", "CPU time (user and system) of the live processes of the app's process tree, in seconds; running apps only.", apps,
		func(a *appMetrics) (float64, bool) {
			if t := session(a); t != nil {
				return float64(t.Ticks) / proc.TicksPerSecond, true
			}
			return 0, false
		})
	e.perApp("opm_app_resident_memory_bytes", "gauge", "Resident memory (RSS) of the app's process tree, in bytes; running apps only.", apps,
		func(a *appMetrics) (float64, bool) {
			if t := session(a); t != nil {
				return float64(t.RSS), true
			}
			return 0, false
		})
	e.perApp("opm_app_instances", "gauge", "How many instances the app has (1 for an app without instances).", apps,
		func(a *appMetrics) (float64, bool) { return float64(a.instances), true })
}

func writeDaemonMetrics(e *expo, apps []appMetrics) {
	by := make(map[string]int, len(statuses))
	for _, a := range apps {
		by[a.status]++
	}
	e.family("opm_apps", "gauge", "Apps (rows: one per instance) by status.")
	for _, st := range statuses {
		e.sample("opm_apps", "status", st, float64(by[st]))
	}
	e.family("opm_build_info", "gauge", "The daemon's version, as a label; always 1.")
	e.sample("opm_build_info", "version", api.Version, 1)
	if st, err := proc.ReadStat(os.Getpid()); err == nil {
		e.family("process_resident_memory_bytes", "gauge", "Resident memory (RSS) of the daemon, in bytes.")
		e.sample("process_resident_memory_bytes", "", "", float64(st.RSS))
		e.family("process_cpu_seconds_total", "counter", "CPU time (user and system) of the daemon, in seconds.")
		e.sample("process_cpu_seconds_total", "", "", float64(st.Ticks())/proc.TicksPerSecond)
		if started := proc.Started(st.Start, time.Now(), time.Time{}); !started.IsZero() {
			e.family("process_start_time_seconds", "gauge", "When the daemon started, in seconds since the epoch.")
			e.sample("process_start_time_seconds", "", "", math.Round(float64(started.UnixMilli()))/1000)
		}
	}
	e.family("go_goroutines", "gauge", "Goroutines of the daemon.")
	e.sample("go_goroutines", "", "", float64(runtime.NumGoroutine()))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// expo writes the text exposition format.
type expo struct {
	buf *bytes.Buffer
}

// family writes the HELP and TYPE lines of a metric.
func (e *expo) family(name, typ, help string) {
	e.buf.WriteString("# HELP ")
	e.buf.WriteString(name)
	e.buf.WriteByte(' ')
	e.buf.WriteString(help) // plain text of ours: no '\\' or newline
	e.buf.WriteString("\n# TYPE ")
	e.buf.WriteString(name)
	e.buf.WriteByte(' ')
	e.buf.WriteString(typ)
	e.buf.WriteByte('\n')
}

// perApp writes the family name with a sample of each app of apps for
// which v gives one.
func (e *expo) perApp(name, typ, help string, apps []appMetrics, v func(*appMetrics) (float64, bool)) {
	e.family(name, typ, help)
	for i := range apps {
		if x, ok := v(&apps[i]); ok {
			e.app(name, &apps[i], "", "", x)
		}
	}
}

// app writes a sample of app a, with one more label when key is set.
func (e *expo) app(name string, a *appMetrics, key, val string, v float64) {
	b := e.buf
	b.WriteString(name)
	b.WriteString(`{name="`)
	e.escape(a.name)
	b.WriteString(`",instance="`)
	b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(a.instance), 10))
	b.WriteString(`",id="`)
	b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(a.id), 10))
	b.WriteByte('"')
	if key != "" {
		b.WriteByte(',')
		b.WriteString(key)
		b.WriteString(`="`)
		e.escape(val)
		b.WriteByte('"')
	}
	b.WriteString("} ")
	e.value(v)
}

// sample writes a sample with at most one label.
func (e *expo) sample(name, key, val string, v float64) {
	b := e.buf
	b.WriteString(name)
	if key != "" {
		b.WriteByte('{')
		b.WriteString(key)
		b.WriteString(`="`)
		e.escape(val)
		b.WriteString(`"}`)
	}
	b.WriteByte(' ')
	e.value(v)
}

func (e *expo) value(v float64) {
	b := e.buf
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(v), 10)) // 37740544, not 3.7740544e+07
	} else {
		b.Write(strconv.AppendFloat(b.AvailableBuffer(), v, 'g', -1, 64))
	}
	b.WriteByte('\n')
}

// escape writes a label value: backslash, double quote and newline
// escaped, as the format wants.
func (e *expo) escape(s string) {
	b := e.buf
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
}
