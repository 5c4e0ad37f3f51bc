package daemon

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"

	"opm/daemon/internal/proc"
)

// Every app process carries a token in its environment that names its app
// and its spawn. It is the second line of defence of "exactly once", and
// needs no runtime record: a new daemon scans /proc for live holders of
// its apps' tokens before it starts anything, and adopts a holder instead
// of starting a second copy — whatever happened to the records (a full
// tmpfs, a record refused, a record naming a dead PID).
//
// A token is <home tag>-<app key>.<daemon start>.<spawn>: the home tag
// and the app key are HMACs of a constant and of the app's name keyed with
// the home's secret (shm.Secret), so the apps of other homes are told
// apart and no other user can forge a holder of our app (environments are
// readable only by their owner and root, so nobody can copy one); the
// daemon's start time and the app's spawn number order the spawns, so that
// among several holders (an app's child that called setsid inherits the
// token) the latest spawn wins, and among those the oldest process, its
// leader.

// AppTokenEnv is set in every app process's environment to its token.
const AppTokenEnv = "OPM_APP_TOKEN"

// appKeyLen and homeTagLen are the lengths of an app key and of a home
// tag in hex digits.
const (
	appKeyLen  = 32
	homeTagLen = 16
)

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

// tokens makes the tokens of one home.
type tokens struct{ secret []byte }

// appKey names the app called name among this home's apps.
func (k tokens) appKey(name string) string { return k.mac("opm app", name)[:appKeyLen] }

// token is the token of spawn number seq of app name by the daemon that
// started at daemonStart (clock ticks since boot).
func (k tokens) token(name string, daemonStart, seq uint64) string {
	return fmt.Sprintf("%s-%s.%d.%d", k.homeTag(), k.appKey(name), daemonStart, seq)
}

// holder is a live app process found by its token.
type holder struct {
	pid   int
	start uint64 // the process's start time, clock ticks since boot
	// daemonStart and seq order spawns: later daemons, then later spawns.
	daemonStart, seq uint64
}

// newer reports whether h is a better holder of its app than o.
func (h holder) newer(o holder) bool {
	if h.daemonStart != o.daemonStart {
		return h.daemonStart > o.daemonStart
	}
	if h.seq != o.seq {
		return h.seq > o.seq
	}
	return h.start < o.start
}

// parseToken splits a token into its home tag, app key and spawn order.
func parseToken(tok string) (home, key string, daemonStart, seq uint64, ok bool) {
	home, rest, ok0 := strings.Cut(tok, "-")
	key, rest, ok1 := strings.Cut(rest, ".")
	ds, sq, ok2 := strings.Cut(rest, ".")
	if !ok0 || !ok1 || !ok2 || len(home) != homeTagLen || len(key) != appKeyLen {
		return "", "", 0, 0, false
	}
	d, err1 := strconv.ParseUint(ds, 10, 64)
	s, err2 := strconv.ParseUint(sq, 10, 64)
	if err1 != nil || err2 != nil {
		return "", "", 0, 0, false
	}
	return home, key, d, s, true
}

// scanHolders finds the live holders of the tokens of home's apps, by app
// key: session leaders (every app leads its own session) whose environment
// carries such a token. It reads /proc once, so it runs only when a daemon
// starts.
func scanHolders(home string) map[string]holder {
	found := map[string]holder{}
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
		tag, key, ds, seq, ok := parseToken(tok)
		if !ok || tag != home {
			return
		}
		h := holder{pid: st.PID, start: st.Start, daemonStart: ds, seq: seq}
		if old, seen := found[key]; !seen || h.newer(old) {
			found[key] = h
		}
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
