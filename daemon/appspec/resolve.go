package appspec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"opm/daemon/api"
)

// interpreters maps script extensions to the program that runs them.
var interpreters = map[string]string{
	".js":  "node",
	".mjs": "node",
	".cjs": "node",
	".py":  "python3",
	".sh":  "bash",
}

// resolveCommand turns what the user typed into an executable and its
// argument vector, the way a PM2 user expects: scripts by extension run
// through their interpreter, executable files directly, plain command
// lines split into words, and lines with shell syntax through /bin/sh.
// PATH lookups use the app's own environment. Relative paths are found
// from dir, the caller's directory, as a shell would. A missing script or
// interpreter is an error now, not a crash loop later.
//
// interp, when set, runs a script instead of the one its extension picks
// ("none": the script runs directly), with interpArgs before the script.
func resolveCommand(command string, args []string, dir string, env []string, interp string, interpArgs []string) (spec api.Spec, err error) {
	spec.Command = command
	line := strings.TrimSpace(command)
	if line == "" {
		return spec, api.Errorf(api.CodeBadRequest, "no script or command to start (try 'opm start app.js' or 'opm start \"python3 -m http.server\"')")
	}
	path := envPath(env)
	if api.NeedsShell(line) {
		sh, err := lookPath("sh", path, dir)
		if err != nil {
			sh = "/bin/sh"
		}
		argv := []string{sh, "-c", line}
		if len(args) > 0 {
			argv[2] = line + ` "$@"`
			argv = append(append(argv, "sh"), args...)
		}
		spec.Exec, spec.Argv = sh, argv
		return spec, nil
	}
	words := append(strings.Fields(line), args...)
	first, rest := words[0], words[1:]

	file := first
	if !filepath.IsAbs(file) {
		file = filepath.Join(dir, file)
	}
	st, statErr := os.Stat(file)
	isPath := strings.ContainsRune(first, '/') || (statErr == nil && st.Mode().IsRegular())
	if !isPath {
		exe, err := lookPath(first, path, dir)
		if err != nil {
			return spec, api.Errorf(api.CodeBadRequest, "command %q not found in %s nor in PATH (check the spelling, or give the script's path)", first, dir)
		}
		spec.Exec, spec.Argv = exe, append([]string{exe}, rest...)
		return spec, nil
	}
	if statErr != nil {
		return spec, api.Errorf(api.CodeBadRequest, "script %s not found (check the path; relative paths are from %s)", file, dir)
	}
	if st.IsDir() {
		return spec, api.Errorf(api.CodeBadRequest, "%s is a directory, not a script or program", file)
	}
	if interp == "" {
		interp = interpreters[strings.ToLower(filepath.Ext(file))]
	}
	if interp != "" && interp != "none" {
		exe := interp
		if !filepath.IsAbs(exe) {
			exe, err = lookPath(interp, path, dir)
		} else if _, err = os.Stat(exe); err != nil {
			err = fmt.Errorf("%s: %w", exe, err)
		}
		if err != nil {
			return spec, api.Errorf(api.CodeBadRequest, "cannot run %s: interpreter %q not found (install it, put it on the PATH opm start runs with, or give its path)", file, interp)
		}
		spec.Interpreter, spec.InterpreterArgs = interp, interpArgs
		spec.Exec = exe
		spec.Argv = append(append(append([]string{exe}, interpArgs...), file), rest...)
		return spec, nil
	}
	if st.Mode().Perm()&0o111 == 0 {
		return spec, api.Errorf(api.CodeBadRequest, "%s is not executable (chmod +x it, or start it with its interpreter: opm start \"python3 %s\")", file, first)
	}
	// "none" is kept: it is what a changed definition asks again.
	spec.Interpreter = interp
	spec.Exec, spec.Argv = file, append([]string{file}, rest...)
	return spec, nil
}

// envPath returns PATH from env, or a sane default.
func envPath(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return v
		}
	}
	return "/usr/local/bin:/usr/bin:/bin"
}

// lookPath finds an executable named name in the directories of path.
func lookPath(name, path, cwd string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(cwd, dir)
		}
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("find %s: not in PATH", name)
}

// DefaultName derives an app name from the command: the script or
// program's base name without extension ("app.js" → "app").
func DefaultName(spec api.Spec) string {
	var word string
	if spec.Interpreter != "" && len(spec.Argv) > 1 {
		word = spec.Argv[1]
	} else if f := strings.Fields(spec.Command); len(f) > 0 {
		word = f[0]
	}
	base := filepath.Base(word)
	if ext := filepath.Ext(base); ext != "" && ext != base {
		base = strings.TrimSuffix(base, ext)
	}
	base = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !api.IsNameRune(r) {
			return '_' // a byte that is not UTF-8, or a rune no name may hold
		}
		return r
	}, base)
	if base == "" || base == "." || base == ".." {
		return "app"
	}
	return base
}
