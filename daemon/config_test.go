package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opm/daemon/cgroup"
)

// config.toml values are held to the same ranges as the API's.
func TestLoadConfigRanges(t *testing.T) {
	tests := []struct {
		name, toml string
		want       string // in the error; "" means accepted
	}{
		{"defaults", "", ""},
		{"fast test values", "restart_delay = \"1ns\"\nrestart_delay_max = \"1ns\"\nkill_timeout = \"1ms\"\nmax_restarts = 0\n", ""},
		{"top of the ranges", "restart_delay_max = \"24h\"\nrestart_reset_after = \"24h\"\nrestore_recheck = \"24h\"\nkill_timeout = \"24h\"\nmax_restarts = 1000000\n", ""},
		{"kill timeout too long", "kill_timeout = \"25h\"\n", "kill_timeout must be between 1ms and 24h, got 25h"},
		{"kill timeout below 1ms", "kill_timeout = \"10us\"\n", "kill_timeout must be between 1ms and 24h"},
		{"max restarts too many", "max_restarts = 1000001\n", "max_restarts must be between 0 and 1000000"},
		{"max restarts negative", "max_restarts = -1\n", "max_restarts must be between 0 and 1000000"},
		{"restart delay max too long", "restart_delay_max = \"2562047h\"\n", "restart_delay_max must be a positive duration up to 24h"},
		{"zero recheck", "restore_recheck = \"0s\"\n", "restore_recheck must be a positive duration"},
		{"negative reset", "restart_reset_after = \"-1s\"\n", "restart_reset_after must be a positive duration"},
		{"api settings at the top", "api_read_timeout = \"24h\"\napi_max_connections = 65536\n", ""},
		{"api read timeout too long", "api_read_timeout = \"25h\"\n", "api_read_timeout must be a positive duration up to 24h"},
		{"no api connections", "api_max_connections = 0\n", "api_max_connections must be between 1 and 65536"},
		{"too many api connections", "api_max_connections = 9223372036854775807\n", "api_max_connections must be between 1 and 65536"},
		{"max below delay", "restart_delay = \"2s\"\nrestart_delay_max = \"1s\"\n", "must not be less than"},
	}
	for _, tt := range tests {
		_, err := loadConfig(t, tt.toml)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), ConfigName)):
			t.Errorf("%s: err = %v, want one naming %s and containing %q", tt.name, err, ConfigName, tt.want)
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
