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
// A token is <app key>.<daemon start>.<spawn>: the app key is an HMAC of
// the app's name keyed with the home's secret (shm.Secret), so no other
// user can forge a holder of our app (and environments are readable only
// by their owner and root, so nobody can copy one); the daemon's start
// time and the app's spawn number order the spawns, so that among several
// holders (an app's child that called setsid inherits the token) the
// latest spawn wins, and among those the oldest process, its leader.

// AppTokenEnv is set in every app process's environment to its token.
const AppTokenEnv = "OPM_APP_TOKEN"

// appKeyLen is the length of an app key in hex digits.
const appKeyLen = 32

// tokens makes the tokens of one home.
type tokens struct{ secret []byte }

// appKey names the app called name among this home's apps.
func (k tokens) appKey(name string) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte("opm app\x00"))
	m.Write([]byte(name))
	return hex.EncodeToString(m.Sum(nil))[:appKeyLen]
}

// token is the token of spawn number seq of app name by the daemon that
// started at daemonStart (clock ticks since boot).
func (k tokens) token(name string, daemonStart, seq uint64) string {
	return fmt.Sprintf("%s.%d.%d", k.appKey(name), daemonStart, seq)
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

// parseToken splits a token into its app key and spawn order.
func parseToken(tok string) (key string, daemonStart, seq uint64, ok bool) {
	key, rest, ok1 := strings.Cut(tok, ".")
	ds, sq, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || len(key) != appKeyLen {
		return "", 0, 0, false
	}
	d, err1 := strconv.ParseUint(ds, 10, 64)
	s, err2 := strconv.ParseUint(sq, 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, 0, false
	}
	return key, d, s, true
}

// scanHolders finds the live holders of app tokens, by app key: session
// leaders (every app leads its own session) whose environment carries a
// token. It reads /proc once, so it runs only when a daemon starts.
func scanHolders() map[string]holder {
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
		key, ds, seq, ok := parseToken(tok)
		if !ok {
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
