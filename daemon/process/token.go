package process

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"opm/daemon/api"
	"opm/daemon/proc"
)

// Every app process carries a token in its environment that names its app
// and its Spawn. It is the second line of defence of "exactly once", and
// needs no runtime record: a new daemon scans /proc for live holders of
// its apps' Tokens before it starts anything, and adopts a Holder instead
// of starting a second copy — whatever happened to the records (a full
// tmpfs, a record refused, a record naming a dead PID).
//
// A token is <home tag>-<app key>.<daemon start>.<Spawn>.<mac>. The home
// tag and the app key are HMACs (keyed with the home's secret,
// shm.Secret) of a constant and of the app's name: they tell this home's
// apps apart from others' without naming them. The daemon's start time
// and the app's spawn number order the spawns. The mac, an HMAC of the
// name and the spawn order, makes a token impossible to forge: a process
// whose environment another user can read (an app that dropped its
// privileges to them) lets that user copy its token, never make a newer
// one. Among several holders of one Spawn (an app's child that called
// setsid inherits the token) the oldest process is the app's leader.

// AppTokenEnv is set in every app process's environment to its token.
const AppTokenEnv = api.AppTokenEnv

// Lengths in hex digits of the parts of a token.
const (
	homeTagLen  = 16
	appKeyLen   = 32
	tokenMACLen = 16
)

// Tokens makes and checks the tokens of one home.
type Tokens struct{ secret []byte }

// NewTokens makes the tokens of the home whose secret (shm.Secret) is
// given.
func NewTokens(secret []byte) Tokens { return Tokens{secret: secret} }

// mac is the hex HMAC of the parts, keyed with the home's secret.
func (k Tokens) mac(parts ...string) string {
	m := hmac.New(sha256.New, k.secret)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

// HomeTag names this home in its apps' tokens.
func (k Tokens) HomeTag() string { return k.mac("opm home")[:homeTagLen] }

// AppKey names the app called name among this home's apps.
func (k Tokens) AppKey(name string) string { return k.mac("opm app", name)[:appKeyLen] }

// spawnMAC seals spawn s of the app called name.
func (k Tokens) spawnMAC(name string, s Spawn) string {
	return k.mac("opm Spawn", name, strconv.FormatUint(s.DaemonStart, 10), strconv.FormatUint(s.Seq, 10))[:tokenMACLen]
}

// Token is the token of spawn s of the app called name.
func (k Tokens) Token(name string, s Spawn) string {
	return fmt.Sprintf("%s-%s.%d.%d.%s", k.HomeTag(), k.AppKey(name), s.DaemonStart, s.Seq, k.spawnMAC(name, s))
}

// spawn orders an app's spawns: those of later daemons, then later ones
// of one daemon, are newer.
type Spawn struct{ DaemonStart, Seq uint64 }

// Compare is -1, 0 or 1 as s is older than, the same as or newer than o.
func (s Spawn) Compare(o Spawn) int {
	return cmp.Or(cmp.Compare(s.DaemonStart, o.DaemonStart), cmp.Compare(s.Seq, o.Seq))
}

// Holder is a live process found carrying a token of this home.
type Holder struct {
	PID   int
	Start uint64 // the process's start time, clock ticks since boot
	Spawn Spawn
	mac   string
}

// Token is a token taken apart.
type Token struct {
	home, key, mac string
	Spawn          Spawn
}

// ParseToken takes a token apart; ok is false for anything malformed.
func ParseToken(tok string) (Token, bool) {
	var t Token
	home, rest, ok0 := strings.Cut(tok, "-")
	f := strings.Split(rest, ".")
	if !ok0 || len(f) != 4 || len(home) != homeTagLen || len(f[0]) != appKeyLen || len(f[3]) != tokenMACLen {
		return t, false
	}
	ds, err1 := strconv.ParseUint(f[1], 10, 64)
	seq, err2 := strconv.ParseUint(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return t, false
	}
	return Token{home: home, key: f[0], mac: f[3], Spawn: Spawn{DaemonStart: ds, Seq: seq}}, true
}

// HoldersOf returns the holders among found whose token is really one of
// the app called name (its mac checks out), newest Spawn first and, within
// a Spawn, oldest process first: the best candidate to adopt leads.
func (k Tokens) HoldersOf(name string, found map[string][]Holder) []Holder {
	var out []Holder
	for _, h := range found[k.AppKey(name)] {
		if hmac.Equal([]byte(h.mac), []byte(k.spawnMAC(name, h.Spawn))) {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b Holder) int {
		return cmp.Or(b.Spawn.Compare(a.Spawn), cmp.Compare(a.Start, b.Start))
	})
	return out
}

// ScanHolders finds the live processes carrying a token of the home whose
// tag is home, by app key: session leaders (every app leads its own
// session) alive, not zombies. It reads /proc once, so it runs only when a
// daemon starts.
func ScanHolders(home string) map[string][]Holder {
	found := map[string][]Holder{}
	self := os.Getpid()
	_ = proc.Each(func(st *proc.Stat) {
		if st.PID <= 1 || st.PID == self || st.Session != st.PID || st.State == 'Z' || st.State == 'X' {
			return
		}
		env, err := proc.Environ(st.PID)
		if err != nil {
			return // gone, or not ours to read
		}
		tok, ok := proc.EnvValue(env, AppTokenEnv)
		if !ok {
			return
		}
		t, ok := ParseToken(tok)
		if !ok || t.home != home {
			return
		}
		found[t.key] = append(found[t.key], Holder{PID: st.PID, Start: st.Start, Spawn: t.Spawn, mac: t.mac})
	})
	return found
}
