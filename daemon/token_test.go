package daemon

import (
	"slices"
	"testing"
)

func TestTokenRoundTrip(t *testing.T) {
	k := tokens{secret: []byte("s1")}
	sp := spawn{1234, 7}
	tok := k.token("web", sp)
	got, ok := parseToken(tok)
	if !ok || got.home != k.homeTag() || got.key != k.appKey("web") || got.spawn != sp || got.mac != k.spawnMAC("web", sp) {
		t.Fatalf("parseToken(%q) = %+v %v", tok, got, ok)
	}
	other := tokens{secret: []byte("s2")}
	if other.homeTag() == k.homeTag() || other.appKey("web") == k.appKey("web") {
		t.Fatal("two homes' secrets give the same tags")
	}
	if k.appKey("web") == k.appKey("api") {
		t.Fatal("two apps share a key")
	}
	for _, bad := range []string{"", "x", tok + ".1", "short-" + tok[homeTagLen+1:], tok[:len(tok)-1], k.homeTag() + "-" + k.appKey("web") + ".a.2." + got.mac} {
		if _, ok := parseToken(bad); ok {
			t.Errorf("parseToken(%q) accepted", bad)
		}
	}
}

// Among the live holders of an app's token, only those whose mac checks
// out count — a copied token cannot be made newer — and the best to adopt
// comes first: the latest spawn (a later daemon, then a later spawn), and
// within a spawn the oldest process, its leader rather than a child that
// called setsid.
func TestHoldersOf(t *testing.T) {
	k := tokens{secret: []byte("s1")}
	h := func(pid int, start uint64, sp spawn) holder {
		return holder{pid: pid, start: start, spawn: sp, mac: k.spawnMAC("web", sp)}
	}
	forged := holder{pid: 9, start: 1, spawn: spawn{99, 99}, mac: k.spawnMAC("web", spawn{10, 1})}
	found := map[string][]holder{k.appKey("web"): {
		h(1, 100, spawn{10, 1}),
		h(2, 500, spawn{10, 3}),
		h(3, 501, spawn{10, 3}),
		h(4, 600, spawn{20, 1}),
		forged,
	}}
	var pids []int
	for _, x := range k.holdersOf("web", found) {
		pids = append(pids, x.pid)
	}
	if want := []int{4, 2, 3, 1}; !slices.Equal(pids, want) {
		t.Fatalf("holders %v, want %v (the forged one dropped)", pids, want)
	}
	if got := k.holdersOf("api", found); len(got) != 0 {
		t.Fatalf("another app's holders: %+v", got)
	}
}
