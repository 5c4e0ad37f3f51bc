package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/daemon/appspec"
	"opm/daemon/cgroup"
	"opm/daemon/hooks"
	"opm/daemon/logs"
	"opm/shm"
)

// ConfigName is the optional configuration file inside OPM_HOME.
const ConfigName = "config.toml"

// Config is everything Run needs. Durations come from config.toml so that
// tests run in milliseconds.
type Config struct {
	// Home is OPM_HOME; RuntimeDir is the RAM directory holding the
	// socket, the daemon lock, the restore flag and the runtime records.
	Home       string `toml:"-"`
	RuntimeDir string `toml:"-"`

	// RestartDelay is the first back-off delay; it doubles per restart up
	// to RestartDelayMax.
	RestartDelay    time.Duration `toml:"restart_delay"`
	RestartDelayMax time.Duration `toml:"restart_delay_max"`
	// RestartResetAfter is the uptime after which an app's back-off and
	// its count of recent restarts start again from zero.
	RestartResetAfter time.Duration `toml:"restart_reset_after"`
	// KillTimeout is the default wait between SIGTERM and SIGKILL.
	KillTimeout time.Duration `toml:"kill_timeout"`
	// MaxRestarts is the default number of restarts within the window
	// after which an app is errored.
	MaxRestarts int `toml:"max_restarts"`
	// RestoreRecheck is how often deferred automatic starts look again at
	// the restore flag while a restore holds it.
	RestoreRecheck time.Duration `toml:"restore_recheck"`
	// RestoreStall is how long a restore may hold the restore flag before
	// the daemon reports it as stalled.
	RestoreStall time.Duration `toml:"restore_stall"`
	// APIReadTimeout bounds how long a client may take to send a request
	// (headers and body); APIMaxConnections caps the connections served
	// at once (more wait in the socket's backlog). Together they keep
	// slow or stuck clients from holding the daemon's descriptors.
	APIReadTimeout    time.Duration `toml:"api_read_timeout"`
	APIMaxConnections int           `toml:"api_max_connections"`
	// Listen is a TCP address ("127.0.0.1:9615") on which the daemon
	// serves its API and the web dashboard too, to clients that send
	// the bearer token of `opm token` (tcp.go); "" (the default): none.
	Listen string `toml:"listen"`
	// Cgroups is "auto" (each app in its own cgroup when cgroup v2 is
	// available and delegated to us; see cgroup.go) or "off".
	Cgroups string `toml:"cgroups"`
	// MemoryCheckInterval is how often the memory of apps with a
	// max_memory_restart is sampled (only while one runs).
	MemoryCheckInterval time.Duration `toml:"memory_check_interval"`
	// LogMaxSize is the size at which a log file (an app's, daemon.log)
	// is rotated ("10M"); LogMaxFiles how many rotated files each keeps;
	// LogCompress gzips rotated files. Apps may set their own.
	LogMaxSize  Size `toml:"log_max_size"`
	LogMaxFiles int  `toml:"log_max_files"`
	LogCompress bool `toml:"log_compress"`

	// LogDir holds the apps' default log files and daemon.log
	// (absolute; made when missing): "" is <Home>/logs, with daemon.log
	// in Home. $OPM_LOG_DIR wins over it. Run sets it to where the logs
	// go (Logs).
	LogDir string `toml:"log_dir"`
	// Logs is where the logs go, as Run resolved them.
	Logs shm.Logs `toml:"-"`

	// RestoreOnStart restores the saved apps once the daemon serves,
	// through the restore flag as `opm restore` does (the units of
	// `opm startup` set it).
	RestoreOnStart bool `toml:"restore_on_start"`

	// Hooks run on every app's events ([hooks] on_errored = "..."),
	// besides an app's own. HookTimeout bounds each run; a URL hook
	// that fails is tried HookRetries more times, after HookRetryDelay,
	// doubling (daemon/hooks).
	Hooks          api.Hooks     `toml:"hooks"`
	HookTimeout    time.Duration `toml:"hook_timeout"`
	HookRetries    int           `toml:"hook_retries"`
	HookRetryDelay time.Duration `toml:"hook_retry_delay"`

	// Service names the service a service manager runs the daemon as
	// ($OPM_SERVICE, which the units of `opm startup` set; "its service
	// manager" under $NOTIFY_SOCKET alone): `opm daemon stop` and
	// `restart` are refused then, for the manager to do.
	Service string `toml:"-"`
	// StopHint says how to stop the daemon's service, when it is not
	// a systemd or OpenRC one.
	StopHint string `toml:"-"`

	// Notes are warnings about how the daemon was set up, such as a
	// runtime dir fallback: logged when it starts, shown by `opm daemon
	// status`.
	Notes []string `toml:"-"`

	// Logger receives one line per event; nil discards.
	Logger *slog.Logger `toml:"-"`
	// Ready, when set, is called once the socket is listening.
	Ready func(pid int) `toml:"-"`
	// Started, when set, is called once the daemon serves and its
	// restore on start (if any) is done, with how that went.
	Started func(api.RestoreResult, error) `toml:"-"`
	// Stopping, when set, is called once when the daemon begins to stop
	// (SIGTERM, 'opm daemon stop'), with the apps as they were then.
	Stopping func([]api.App) `toml:"-"`
}

// maxHookRetries bounds hook_retries.
const maxHookRetries = 10

// minMemoryCheckInterval bounds how often memory limits are sampled.
const minMemoryCheckInterval = 10 * time.Millisecond

// DefaultConfig returns the defaults for home and runtimeDir.
func DefaultConfig(home, runtimeDir string) Config {
	return Config{
		Home:                home,
		RuntimeDir:          runtimeDir,
		RestartDelay:        api.DefaultRestartDelay,
		RestartDelayMax:     15 * time.Second,
		RestartResetAfter:   api.DefaultRestartResetAfter,
		KillTimeout:         api.DefaultKillTimeout,
		MaxRestarts:         15,
		RestoreRecheck:      200 * time.Millisecond,
		RestoreStall:        api.DefaultRestoreStall,
		APIReadTimeout:      10 * time.Second,
		APIMaxConnections:   128,
		Cgroups:             cgroup.Auto,
		MemoryCheckInterval: 2 * time.Second,
		LogMaxSize:          Size(logs.DefaultLimits.MaxSize),
		LogMaxFiles:         logs.DefaultLimits.MaxFiles,
		LogCompress:         logs.DefaultLimits.Compress,
		HookTimeout:         hooks.DefaultTimeout,
		HookRetries:         hooks.DefaultRetries,
		HookRetryDelay:      hooks.DefaultRetryDelay,
	}
}

// LoadConfig reads home/config.toml over the defaults. A missing file is
// not an error.
func LoadConfig(home, runtimeDir string) (Config, error) {
	cfg := DefaultConfig(home, runtimeDir)
	path := filepath.Join(home, ConfigName)
	f, err := shm.OpenOwnedFile(path, unix.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	md, err := toml.NewDecoder(f).Decode(&cfg)
	if err != nil {
		return cfg, fmt.Errorf("read config %s: %w (fix or remove the file)", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return cfg, fmt.Errorf("read config %s: unknown key %q (known: %s)", path, und[0].String(), strings.Join(configKeys(), ", "))
	}
	if err := cfg.validate(); err != nil {
		return cfg, fmt.Errorf("read config %s: %w", path, err)
	}
	return cfg, nil
}

// configKeys lists the keys config.toml may hold, from Config's tags.
func configKeys() []string {
	var keys []string
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if k := t.Field(i).Tag.Get("toml"); k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	return keys
}

func (c *Config) validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"restart_delay", c.RestartDelay},
		{"restart_delay_max", c.RestartDelayMax},
		{"restart_reset_after", c.RestartResetAfter},
		{"restore_recheck", c.RestoreRecheck},
		{"restore_stall", c.RestoreStall},
		{"api_read_timeout", c.APIReadTimeout},
		{"memory_check_interval", c.MemoryCheckInterval},
		{"hook_timeout", c.HookTimeout},
		{"hook_retry_delay", c.HookRetryDelay},
	} {
		if err := api.CheckSettingDuration(d.v); err != nil {
			return fmt.Errorf("%s %w", d.name, err)
		}
	}
	if c.MemoryCheckInterval < minMemoryCheckInterval {
		return fmt.Errorf("memory_check_interval must be at least %s (each sample reads /proc), got %s", minMemoryCheckInterval, c.MemoryCheckInterval)
	}
	if err := api.CheckKillTimeout(c.KillTimeout); err != nil {
		return fmt.Errorf("kill_timeout %w", err)
	}
	if c.RestartDelayMax < c.RestartDelay {
		return fmt.Errorf("restart_delay_max (%s) must not be less than restart_delay (%s)", c.RestartDelayMax, c.RestartDelay)
	}
	if err := api.CheckAPIConnections(c.APIMaxConnections); err != nil {
		return fmt.Errorf("api_max_connections %w", err)
	}
	if err := checkListen(c.Listen); err != nil {
		return err
	}
	if c.Cgroups != cgroup.Auto && c.Cgroups != cgroup.Off {
		return fmt.Errorf("cgroups must be %q or %q, got %q", cgroup.Auto, cgroup.Off, c.Cgroups)
	}
	if err := api.CheckMaxRestarts(c.MaxRestarts); err != nil {
		return fmt.Errorf("max_restarts %w", err)
	}
	if err := api.CheckLogSize(int64(c.LogMaxSize)); err != nil {
		return fmt.Errorf("log_max_size %w", err)
	}
	if err := api.CheckLogFiles(c.LogMaxFiles); err != nil {
		return fmt.Errorf("log_max_files %w", err)
	}
	if err := api.CheckHooks(c.Hooks); err != nil {
		return fmt.Errorf("[hooks] %w", err)
	}
	if c.HookRetries < 0 || c.HookRetries > maxHookRetries {
		return fmt.Errorf("hook_retries must be between 0 and %d, got %d", maxHookRetries, c.HookRetries)
	}
	if c.LogDir != "" && !filepath.IsAbs(c.LogDir) {
		return fmt.Errorf("log_dir must be an absolute path, got %q", c.LogDir)
	}
	return nil
}

// logLimits are the rotation limits of the config.
func (c Config) logLimits() logs.Limits {
	return logs.Limits{MaxSize: int64(c.LogMaxSize), MaxFiles: c.LogMaxFiles, Compress: c.LogCompress}
}

// Size is a size in bytes, written in config.toml as PM2 writes sizes:
// "500K", "10M", "1G".
type Size int64

// UnmarshalText reads a size.
func (s *Size) UnmarshalText(b []byte) error {
	n, err := api.ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = Size(n)
	return nil
}

// MarshalText writes a size as UnmarshalText reads it.
func (s Size) MarshalText() ([]byte, error) { return []byte(api.FormatSize(int64(s))), nil }

// specDefaults are the defaults an app's definition takes from the config.
func (c Config) specDefaults() appspec.Defaults {
	return appspec.Defaults{Home: c.Home, LogDir: c.logDir(), MaxRestarts: c.MaxRestarts, KillTimeout: c.KillTimeout}
}

// logDir is the directory of the apps' default log files: Logs.Dir once
// Run resolved it, else <Home>/logs.
func (c Config) logDir() string {
	if c.Logs.Dir != "" {
		return c.Logs.Dir
	}
	return filepath.Join(c.Home, api.LogsDir)
}
