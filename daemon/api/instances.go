package api

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf8"
)

// An app with instances runs Settings.Instances processes of one
// definition, each an app-table row of its own (its id, pid, restarts,
// runtime record and token) that carries its instance id (Spec.Instance,
// 0..N-1) and the app's name. A name names all of them; an id one.

// MaxInstances bounds an app's instances.
const MaxInstances = 1024

// Instance environment: every process of an app learns its instance id in
// OPM_INSTANCE and in InstanceVar (NODE_APP_INSTANCE unless the app
// names another, as PM2's instance_var does).
const (
	InstanceEnv        = "OPM_INSTANCE"
	DefaultInstanceVar = "NODE_APP_INSTANCE"
)

// ScaleParam names the instance count of POST /v1/apps/{name}/scale:
// "4", "+2", "-1" or "max".
const ScaleParam = "instances"

// InstanceKey names instance i of the app called name among all
// instances of all apps: the name itself for instance 0 (an app without
// instances is its own instance 0), else the name and the id after a
// comma, which no name contains. Runtime state is keyed by it: spools,
// tokens, cgroups.
func InstanceKey(name string, i int) string {
	if i == 0 {
		return name
	}
	return name + "," + strconv.Itoa(i)
}

// Key is the instance key of the process the spec defines.
func (s Spec) Key() string { return InstanceKey(s.Name, s.Instance) }

// Count is how many processes the settings ask for: Instances, or one.
func (s Settings) Count() int { return max(s.Instances, 1) }

// Label names instance i of name for people: "web" for an app without
// instances, "web:2" for an instance.
func Label(name string, i, count int) string {
	if count <= 1 && i == 0 {
		return name
	}
	return name + ":" + strconv.Itoa(i)
}

// ParseInstances reads an instance count as PM2 users write it: a number
// of processes, "max" (or 0) for one per CPU, -1 for one less than the
// CPUs (never fewer than one), and with relative true "+N" or "-N" added
// to current.
func ParseInstances(s string, current int) (int, error) {
	s = strings.TrimSpace(s)
	cpus := runtime.NumCPU()
	if s == "max" {
		return cpus, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("instances %q: give a number of processes, \"max\" for one per CPU, or +N/-N to add or remove some", s)
	}
	switch {
	case strings.HasPrefix(s, "+") || (strings.HasPrefix(s, "-") && current > 0):
		n += current
		if n < 1 {
			return 0, fmt.Errorf("instances %q leaves %d processes; keep at least 1 (or stop or delete the app)", s, n)
		}
	case n == 0 && current > 0:
		return 0, fmt.Errorf("instances 0: keep at least 1 (or stop or delete the app)")
	case n == 0:
		n = cpus
	case n == -1:
		n = max(cpus-1, 1)
	}
	return n, CheckInstances(n)
}

// CheckInstances refuses an instance count out of range.
func CheckInstances(n int) error {
	if n < 0 || n > MaxInstances {
		return fmt.Errorf("instances must be between 1 and %d, got %d", MaxInstances, n)
	}
	return nil
}

// CheckEnvName refuses what cannot be an environment variable's name.
func CheckEnvName(key, name string) error {
	if name == "" || strings.ContainsAny(name, "=\x00") || strings.TrimSpace(name) != name || !utf8.ValidString(name) {
		return fmt.Errorf("%s %q is not an environment variable name", key, name)
	}
	return nil
}

// InstanceVarName is the variable that holds the instance id besides
// OPM_INSTANCE: the app's instance_var, or NODE_APP_INSTANCE.
func (s Settings) InstanceVarName() string {
	if s.InstanceVar != "" {
		return s.InstanceVar
	}
	return DefaultInstanceVar
}

// InstanceEnvOf returns the environment of instance i of an app whose
// environment is env: OPM_INSTANCE and the instance variable set to i
// (replacing what env had), and the increment variable, when set, to its
// value in env plus i. It refuses an increment variable env lacks or
// whose value is not a number.
func InstanceEnvOf(env []string, s Settings, i int) ([]string, error) {
	ivar := s.InstanceVarName()
	set := map[string]string{InstanceEnv: strconv.Itoa(i), ivar: strconv.Itoa(i)}
	if v := s.IncrementVar; v != "" {
		base, ok := "", false
		for _, kv := range env {
			if k, val, _ := strings.Cut(kv, "="); k == v {
				base, ok = val, true
			}
		}
		if !ok {
			return nil, fmt.Errorf("increment_var %s: the app's environment has no %s to count from (set it, e.g. %s=3000)", v, v, v)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(base), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("increment_var %s: its value %q is not a whole number", v, base)
		}
		set[v] = strconv.FormatInt(n+int64(i), 10)
	}
	out := make([]string, 0, len(env)+len(set))
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); set[k] == "" {
			out = append(out, kv)
		}
	}
	for _, k := range []string{InstanceEnv, ivar, s.IncrementVar} {
		if v, ok := set[k]; ok && v != "" {
			out = append(out, k+"="+v)
			set[k] = "" // once, when two names are the same
		}
	}
	return out, nil
}
