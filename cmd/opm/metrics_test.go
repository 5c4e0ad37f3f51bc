package main

import (
	"bufio"
	"fmt"
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
)

// scrape GETs /metrics on the daemon's socket as any scraper would —
// plain HTTP/1.1, none of opm's own client code — and parses it with
// Prometheus' text parser.
func (e *env) scrape() map[string]*dto.MetricFamily {
	e.t.Helper()
	c, err := net.DialTimeout("unix", api.SocketPath(e.runtime), 10*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(cmdTimeout))
	if _, err := fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: opm\r\nAccept: text/plain\r\n\r\n"); err != nil {
		e.t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		e.t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /metrics: %s", res.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		e.t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// TestMetricsScrape: what a user checks on /metrics after `opm start -i 3`
// and a crash.
func TestMetricsScrape(t *testing.T) {
	e := newEnv(t)
	e.startApp("web", "block", "-i", "3")
	var web []api.App
	testkit.WaitFor(t, "web's 3 instances to be online", 10*time.Second, func() bool {
		web = web[:0]
		for _, a := range e.apps() {
			if a.Name == "web" && a.Status == api.StatusOnline {
				web = append(web, a)
			}
		}
		return len(web) == 3
	})
	fams := e.scrape()
	for _, a := range web {
		in := strconv.Itoa(a.Instance)
		if v := testkit.Metric(t, fams, "opm_app_up", "name", "web", "instance", in, "id", strconv.Itoa(a.ID)); v != 1 {
			t.Errorf("opm_app_up of web:%s = %v, want 1", in, v)
		}
		if v := testkit.Metric(t, fams, "opm_app_instances", "name", "web", "instance", in); v != 3 {
			t.Errorf("opm_app_instances of web:%s = %v, want 3", in, v)
		}
		if v := testkit.Metric(t, fams, "opm_app_resident_memory_bytes", "name", "web", "instance", in); v <= 0 {
			t.Errorf("opm_app_resident_memory_bytes of web:%s = %v, want > 0", in, v)
		}
	}
	if v := testkit.Metric(t, fams, "opm_apps", "status", "online"); v != 3 {
		t.Errorf("opm_apps{status=online} = %v, want 3", v)
	}

	victim := web[1]
	in := strconv.Itoa(victim.Instance)
	before := testkit.Metric(t, fams, "opm_app_restarts_total", "name", "web", "instance", in)
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "web:"+in+"'s restart to show in /metrics", 10*time.Second, func() bool {
		f := e.scrape()
		return testkit.Metric(t, f, "opm_app_restarts_total", "name", "web", "instance", in) == before+1 &&
			testkit.Metric(t, f, "opm_app_up", "name", "web", "instance", in) == 1
	})
	fams = e.scrape()
	if v := testkit.Metric(t, fams, "opm_app_restarts_by_reason_total", "name", "web", "instance", in, "reason", "crash"); v != 1 {
		t.Errorf("restarts by reason crash = %v, want 1", v)
	}
	other := strconv.Itoa(web[2].Instance)
	if v := testkit.Metric(t, fams, "opm_app_restarts_total", "name", "web", "instance", other); v != 0 {
		t.Errorf("restarts of web:%s, which nobody killed = %v, want 0", other, v)
	}
}
