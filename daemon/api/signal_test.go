package api

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in      string
		want    unix.Signal
		wantStr string
		wantErr string
	}{
		{in: "SIGINT", want: unix.SIGINT, wantStr: "SIGINT"},
		{in: "INT", want: unix.SIGINT, wantStr: "SIGINT"},
		{in: "sigterm", want: unix.SIGTERM, wantStr: "SIGTERM"},
		{in: "usr2", want: unix.SIGUSR2, wantStr: "SIGUSR2"},
		{in: "2", want: unix.SIGINT, wantStr: "SIGINT"},
		{in: "40", want: unix.Signal(40), wantStr: "40"},
		{in: "64", want: unix.Signal(64), wantStr: "64"},
		{in: "0", wantErr: "out of range"},
		{in: "65", wantErr: "out of range"},
		{in: "-1", wantErr: "out of range"},
		{in: "SIGNOPE", wantErr: "unknown signal"},
		{in: "", wantErr: "unknown signal"},
		{in: "SIG", wantErr: "unknown signal"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSignal(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSignal(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				if CheckSignal(tt.in) == nil {
					t.Fatalf("CheckSignal(%q) accepted what ParseSignal refuses", tt.in)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSignal(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if s := SignalString(got); s != tt.wantStr {
				t.Fatalf("SignalString(%v) = %q, want %q", got, s, tt.wantStr)
			}
			if back, err := ParseSignal(SignalString(got)); err != nil || back != got {
				t.Fatalf("SignalString(%v) = %q does not read back: %v, %v", got, SignalString(got), back, err)
			}
		})
	}
}

func TestSettingChecks(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		valid bool
	}{
		{"setting 1 ms", CheckSettingMs(1), true},
		{"setting 86400000 ms", CheckSettingMs(86_400_000), true},
		{"setting 0 ms", CheckSettingMs(0), false},
		{"setting -1 ms", CheckSettingMs(-1), false},
		{"setting 86400001 ms", CheckSettingMs(86_400_001), false},
		{"setting 2^63-1 ms", CheckSettingMs(1<<63 - 1), false},
		{"exit code 0", CheckExitCode(0), true},
		{"exit code 255", CheckExitCode(255), true},
		{"exit code -1", CheckExitCode(-1), false},
		{"exit code 256", CheckExitCode(256), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.err == nil) != tt.valid {
				t.Fatalf("err = %v, want valid %v", tt.err, tt.valid)
			}
		})
	}
}
