package shm

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Where the runtime directory lives. Its home is /dev/shm, RAM on every
// Linux, under a name derived from OPM_HOME: /dev/shm/opm-<uid>-<hash>.
// That name is predictable, and /dev/shm is writable by everyone, so
// another user may create it first — to impersonate the daemon and read
// what the CLI sends it (a start request carries the caller's
// environment), or just to lock opm out. Such a squatted name is detected
// on the object and opm moves where that user cannot follow. The CLI and
// the daemon both resolve with ResolveRuntimeDir, so they agree.

// shmDir is where runtime directories live by default.
const shmDir = "/dev/shm"

// bootIDPath names this boot of the machine.
const bootIDPath = "/proc/sys/kernel/random/boot_id"

// Runtime is the runtime directory of one OPM_HOME and how it was chosen.
type Runtime struct {
	Dir string
	// Note says why Dir is not the default location when a fallback was
	// taken, for daemon.log and `opm daemon status`; empty otherwise.
	Note string
}

// ResolveRuntimeDir finds the runtime directory for home (as Home
// returns it), creating it (mode 0700) when needed, and checks it: a
// directory owned by the caller, not a symlink, with no group or other
// permissions.
//
//   - $OPM_RUNTIME_DIR when set. The user chose it: if it is not private
//     it is refused, with no fallback.
//   - Else /dev/shm/opm-<uid>-<8 hex of a hash of home>, unless that name
//     is taken (wrong owner, mode or type). Then, with a Note saying so,
//     /dev/shm/opm-<uid>-<32 hex>, the hex an HMAC-SHA256 of home and the
//     boot id keyed with the home's Secret: a name other users cannot
//     predict, which the CLI and the daemon both derive from nothing but
//     home — not from XDG_RUNTIME_DIR, which differs between a login shell
//     and cron, and which logind removes at the last logout. A fallback,
//     once made, is used in preference to the default until reboot, so one
//     daemon keeps serving home even if the squatter lets the default go.
//   - Without /dev/shm: $XDG_RUNTIME_DIR/opm-<8 hex>.
func ResolveRuntimeDir(home string) (Runtime, error) {
	if d := os.Getenv("OPM_RUNTIME_DIR"); d != "" {
		return explicitRuntimeDir(d)
	}
	tag := homeTag(home)
	if fi, err := os.Stat(shmDir); err != nil || !fi.IsDir() {
		xdg, xdgWhy := privateXDG()
		if xdg == "" {
			return Runtime{}, fmt.Errorf("find a runtime directory: %s is missing and %s (set OPM_RUNTIME_DIR to a private directory on a tmpfs)", shmDir, xdgWhy)
		}
		dir := filepath.Join(xdg, "opm-"+tag)
		if err := EnsurePrivateDir(dir); err != nil {
			return Runtime{}, err
		}
		return Runtime{Dir: dir}, nil
	}
	def := fmt.Sprintf("%s/opm-%d-%s", shmDir, os.Geteuid(), tag)
	if r, ok := earlierFallback(home, def); ok {
		return r, nil
	}
	why := sharedDirProblem(shmDir)
	if why == "" {
		// /dev/shm is sticky: once the entry is ours, nobody but us (and
		// root) can rename or remove it, so what is checked here stays
		// true for as long as the directory lives.
		err := EnsurePrivateDir(def)
		if err == nil {
			return Runtime{Dir: def}, nil
		}
		why = problem(err)
	}
	return fallback(home, def, why)
}

// explicitRuntimeDir is $OPM_RUNTIME_DIR, created if missing, refused if
// it is not a private directory of the caller.
func explicitRuntimeDir(d string) (Runtime, error) {
	dir, err := filepath.Abs(d)
	if err != nil {
		return Runtime{}, fmt.Errorf("resolve OPM_RUNTIME_DIR %q: %w", d, err)
	}
	mkErr := os.MkdirAll(dir, 0o700)
	err = CheckPrivateDir(dir)
	var de *dirError
	switch {
	case errors.As(err, &de) && !de.foreign && strings.HasPrefix(de.why, "has mode"):
		return Runtime{}, fmt.Errorf("OPM_RUNTIME_DIR %s %s; opm will not use it (run 'chmod 700 %s', or unset OPM_RUNTIME_DIR)", dir, de.why, dir)
	case errors.As(err, &de):
		return Runtime{}, fmt.Errorf("OPM_RUNTIME_DIR %s %s; opm will not use it, since whoever controls it could impersonate the daemon (set OPM_RUNTIME_DIR to a private directory of your own, or unset it)", dir, de.why)
	case mkErr != nil:
		return Runtime{}, fmt.Errorf("create OPM_RUNTIME_DIR %s: %w", dir, mkErr)
	case err != nil:
		return Runtime{}, err
	}
	return Runtime{Dir: dir}, nil
}

// earlierFallback finds a fallback made before (this boot) and still
// ours: it stays in use, whatever the default name looks like now, so
// that the squatter cannot split the CLI and the daemon by letting the
// default go again.
func earlierFallback(home, def string) (Runtime, bool) {
	dir, err := secretRuntimeDir(home, false)
	if err != nil || CheckPrivateDir(dir) != nil {
		return Runtime{}, false
	}
	if err := CheckPrivateDir(def); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Runtime{Dir: dir, Note: fallbackNote(def, problem(err), dir)}, true
	}
	return Runtime{Dir: dir, Note: fmt.Sprintf("runtime dir %s is in use instead of the default %s, which another user had taken when opm needed it; the fallback stays in use until reboot so that one daemon serves OPM_HOME (to go back to the default: 'opm daemon stop', then remove %s)", dir, def, dir)}, true
}

// fallback makes the runtime directory other users cannot take, since the
// default def cannot be used (why).
func fallback(home, def, why string) (Runtime, error) {
	dir, err := secretRuntimeDir(home, true)
	if err == nil {
		if why := sharedDirProblem(shmDir); why != "" {
			err = fmt.Errorf("%s %s", shmDir, why)
		} else {
			err = EnsurePrivateDir(dir)
		}
	}
	if err != nil {
		return Runtime{}, fmt.Errorf("find a runtime directory: the default %s %s, and the fallback is not usable: %v (set OPM_RUNTIME_DIR to a private directory of your own)", def, why, err)
	}
	return Runtime{Dir: dir, Note: fallbackNote(def, why, dir)}, nil
}

// fallbackNote says that the default runtime directory def cannot be used
// (why) and dir is used instead.
func fallbackNote(def, why, dir string) string {
	return fmt.Sprintf("default runtime dir %s %s: another user may have created it to impersonate the opm daemon or to lock you out; opm uses %s instead (a name derived from OPM_HOME's secret, which other users cannot predict)", def, why, dir)
}

// secretRuntimeDir is the runtime directory name nobody else can predict:
// /dev/shm/opm-<uid>-<hex>, the hex 16 bytes of an HMAC-SHA256 of home and
// the boot id keyed with home's secret. The boot id is in it because the
// name is visible in /dev/shm once made: without it, a user who saw it
// once could take it after the next reboot. With create, the secret is
// made when missing; without, a missing secret is fs.ErrNotExist. home is
// checked (CheckHome) before its secret is read.
func secretRuntimeDir(home string, create bool) (string, error) {
	home, err := CheckHome(home)
	if err != nil {
		return "", err
	}
	var key []byte
	if create {
		key, err = Secret(home)
	} else {
		key, err = readSecret(filepath.Join(home, SecretName))
	}
	if err != nil {
		return "", err
	}
	boot, err := os.ReadFile(bootIDPath)
	if err != nil {
		return "", fmt.Errorf("read the boot id: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(home))
	mac.Write([]byte{0})
	mac.Write(bytes.TrimSpace(boot))
	return fmt.Sprintf("%s/opm-%d-%x", shmDir, os.Geteuid(), mac.Sum(nil)[:16]), nil
}

// DefaultRuntimeDir is the default runtime directory name for home under
// /dev/shm, whether or not it is usable (see ResolveRuntimeDir).
func DefaultRuntimeDir(home string) string {
	return fmt.Sprintf("%s/opm-%d-%s", shmDir, os.Geteuid(), homeTag(home))
}

// homeTag is 8 hex digits of a hash of home: it keeps the runtime
// directories of two homes apart.
func homeTag(home string) string {
	h := fnv.New32a()
	h.Write([]byte(home))
	return fmt.Sprintf("%08x", h.Sum32())
}

// privateXDG returns $XDG_RUNTIME_DIR when it is a private directory of
// the caller, else "" and why not.
func privateXDG() (dir, why string) {
	x := os.Getenv("XDG_RUNTIME_DIR")
	if x == "" {
		return "", "XDG_RUNTIME_DIR is not set"
	}
	if !filepath.IsAbs(x) {
		return "", fmt.Sprintf("XDG_RUNTIME_DIR %q is not an absolute path", x)
	}
	if err := CheckPrivateDir(x); err != nil {
		return "", "XDG_RUNTIME_DIR " + problem(err)
	}
	return x, ""
}

// sharedDirProblem says why dir, a directory every user may write to,
// cannot hold private directories safely ("" when it can): it must belong
// to root and be sticky, so that nobody can rename or remove another
// user's entry.
func sharedDirProblem(dir string) string {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return err.Error()
	}
	if st.Uid != 0 {
		return fmt.Sprintf("belongs to uid %d, not root", st.Uid)
	}
	if replaceable(&st) {
		return fmt.Sprintf("may be written by anyone and is not sticky (mode %04o), so others could replace what opm keeps there", st.Mode&0o7777)
	}
	return ""
}

// problem is what err says is wrong with a directory, without its path or
// advice: "belongs to uid 1001, not to you (uid 0)".
func problem(err error) string {
	var de *dirError
	if errors.As(err, &de) {
		return de.why
	}
	return err.Error()
}
