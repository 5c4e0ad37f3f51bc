package cli

import (
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v2"
)

// completionFlag is the argument urfave's shell completion scripts append.
const completionFlag = "--generate-bash-completion"

// reorderArgs lets flags come before or after positional arguments, as PM2
// users type them (`opm start app.js --name web`). urfave/cli v2 stops
// parsing flags at the first positional argument, so before it parses,
// the arguments of the command being run are rearranged into
//
//	<flags with their values> -- <positionals> [-- <args after the user's -->]
//
// using that command's own flag definitions to know which flags take a
// value. The inserted "--" keeps a positional that starts with "-" from
// being read as a flag; the user's own "--" and everything after it are
// kept as they were, so `opm start cmd -- --port 80` still passes
// "--port 80" to the app. args[0] is the program name.
func reorderArgs(app *ucli.App, args []string) []string {
	if len(args) < 2 || args[len(args)-1] == completionFlag {
		return args
	}
	out := []string{args[0]}
	return append(out, reorderLevel(app.Flags, app.Commands, args[1:], true)...)
}

// reorderLevel rearranges the arguments of one command level: its flags
// first, then either a subcommand (rearranged in turn) or its positionals.
func reorderLevel(flags []ucli.Flag, cmds []*ucli.Command, args []string, root bool) []string {
	var flagArgs, positionals, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = args[i:]
			break
		}
		if isFlagToken(a) {
			f, value, hasValue := lookupFlag(flags, a)
			if f != nil && f.Names()[0] == "watch" && hasValue && !isBoolText(value) {
				// PM2's --watch=PATH,...: the paths to watch.
				flagArgs = append(flagArgs, "--watch", "--watch-path="+value)
				continue
			}
			if f != nil {
				// urfave refuses "-e A=1 --env B=2" ("two forms of the
				// same flag"); the canonical name makes them one.
				a = "--" + f.Names()[0]
				if hasValue {
					a += "=" + value
				}
			}
			flagArgs = append(flagArgs, a)
			if f != nil && !hasValue && takesValue(f) {
				if i+1 == len(args) || args[i+1] == "--" || definedFlag(flags, args[i+1]) {
					// No value: the flag goes last, alone, for the
					// parser to say that it needs one.
					return flagArgs
				}
				i++
				flagArgs = append(flagArgs, args[i])
			}
			continue
		}
		if len(positionals) == 0 && len(cmds) > 0 {
			if sub := findCommand(cmds, a); sub != nil {
				out := append(flagArgs, a)
				return append(out, reorderLevel(sub.Flags, sub.Subcommands, args[i+1:], false)...)
			}
			if root {
				// An unknown command: leave it for the app to refuse.
				return args
			}
		}
		positionals = append(positionals, a)
	}
	out := flagArgs
	if len(positionals) > 0 || len(rest) > 0 {
		out = append(out, "--")
		out = append(out, positionals...)
		out = append(out, rest...)
	}
	return out
}

// definedFlag reports whether a is one of flags ("--env", "-e=1").
func definedFlag(flags []ucli.Flag, a string) bool {
	if !isFlagToken(a) {
		return false
	}
	f, _, _ := lookupFlag(flags, a)
	return f != nil
}

// isFlagToken reports whether a looks like a flag ("-n", "--name=web").
// A lone "-" is a positional (conventionally stdin), and so is a
// negative number (opm scale web -1).
func isFlagToken(a string) bool {
	if len(a) < 2 || a[0] != '-' {
		return false
	}
	_, err := strconv.Atoi(a)
	return err != nil
}

// lookupFlag finds the flag named by token ("--name", "-n=web") in flags;
// nil when none is. Unknown flags are left for the parser to report.
func lookupFlag(flags []ucli.Flag, token string) (f ucli.Flag, value string, hasValue bool) {
	name, value, hasValue := strings.Cut(strings.TrimLeft(token, "-"), "=")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f, value, hasValue
			}
		}
	}
	return nil, "", false
}

// takesValue reports whether f takes a value (is not a boolean).
func takesValue(f ucli.Flag) bool {
	if df, ok := f.(ucli.DocGenerationFlag); ok {
		return df.TakesValue()
	}
	return true
}

func findCommand(cmds []*ucli.Command, name string) *ucli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// isBoolText reports whether a flag's value reads as a boolean.
func isBoolText(v string) bool {
	_, err := strconv.ParseBool(v)
	return err == nil
}
