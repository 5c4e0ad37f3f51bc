package proc

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Argv returns the argument vector of pid (nil for kernel threads).
func Argv(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil, nil
	}
	return strings.Split(string(b), "\x00"), nil
}

// Environ returns the initial environment of pid, NUL-separated as the
// kernel keeps it. Only the process's owner (and root) may read it.
func Environ(pid int) ([]byte, error) {
	return os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
}

// EnvValue finds the value of the variable name in a NUL-separated
// environment block.
func EnvValue(env []byte, name string) (string, bool) {
	prefix := name + "="
	for len(env) > 0 {
		kv := env
		if i := bytes.IndexByte(env, 0); i >= 0 {
			kv, env = env[:i], env[i+1:]
		} else {
			env = nil
		}
		if v, ok := bytes.CutPrefix(kv, []byte(prefix)); ok {
			return string(v), true
		}
	}
	return "", false
}

// HasEnv reports whether pid's initial environment holds kv ("K=V").
func HasEnv(pid int, kv string) bool {
	env, err := Environ(pid)
	if err != nil {
		return false
	}
	k, v, _ := strings.Cut(kv, "=")
	got, ok := EnvValue(env, k)
	return ok && got == v
}
