package process

import (
	"slices"
	"testing"
)

func TestTokenRoundTrip(t *testing.T) {
	k := NewTokens([]byte("s1"))
	sp := Spawn{1234, 7}
	tok := k.Token("web", sp)
	got, ok := ParseToken(tok)
	if !ok || got.home != k.HomeTag() || got.key != k.AppKey("web") || got.Spawn != sp || got.mac != k.spawnMAC("web", sp) {
		t.Fatalf("ParseToken(%q) = %+v %v", tok, got, ok)
	}
	other := NewTokens([]byte("s2"))
	if other.HomeTag() == k.HomeTag() || other.AppKey("web") == k.AppKey("web") {
		t.Fatal("two homes' secrets give the same tags")
	}
	if k.AppKey("web") == k.AppKey("api") {
		t.Fatal("two apps share a key")
	}
	for _, bad := range []string{"", "x", tok + ".1", "short-" + tok[homeTagLen+1:], tok[:len(tok)-1], k.HomeTag() + "-" + k.AppKey("web") + ".a.2." + got.mac} {
		if _, ok := ParseToken(bad); ok {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
}

// Among the live holders of an app's token, only those whose mac checks
// out count — a copied token cannot be made newer — and the best to adopt
// comes first: the latest spawn (a later daemon, then a later spawn), and
// within a spawn the oldest process, its leader rather than a child that
// called setsid.
func TestHoldersOf(t *testing.T) {
	k := NewTokens([]byte("s1"))
	h := func(pid int, start uint64, sp Spawn) Holder {
		return Holder{PID: pid, Start: start, Spawn: sp, mac: k.spawnMAC("web", sp)}
	}
	forged := Holder{PID: 9, Start: 1, Spawn: Spawn{99, 99}, mac: k.spawnMAC("web", Spawn{10, 1})}
	found := map[string][]Holder{k.AppKey("web"): {
		h(1, 100, Spawn{10, 1}),
		h(2, 500, Spawn{10, 3}),
		h(3, 501, Spawn{10, 3}),
		h(4, 600, Spawn{20, 1}),
		forged,
	}}
	var pids []int
	for _, x := range k.HoldersOf("web", found) {
		pids = append(pids, x.PID)
	}
	if want := []int{4, 2, 3, 1}; !slices.Equal(pids, want) {
		t.Fatalf("holders %v, want %v (the forged one dropped)", pids, want)
	}
	if got := k.HoldersOf("api", found); len(got) != 0 {
		t.Fatalf("another app's holders: %+v", got)
	}
}
