package shm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"
	"golang.org/x/sys/unix"
)

// LogDirEnv names the environment variable that points the logs (apps'
// default log files and daemon.log) away from OPM_HOME; it wins over
// log_dir in config.toml.
const LogDirEnv = "OPM_LOG_DIR"

// File names of the logs (as in daemon/api, which shm does not import).
const (
	logsDirName   = "logs"
	daemonLogName = "daemon.log"
	configName    = "config.toml"
)

// Writable reports whether dir can be written to: false on a read-only
// mount (EROFS, even for root) or when the caller lacks write permission.
func Writable(dir string) bool {
	return unix.Access(dir, unix.W_OK) == nil
}

// readOnlyErr reports whether err says a file could not be written
// because its file system is read-only or write permission is lacking.
func readOnlyErr(err error) bool {
	return errors.Is(err, unix.EROFS) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)
}

// Logs says where the logs of a home go.
type Logs struct {
	// Dir holds the apps' default log files; DaemonLog is daemon.log.
	Dir       string
	DaemonLog string
	// HomeReadOnly is set when OPM_HOME cannot be written to.
	HomeReadOnly bool
	// Explicit is set when Dir comes from OPM_LOG_DIR or log_dir.
	Explicit bool
}

// ConfiguredLogDir is the log directory asked for: $OPM_LOG_DIR, else
// configured (log_dir of config.toml), else "". It must be absolute.
func ConfiguredLogDir(configured string) (string, error) {
	if env := os.Getenv(LogDirEnv); env != "" {
		if !filepath.IsAbs(env) {
			return "", fmt.Errorf("%s=%s is not an absolute path (set it to one, e.g. /run/opm-logs)", LogDirEnv, env)
		}
		return filepath.Clean(env), nil
	}
	if configured != "" && !filepath.IsAbs(configured) {
		return "", fmt.Errorf("log_dir %q in config.toml is not an absolute path (set it to one, e.g. /run/opm-logs)", configured)
	}
	if configured == "" {
		return "", nil
	}
	return filepath.Clean(configured), nil
}

// ResolveLogs says where the logs of home (checked by CheckHome) go, and
// makes their directory when missing (EnsureOwnedDir: the caller's, not
// writable by others). configured is log_dir of config.toml; $OPM_LOG_DIR
// wins over it. With neither, the logs are <home>/logs and daemon.log is
// <home>/daemon.log; when home is read-only, daemon.log goes into
// <home>/logs if that is writable (a tmpfs mounted there), and when it is
// not either, the logs have nowhere to go: refused, saying to set log_dir
// or OPM_LOG_DIR (a fallback to the runtime dir's RAM would fill it
// silently, and with it the room for runtime records).
func ResolveLogs(home, configured string) (Logs, error) {
	l := Logs{HomeReadOnly: !Writable(home)}
	dir, err := ConfiguredLogDir(configured)
	if err != nil {
		return l, err
	}
	if dir != "" {
		l.Dir, l.DaemonLog, l.Explicit = dir, filepath.Join(dir, daemonLogName), true
		if err := EnsureOwnedDir(dir); err != nil {
			return l, fmt.Errorf("log directory (log_dir or %s): %w", LogDirEnv, err)
		}
		// As OPM_HOME: no one else may replace it or a directory above
		// it (and so send the logs elsewhere); its real path is used.
		real, err := checkOwnedTree(dir, "the log directory", "log_dir (or "+LogDirEnv+")", "point log_dir or "+LogDirEnv+" at a directory of your own")
		if err != nil {
			return l, err
		}
		l.Dir, l.DaemonLog = real, filepath.Join(real, daemonLogName)
		if !Writable(real) {
			return l, fmt.Errorf("log directory %s (log_dir or %s) cannot be written to (make it writable, or point log_dir or %s at a writable directory)", dir, LogDirEnv, LogDirEnv)
		}
		return l, nil
	}
	l.Dir, l.DaemonLog = filepath.Join(home, logsDirName), filepath.Join(home, daemonLogName)
	if !l.HomeReadOnly {
		if err := EnsureOwnedDir(l.Dir); err != nil {
			return l, fmt.Errorf("log directory: %w", err)
		}
		return l, nil
	}
	l.DaemonLog = filepath.Join(l.Dir, daemonLogName)
	if err := EnsureOwnedDir(l.Dir); err != nil && !readOnlyErr(err) {
		return l, fmt.Errorf("log directory: %w", err)
	} else if err == nil && Writable(l.Dir) {
		return l, nil
	}
	return l, fmt.Errorf("OPM_HOME (%s) is read-only, and so is its log directory %s: the logs have nowhere to go; set log_dir in %s or %s in the environment to a writable directory (e.g. on tmpfs: /run/opm-logs), or make OPM_HOME writable", home, l.Dir, filepath.Join(home, configName), LogDirEnv)
}

// ReadLogDirSetting returns log_dir of <home>/config.toml ("" when the
// file or the key is missing, or the file cannot be read: the daemon,
// which reads the whole file, says what is wrong with it). For commands
// that need to know where the daemon's logs go before one runs.
func ReadLogDirSetting(home string) string {
	f, err := OpenOwnedFile(filepath.Join(home, configName), unix.O_RDONLY, 0)
	if err != nil {
		return ""
	}
	defer f.Close()
	var c struct {
		LogDir string `toml:"log_dir"`
	}
	if _, err := toml.NewDecoder(f).Decode(&c); err != nil {
		return ""
	}
	return c.LogDir
}

// HomeSecret returns the secret of home (Secret), and when home is
// read-only and has none, the secret of this boot kept in runtimeDir
// (<runtimeDir>/secret, made there once, read with the same checks: the
// caller's, not writable by others, one link, no symlink), with a note
// that says so. A secret in runtimeDir is preferred to making one in home
// while it lasts, so that one boot keeps one secret (app tokens stay
// valid) should home become writable: then home gets the same bytes, for
// the next boots. runtimeDir must be a private
// directory (EnsurePrivateDir).
func HomeSecret(home, runtimeDir string) (key []byte, note string, err error) {
	b, err := readSecret(filepath.Join(home, SecretName))
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return b, "", err
	}
	rtPath := filepath.Join(runtimeDir, SecretName)
	note = fmt.Sprintf("OPM_HOME (%s) is read-only and holds no secret: this boot's secret (the key of app tokens) is kept in %s, in RAM; a new one is made after a reboot unless OPM_HOME holds one (start opm once with OPM_HOME writable to make it)", home, rtPath)
	if b, err := readSecret(rtPath); err == nil || !errors.Is(err, fs.ErrNotExist) {
		if err == nil && Writable(home) {
			// Home has become writable: it gets this boot's
			// secret, the same bytes, so that tokens stay valid and
			// the next boot finds it there.
			if perr := placeFile(filepath.Join(home, SecretName), b, false); perr == nil || errors.Is(perr, os.ErrExist) {
				hb, herr := Secret(home)
				return hb, "", herr
			}
		}
		return b, note, err
	}
	b, err = Secret(home)
	if err == nil || !readOnlyErr(err) {
		return b, "", err
	}
	b, err = Secret(runtimeDir)
	return b, note, err
}

// PlannedLogs says where the logs of home go as ResolveLogs will resolve
// them, with log_dir read from <home>/config.toml, and makes or checks
// nothing: for commands that name daemon.log, or open it for a daemon
// they start. An OPM_LOG_DIR or log_dir that is not absolute is ignored
// here (the daemon refuses it).
func PlannedLogs(home string) Logs {
	l := Logs{HomeReadOnly: !Writable(home)}
	if dir, err := ConfiguredLogDir(ReadLogDirSetting(home)); err == nil && dir != "" {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			dir = real // the daemon names it so
		}
		l.Dir, l.DaemonLog, l.Explicit = dir, filepath.Join(dir, daemonLogName), true
		return l
	}
	l.Dir, l.DaemonLog = filepath.Join(home, logsDirName), filepath.Join(home, daemonLogName)
	if l.HomeReadOnly {
		l.DaemonLog = filepath.Join(l.Dir, daemonLogName)
	}
	return l
}
