package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSupervisordParseList(t *testing.T) {
	out := "\x1b[0;32mapp00000                         Running   pid 14359, uptime 0:00:05\x1b[0m\n" +
		"\x1b[1;33mapp00001                         Starting  2026-11-27 14:43:01.5 +0000 UTC\x1b[0m\n" +
		"\x1b[0;31mapp00002                         Backoff   2026-11-27 14:43:01.5 +0000 UTC\x1b[0m\n" +
		"\x1b[0;32mapp00003                         Running   pid 7, uptime 1 days, 2:03:04\x1b[0m\n"
	got, err := (&supervisordTool{}).parseList([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []listed{
		{Name: "app00000", PID: 14359, Status: "online"},
		{Name: "app00001", Status: "starting"},
		{Name: "app00002", Status: "backoff"},
		{Name: "app00003", PID: 7, Status: "online"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("parseList:\n got %+v\nwant %+v", got, want)
	}
	if got, err := (&supervisordTool{}).parseList(nil); err != nil || len(got) != 0 {
		t.Fatalf("empty listing: %v, %v", got, err)
	}
	for _, bad := range []string{"Fail to connect unix socket path: unix:///x\n", "app00000 Running pid x, uptime 0:00:01\n"} {
		if _, err := (&supervisordTool{}).parseList([]byte(bad)); err == nil {
			t.Errorf("parseList(%q): no error", bad)
		}
	}
}

func TestSupervisordConf(t *testing.T) {
	w := workload{Sleep: "/usr/bin/sleep", Tag: "123456"}
	conf := supervisordConf(w, "/dev/shm/ob1", 3)
	for _, want := range []string{
		"[supervisord]\nlogfile=/dev/null\npidfile=/dev/shm/ob1/supervisord.pid\n",
		"[unix_http_server]\nfile=/dev/shm/ob1/supervisord.sock\n",
		"[supervisorctl]\nserverurl=unix:///dev/shm/ob1/supervisord.sock\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	// One [program:] section per app, each with the workload's command
	// and the restart settings.
	sections := strings.Split(conf, "\n[program:")[1:]
	if len(sections) != 3 {
		t.Fatalf("%d program sections, want 3:\n%s", len(sections), conf)
	}
	for i, sec := range sections {
		keys := map[string]string{}
		lines := strings.Split(strings.TrimSpace(sec), "\n")
		if name := strings.TrimSuffix(lines[0], "]"); name != w.name(i) {
			t.Errorf("section %d is %q, want %q", i, name, w.name(i))
		}
		for _, l := range lines[1:] {
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("section %d: line %q", i, l)
			}
			keys[k] = v
		}
		if got := w.index(strings.Fields(keys["command"])); got != i {
			t.Errorf("section %d: command %q is app %d", i, keys["command"], got)
		}
		for k, v := range map[string]string{"autostart": "true", "autorestart": "true", "startsecs": "1", "startretries": "1000000",
			"restartpause": "0", "stdout_logfile": "/dev/null", "stderr_logfile": "/dev/null"} {
			if keys[k] != v {
				t.Errorf("section %d: %s = %q, want %q", i, k, keys[k], v)
			}
		}
	}

	// writeConf and programs agree, and save keeps the count.
	sb := &sandbox{w: w, scratch: t.TempDir(), runtime: "/dev/shm/ob1"}
	s := &supervisordTool{bin: "/x/supervisord"}
	if n, err := s.programs(sb); err != nil || n != 0 {
		t.Fatalf("programs before writing: %d, %v", n, err)
	}
	if err := s.writeConf(sb, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.save(t.Context(), sb); err != nil {
		t.Fatal(err)
	}
	if n, err := s.programs(sb); err != nil || n != 5 {
		t.Fatalf("programs after writing 5: %d, %v", n, err)
	}
	if b, err := os.ReadFile(filepath.Join(sb.scratch, supervisordConfName)); err != nil || string(b) != supervisordConf(w, sb.runtime, 5) {
		t.Fatalf("file on disk differs: %v", err)
	}
	if !s.isDaemon(sb, []string{"/x/supervisord", "-c", "supervisord.conf", "-d"}) || s.isDaemon(sb, s.listArgv()) {
		t.Error("isDaemon")
	}
}
