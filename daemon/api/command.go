package api

import "strings"

// ShellChars are the characters that make a command line need a shell.
const ShellChars = "|&;<>()$`\\\"'*?[]#~{}\n"

// NeedsShell reports whether a command line uses shell syntax (pipes,
// redirections, quotes, variables, globs, a leading VAR=value...): the
// daemon runs such a line with /bin/sh -c, from the app's working
// directory, and any other line as words, its program found from the
// caller's directory (StartRequest.Dir). A client that writes a command
// back (opm export) tells the two apart with it.
func NeedsShell(line string) bool {
	if strings.ContainsAny(line, ShellChars) {
		return true
	}
	f := strings.Fields(line)
	return len(f) > 0 && strings.Contains(f[0], "=")
}
