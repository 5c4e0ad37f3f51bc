package testkit

import (
	"slices"
	"strings"
)

// MarkEnv is the variable that marks the processes of one test: its apps,
// its daemons, the helpers it starts. They inherit it, and Marked finds
// them in /proc.
const MarkEnv = "OPM_TEST_MARK"

// NewMark is a fresh "OPM_TEST_MARK=<random>" entry for one test's
// environment.
func NewMark() string { return MarkEnv + "=" + RandomHex(8) }

// WithoutEnv is a copy of env without the variables named by keys.
func WithoutEnv(env []string, keys ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(keys, name)
	})
}
