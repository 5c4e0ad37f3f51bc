package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opm/daemon/cgroup"
)

// config.toml values are held to the same ranges as the API's: the
// defaults, values at the ends of the ranges are accepted; beyond them, an
// error names the file and the setting.
func TestLoadConfigRanges(t *testing.T) {
	for _, toml := range []string{
		"",
		"restart_delay = \"1ns\"\nrestart_delay_max = \"1ns\"\nkill_timeout = \"1ms\"\nmax_restarts = 0\n",
		"restart_delay_max = \"24h\"\nrestart_reset_after = \"24h\"\nrestore_recheck = \"24h\"\nkill_timeout = \"24h\"\nmax_restarts = 1000000\n",
		"api_read_timeout = \"24h\"\napi_max_connections = 65536\n",
		"log_dir = \"/run/opm-logs\"\n",
	} {
		if _, err := loadConfig(t, toml); err != nil {
			t.Errorf("%q refused: %v", toml, err)
		}
	}
	for toml, want := range map[string]string{
		"kill_timeout = \"25h\"\n":                             "kill_timeout must be between 1ms and 24h, got 25h",
		"kill_timeout = \"10us\"\n":                            "kill_timeout must be between 1ms and 24h",
		"max_restarts = 1000001\n":                             "max_restarts must be between 0 and 1000000",
		"max_restarts = -1\n":                                  "max_restarts must be between 0 and 1000000",
		"restart_delay_max = \"2562047h\"\n":                   "restart_delay_max must be a positive duration up to 24h",
		"restore_recheck = \"0s\"\n":                           "restore_recheck must be a positive duration",
		"restart_reset_after = \"-1s\"\n":                      "restart_reset_after must be a positive duration",
		"api_read_timeout = \"25h\"\n":                         "api_read_timeout must be a positive duration up to 24h",
		"api_max_connections = 0\n":                            "api_max_connections must be between 1 and 65536",
		"api_max_connections = 9223372036854775807\n":          "api_max_connections must be between 1 and 65536",
		"restart_delay = \"2s\"\nrestart_delay_max = \"1s\"\n": "must not be less than",
		"log_dir = \"logs\"\n":                                 "log_dir must be an absolute path",
	} {
		if _, err := loadConfig(t, toml); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ConfigName) {
			t.Errorf("%q: err = %v, want one naming %s and saying %q", toml, err, ConfigName, want)
		}
	}
}

// cgroups = "auto" (the default) or "off"; anything else is an error.
func TestConfigCgroups(t *testing.T) {
	for toml, want := range map[string]string{"": cgroup.Auto, `cgroups = "off"`: cgroup.Off, `cgroups = "auto"`: cgroup.Auto} {
		if cfg, err := loadConfig(t, toml); err != nil || cfg.Cgroups != want {
			t.Errorf("%q: cgroups = %q (%v), want %q", toml, cfg.Cgroups, err, want)
		}
	}
	if _, err := loadConfig(t, `cgroups = "always"`); err == nil || !strings.Contains(err.Error(), `cgroups must be "auto" or "off"`) {
		t.Errorf("cgroups = \"always\": %v, want an error saying what to use", err)
	}
}

// loadConfig loads a home whose config.toml holds toml.
func loadConfig(t *testing.T, toml string) (Config, error) {
	t.Helper()
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ConfigName), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return LoadConfig(home, t.TempDir())
}
