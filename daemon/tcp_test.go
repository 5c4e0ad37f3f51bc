package daemon

import (
	"strings"
	"testing"
	"time"
)

func TestCheckListen(t *testing.T) {
	for _, ok := range []string{"", "127.0.0.1:9615", "[::1]:9615", "localhost:0", ":9615", "0.0.0.0:80"} {
		if err := checkListen(ok); err != nil {
			t.Errorf("checkListen(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"9615", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000", "example.com:9615"} {
		err := checkListen(bad)
		if err == nil || !strings.Contains(err.Error(), `listen = "127.0.0.1:9615"`) {
			t.Errorf("checkListen(%q) = %v; want an error that shows the form", bad, err)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "localhost:1": true, "0.0.0.0:1": false, ":1": false, "192.168.1.2:1": false} {
		if got := loopbackOnly(addr); got != want {
			t.Errorf("loopbackOnly(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter()
	now := time.Unix(1e9, 0)
	for i := range freeFailures {
		if _, b := l.blocked("a", now); b {
			t.Fatalf("blocked after %d failures", i)
		}
		l.fail("a", now)
	}
	wait, b := l.blocked("a", now)
	if !b || wait != firstBlock {
		t.Fatalf("after %d failures: blocked %v for %s, want %s", freeFailures, b, wait, firstBlock)
	}
	if _, b := l.blocked("b", now); b {
		t.Fatal("another address is blocked too")
	}
	// Each failure after the block doubles it, up to maxBlock.
	now = now.Add(firstBlock)
	l.fail("a", now)
	if wait, _ := l.blocked("a", now); wait != 2*firstBlock {
		t.Fatalf("the next block is %s, want %s", wait, 2*firstBlock)
	}
	for range 30 {
		l.fail("a", now)
	}
	if wait, _ := l.blocked("a", now); wait != maxBlock {
		t.Fatalf("the block grew to %s, want at most %s", wait, maxBlock)
	}
	l.ok("a")
	if _, b := l.blocked("a", now); b {
		t.Fatal("still blocked after a right token")
	}
	// Memory stays bounded, whatever the number of addresses.
	for i := range 3 * maxTracked {
		l.fail(strings.Repeat("x", i%7)+time.Duration(i).String(), now.Add(time.Duration(i)))
	}
	if n := len(l.m); n > maxTracked {
		t.Fatalf("%d addresses kept, want at most %d", n, maxTracked)
	}
}
