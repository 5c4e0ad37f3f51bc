package api

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestLimits(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		valid bool
	}{
		{"kill timeout 1ms", CheckKillTimeout(time.Millisecond), true},
		{"kill timeout 24h", CheckKillTimeout(24 * time.Hour), true},
		{"kill timeout 999us", CheckKillTimeout(999 * time.Microsecond), false},
		{"kill timeout 0", CheckKillTimeout(0), false},
		{"kill timeout 24h+1ns", CheckKillTimeout(24*time.Hour + 1), false},
		{"kill timeout max duration", CheckKillTimeout(math.MaxInt64), false},
		{"kill timeout 1 ms", CheckKillTimeoutMs(1), true},
		{"kill timeout 86400000 ms", CheckKillTimeoutMs(86_400_000), true},
		{"kill timeout 0 ms", CheckKillTimeoutMs(0), false},
		{"kill timeout -1 ms", CheckKillTimeoutMs(-1), false},
		{"kill timeout 86400001 ms", CheckKillTimeoutMs(86_400_001), false},
		// 2^63-1 ms wraps to a negative time.Duration when converted.
		{"kill timeout 2^63-1 ms", CheckKillTimeoutMs(math.MaxInt64), false},
		{"kill timeout -2^63 ms", CheckKillTimeoutMs(math.MinInt64), false},
		{"max restarts 0", CheckMaxRestarts(0), true},
		{"max restarts 1000000", CheckMaxRestarts(1_000_000), true},
		{"max restarts -1", CheckMaxRestarts(-1), false},
		{"max restarts 1000001", CheckMaxRestarts(1_000_001), false},
		{"max restarts max int", CheckMaxRestarts(math.MaxInt), false},
		{"api connections 1", CheckAPIConnections(1), true},
		{"api connections 65536", CheckAPIConnections(65536), true},
		{"api connections 0", CheckAPIConnections(0), false},
		{"api connections 65537", CheckAPIConnections(65537), false},
		{"setting 1ns", CheckSettingDuration(1), true},
		{"setting 24h", CheckSettingDuration(24 * time.Hour), true},
		{"setting 0", CheckSettingDuration(0), false},
		{"setting -1s", CheckSettingDuration(-time.Second), false},
		{"setting 25h", CheckSettingDuration(25 * time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.err == nil) != tt.valid {
				t.Fatalf("err = %v, want valid %v", tt.err, tt.valid)
			}
		})
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
