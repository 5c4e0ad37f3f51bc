package daemon

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"opm/daemon/api"
	"opm/daemon/testkit"
	"opm/daemon/wire"
)

// scrape reads /metrics over the daemon's socket and parses it with
// Prometheus' own text parser.
func (d *testDaemon) scrape() map[string]*dto.MetricFamily {
	d.t.Helper()
	c, err := net.Dial("unix", api.SocketPath(d.rt))
	if err != nil {
		d.t.Fatal(err)
	}
	defer c.Close()
	req, _ := http.NewRequest(http.MethodGet, "http://opm"+api.PathMetrics, nil)
	res, err := wire.Send(c, req)
	if err != nil {
		d.t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		d.t.Fatalf("GET /metrics: %s: %s", res.Status, body)
	}
	if ct := res.Header.Get("Content-Type"); expfmt.ResponseFormat(res.Header).FormatType() != expfmt.TypeTextPlain {
		d.t.Fatalf("Content-Type %q is not Prometheus' text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		d.t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

func TestMetrics(t *testing.T) {
	d := startDaemon(t)
	d.start("web", "busy")
	req := d.req("pool", "block")
	req.Instances = 3
	if _, err := d.startReq(req); err != nil {
		t.Fatal(err)
	}
	// A name that needs escaping in a label value.
	odd := d.start(`q"u\ote`, "block")
	stopped := d.start("idle", "block")
	if _, err := d.action("idle", "stop"); err != nil {
		t.Fatal(err)
	}
	d.waitStatus("idle", api.StatusStopped)
	web := d.waitStatus("web", api.StatusOnline)
	d.waitStatus(odd.Name, api.StatusOnline)
	var pool1 api.App
	testkit.WaitFor(t, "pool's 3 instances to be online", 10*time.Second, func() bool {
		n := 0
		for _, a := range d.list() {
			if a.Name == "pool" && a.Status == api.StatusOnline {
				n++
				if a.Instance == 1 {
					pool1 = a
				}
			}
		}
		return n == 3
	})

	id := func(a api.App) string { return strconv.Itoa(a.ID) }
	fams := d.scrape()
	if v := testkit.Metric(t, fams, "opm_app_up", "name", "web", "instance", "0", "id", id(web)); v != 1 {
		t.Errorf("opm_app_up of a running app = %v, want 1", v)
	}
	if v := testkit.Metric(t, fams, "opm_app_up", "name", "idle", "id", id(stopped)); v != 0 {
		t.Errorf("opm_app_up of a stopped app = %v, want 0", v)
	}
	if v := testkit.Metric(t, fams, "opm_app_up", "name", odd.Name); v != 1 {
		t.Errorf("opm_app_up of %q = %v, want 1", odd.Name, v)
	}
	if v := testkit.Metric(t, fams, "opm_app_resident_memory_bytes", "name", "web"); v <= 0 {
		t.Errorf("opm_app_resident_memory_bytes of a running app = %v, want > 0", v)
	}
	if _, ok := testkit.MetricSample(fams, "opm_app_resident_memory_bytes", "name", "idle"); ok {
		t.Error("a stopped app has an RSS sample")
	}
	for i := 0; i < 3; i++ {
		if v := testkit.Metric(t, fams, "opm_app_instances", "name", "pool", "instance", strconv.Itoa(i)); v != 3 {
			t.Errorf("opm_app_instances of pool:%d = %v, want 3", i, v)
		}
	}
	if v := testkit.Metric(t, fams, "opm_apps", "status", api.StatusOnline); v != 5 {
		t.Errorf("opm_apps{status=online} = %v, want 5", v)
	}
	if v := testkit.Metric(t, fams, "opm_apps", "status", api.StatusStopped); v != 1 {
		t.Errorf("opm_apps{status=stopped} = %v, want 1", v)
	}
	if v := testkit.Metric(t, fams, "process_resident_memory_bytes"); v <= 0 {
		t.Errorf("daemon RSS = %v, want > 0", v)
	}
	if v := testkit.Metric(t, fams, "go_goroutines"); v < 1 {
		t.Errorf("go_goroutines = %v", v)
	}
	if v := testkit.Metric(t, fams, "opm_app_uptime_seconds", "name", "web"); v <= 0 {
		t.Errorf("uptime of a running app = %v, want > 0", v)
	}

	// The busy app burns CPU: its counter grows between scrapes.
	cpu0 := testkit.Metric(t, fams, "opm_app_cpu_seconds_total", "name", "web")
	testkit.WaitFor(t, "web's CPU seconds to grow", 10*time.Second, func() bool {
		return testkit.Metric(t, d.scrape(), "opm_app_cpu_seconds_total", "name", "web") > cpu0
	})

	// A kill is a crash: the app restarts, and both counters say so.
	restarts0 := testkit.Metric(t, fams, "opm_app_restarts_total", "name", "web")
	if err := syscall.Kill(web.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.waitApp("web", "to run again", func(a api.App) bool { return a.Status == api.StatusOnline && a.PID != web.PID })
	fams = d.scrape()
	if v := testkit.Metric(t, fams, "opm_app_restarts_total", "name", "web"); v != restarts0+1 {
		t.Errorf("opm_app_restarts_total after a kill = %v, want %v", v, restarts0+1)
	}
	if v := testkit.Metric(t, fams, "opm_app_restarts_by_reason_total", "name", "web", "reason", api.ReasonCrash); v != 1 {
		t.Errorf("opm_app_restarts_by_reason_total{reason=crash} = %v, want 1", v)
	}
	if v := testkit.Metric(t, fams, "opm_app_last_exit_code", "name", "web"); v != -1 {
		t.Errorf("opm_app_last_exit_code after SIGKILL = %v, want -1", v)
	}
	if v := testkit.Metric(t, fams, "opm_app_up", "name", "web"); v != 1 {
		t.Errorf("opm_app_up after the restart = %v, want 1", v)
	}

	// A restart asked for is counted as the user's.
	if _, err := d.action(strconv.Itoa(pool1.ID), "restart"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "pool:1's user restart to be counted", 10*time.Second, func() bool {
		v, _ := testkit.MetricSample(d.scrape(), "opm_app_restarts_by_reason_total", "name", "pool", "instance", "1", "reason", api.ReasonUser)
		return v == 1
	})
}
