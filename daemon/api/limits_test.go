package api

import (
	"math"
	"strings"
	"testing"
	"time"
)

// Each limit accepts the ends of its range and refuses what lies beyond:
// the CLI, config.toml and the API all check with these functions, and
// none may wrap a number into range (2^63-1 ms is a negative Duration).
func TestLimits(t *testing.T) {
	valid := map[string]error{
		"kill timeout 1ms":         CheckKillTimeout(time.Millisecond),
		"kill timeout 24h":         CheckKillTimeout(24 * time.Hour),
		"kill timeout 1 ms":        CheckKillTimeoutMs(1),
		"kill timeout 86400000 ms": CheckKillTimeoutMs(86_400_000),
		"max restarts 0":           CheckMaxRestarts(0),
		"max restarts 1000000":     CheckMaxRestarts(1_000_000),
		"api connections 1":        CheckAPIConnections(1),
		"api connections 65536":    CheckAPIConnections(65536),
		"setting 1ns":              CheckSettingDuration(1),
		"setting 24h":              CheckSettingDuration(24 * time.Hour),
	}
	for name, err := range valid {
		if err != nil {
			t.Errorf("%s: %v, want it accepted", name, err)
		}
	}
	refused := map[string]error{
		"kill timeout 999us":        CheckKillTimeout(999 * time.Microsecond),
		"kill timeout 0":            CheckKillTimeout(0),
		"kill timeout 24h+1ns":      CheckKillTimeout(24*time.Hour + 1),
		"kill timeout max duration": CheckKillTimeout(math.MaxInt64),
		"kill timeout 0 ms":         CheckKillTimeoutMs(0),
		"kill timeout -1 ms":        CheckKillTimeoutMs(-1),
		"kill timeout 86400001 ms":  CheckKillTimeoutMs(86_400_001),
		// 2^63-1 ms wraps to a negative time.Duration when converted.
		"kill timeout 2^63-1 ms": CheckKillTimeoutMs(math.MaxInt64),
		"kill timeout -2^63 ms":  CheckKillTimeoutMs(math.MinInt64),
		"max restarts -1":        CheckMaxRestarts(-1),
		"max restarts 1000001":   CheckMaxRestarts(1_000_001),
		"max restarts max int":   CheckMaxRestarts(math.MaxInt),
		"api connections 0":      CheckAPIConnections(0),
		"api connections 65537":  CheckAPIConnections(65537),
		"setting 0":              CheckSettingDuration(0),
		"setting -1s":            CheckSettingDuration(-time.Second),
		"setting 25h":            CheckSettingDuration(25 * time.Hour),
	}
	for name, err := range refused {
		if err == nil {
			t.Errorf("%s accepted, want it refused", name)
		}
	}
}

// A refusal states the range, so the user knows what to type instead.
func TestLimitMessagesStateTheRange(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{CheckKillTimeoutMs(math.MaxInt64), "must be between 1ms and 24h, got 9223372036854775807ms"},
		{CheckKillTimeout(48 * time.Hour), "must be between 1ms and 24h, got 48h"},
		{CheckMaxRestarts(-1), "must be between 0 and 1000000, got -1"},
		{CheckSettingDuration(0), "positive duration up to 24h"},
		{CheckSettingDuration(30*time.Hour + 30*time.Minute), "got 30h30m"},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("message %q, want it to contain %q", tt.err, tt.want)
		}
	}
}
