package daemon

import "testing"

func TestTokenRoundTrip(t *testing.T) {
	k := tokens{secret: []byte("s1")}
	tok := k.token("web", 1234, 7)
	home, key, ds, seq, ok := parseToken(tok)
	if !ok || home != k.homeTag() || key != k.appKey("web") || ds != 1234 || seq != 7 {
		t.Fatalf("parseToken(%q) = %q %q %d %d %v", tok, home, key, ds, seq, ok)
	}
	other := tokens{secret: []byte("s2")}
	if other.homeTag() == k.homeTag() || other.appKey("web") == k.appKey("web") {
		t.Fatal("two homes' secrets give the same tags")
	}
	if k.appKey("web") == k.appKey("api") {
		t.Fatal("two apps share a key")
	}
	for _, bad := range []string{"", "x", tok + ".1", "short-" + k.appKey("web") + ".1.2", k.homeTag() + "-" + k.appKey("web") + ".a.2", k.homeTag() + "-" + k.appKey("web") + ".1"} {
		if _, _, _, _, ok := parseToken(bad); ok {
			t.Errorf("parseToken(%q) accepted", bad)
		}
	}
}

// Among several live holders of one app's token, the latest spawn wins
// (a later daemon, then a later spawn), and among the processes of one
// spawn the oldest, its leader rather than a child that called setsid.
func TestHolderOrder(t *testing.T) {
	cases := []struct {
		name string
		a, b holder
	}{
		{"later daemon", holder{daemonStart: 20, seq: 1, start: 500}, holder{daemonStart: 10, seq: 9, start: 100}},
		{"later spawn", holder{daemonStart: 10, seq: 3, start: 500}, holder{daemonStart: 10, seq: 2, start: 100}},
		{"leader before its escaped child", holder{daemonStart: 10, seq: 3, start: 100}, holder{daemonStart: 10, seq: 3, start: 101}},
	}
	for _, tc := range cases {
		if !tc.a.newer(tc.b) || tc.b.newer(tc.a) {
			t.Errorf("%s: want %+v to win over %+v", tc.name, tc.a, tc.b)
		}
	}
}
