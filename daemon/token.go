package daemon

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"opm/daemon/proc"
)

// Every app process carries a token in its environment that names its app
// and its spawn. It is the second line of defence of "exactly once", and
// needs no runtime record: a new daemon scans /proc for live holders of
// its apps' tokens before it starts anything, and adopts a holder instead
// of starting a second copy — whatever happened to the records (a full
// tmpfs, a record refused, a record naming a dead PID).
//
// A token is <home tag>-<app key>.<daemon start>.<spawn>.<mac>. The home
// tag and the app key are HMACs (keyed with the home's secret,
// shm.Secret) of a constant and of the app's name: they tell this home's
// apps apart from others' without naming them. The daemon's start time
// and the app's spawn number order the spawns. The mac, an HMAC of the
// name and the spawn order, makes a token impossible to forge: a process
// whose environment another user can read (an app that dropped its
// privileges to them) lets that user copy its token, never make a newer
// one. Among several holders of one spawn (an app's child that called
// setsid inherits the token) the oldest process is the app's leader.

// AppTokenEnv is set in every app process's environment to its token.
const AppTokenEnv = "OPM_APP_TOKEN"

// Lengths in hex digits of the parts of a token.
const (
	homeTagLen  = 16
	appKeyLen   = 32
	tokenMACLen = 16
)

// tokens makes and checks the tokens of one home.
type tokens struct{ secret []byte }

// mac is the hex HMAC of the parts, keyed with the home's secret.
func (k tokens) mac(parts ...string) string {
	m := hmac.New(sha256.New, k.secret)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

// homeTag names this home in its apps' tokens.
func (k tokens) homeTag() string { return k.mac("opm home")[:homeTagLen] }

// appKey names the app called name among this home's apps.
func (k tokens) appKey(name string) string { return k.mac("opm app", name)[:appKeyLen] }

// spawnMAC seals spawn s of the app called name.
func (k tokens) spawnMAC(name string, s spawn) string {
	return k.mac("opm spawn", name, strconv.FormatUint(s.daemonStart, 10), strconv.FormatUint(s.seq, 10))[:tokenMACLen]
}

// token is the token of spawn s of the app called name.
func (k tokens) token(name string, s spawn) string {
	return fmt.Sprintf("%s-%s.%d.%d.%s", k.homeTag(), k.appKey(name), s.daemonStart, s.seq, k.spawnMAC(name, s))
}

// spawn orders an app's spawns: those of later daemons, then later ones
// of one daemon, are newer.
type spawn struct{ daemonStart, seq uint64 }

func (s spawn) compare(o spawn) int {
	return cmp.Or(cmp.Compare(s.daemonStart, o.daemonStart), cmp.Compare(s.seq, o.seq))
}

// holder is a live process found carrying a token of this home.
type holder struct {
	pid   int
	start uint64 // the process's start time, clock ticks since boot
	spawn spawn
	mac   string
}

// tokenParts is a token taken apart; ok is false for anything malformed.
type tokenParts struct {
	home, key, mac string
	spawn          spawn
}

func parseToken(tok string) (tokenParts, bool) {
	var t tokenParts
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
	return tokenParts{home: home, key: f[0], mac: f[3], spawn: spawn{ds, seq}}, true
}

// holdersOf returns the holders among found whose token is really one of
// the app called name (its mac checks out), newest spawn first and, within
// a spawn, oldest process first: the best candidate to adopt leads.
func (k tokens) holdersOf(name string, found map[string][]holder) []holder {
	var out []holder
	for _, h := range found[k.appKey(name)] {
		if hmac.Equal([]byte(h.mac), []byte(k.spawnMAC(name, h.spawn))) {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b holder) int {
		return cmp.Or(b.spawn.compare(a.spawn), cmp.Compare(a.start, b.start))
	})
	return out
}

// scanHolders finds the live processes carrying a token of the home whose
// tag is home, by app key: session leaders (every app leads its own
// session) alive, not zombies. It reads /proc once, so it runs only when a
// daemon starts.
func scanHolders(home string) map[string][]holder {
	found := map[string][]holder{}
	self := os.Getpid()
	needle := []byte(AppTokenEnv + "=")
	_ = proc.Each(func(st *proc.Stat) {
		if st.PID <= 1 || st.PID == self || st.Session != st.PID || st.State == 'Z' || st.State == 'X' {
			return
		}
		env, err := os.ReadFile("/proc/" + strconv.Itoa(st.PID) + "/environ")
		if err != nil {
			return // gone, or not ours to read
		}
		tok, ok := envValue(env, needle)
		if !ok {
			return
		}
		t, ok := parseToken(tok)
		if !ok || t.home != home {
			return
		}
		found[t.key] = append(found[t.key], holder{pid: st.PID, start: st.Start, spawn: t.spawn, mac: t.mac})
	})
	return found
}

// envValue finds the value of the variable whose "NAME=" is prefix in a
// NUL-separated environment block.
func envValue(env, prefix []byte) (string, bool) {
	for len(env) > 0 {
		kv := env
		if i := bytes.IndexByte(env, 0); i >= 0 {
			kv, env = env[:i], env[i+1:]
		} else {
			env = nil
		}
		if v, ok := bytes.CutPrefix(kv, prefix); ok {
			return string(v), true
		}
	}
	return "", false
}

// killHolder kills a holder that must not run (a leftover of an earlier
// run, a process of a stopped app) and its process group, if it still is
// the process that was found.
func (s *Supervisor) killHolder(a *app, h holder, why string) {
	if sameProcess(h.pid, h.start) != nil {
		return
	}
	_ = s.signal(h.pid, syscall.SIGKILL)
	s.log.Info("killed a process that carries the app's token: "+why, "event", "discarded", "app", a.spec.Name, "pid", h.pid)
}
