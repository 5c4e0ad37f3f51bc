package cli

import (
	"slices"
	"testing"
)

func TestReorderArgs(t *testing.T) {
	app := NewApp(Options{}).app
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"flag after positional", []string{"opm", "start", "app.js", "--name", "web"},
			[]string{"opm", "start", "--name", "web", "--", "app.js"}},
		{"flag with equals", []string{"opm", "start", "app.js", "--name=web"},
			[]string{"opm", "start", "--name=web", "--", "app.js"}},
		{"short flag with equals", []string{"opm", "start", "app.js", "-n=a=b"},
			[]string{"opm", "start", "--name=a=b", "--", "app.js"}},
		{"short alias and repeated env", []string{"opm", "start", "app.js", "-n", "web", "--env", "A=1", "--env=B=2"},
			[]string{"opm", "start", "--name", "web", "--env", "A=1", "--env=B=2", "--", "app.js"}},
		{"args after dashes kept", []string{"opm", "start", "srv", "--name", "web", "--", "--port", "80"},
			[]string{"opm", "start", "--name", "web", "--", "srv", "--", "--port", "80"}},
		{"dashes without positional", []string{"opm", "start", "--", "x"},
			[]string{"opm", "start", "--", "--", "x"}},
		{"bool flag does not take the next arg", []string{"opm", "list", "--json"},
			[]string{"opm", "list", "--json"}},
		{"bool flag before target", []string{"opm", "info", "--json", "web"},
			[]string{"opm", "info", "--json", "--", "web"}},
		{"alias", []string{"opm", "ls", "--json"}, []string{"opm", "ls", "--json"}},
		{"subcommand", []string{"opm", "daemon", "status", "--json"},
			[]string{"opm", "daemon", "status", "--json"}},
		{"subcommand alias", []string{"opm", "daemon", "health", "--json"},
			[]string{"opm", "daemon", "health", "--json"}},
		{"int flag after target", []string{"opm", "logs", "web", "--lines", "5", "-f"},
			[]string{"opm", "logs", "--lines", "5", "--follow", "--", "web"}},
		{"unknown command untouched", []string{"opm", "frobnicate", "--x", "y"},
			[]string{"opm", "frobnicate", "--x", "y"}},
		{"unknown flag kept as flag", []string{"opm", "stop", "web", "--bogus"},
			[]string{"opm", "stop", "--bogus", "--", "web"}},
		{"lone dash is positional", []string{"opm", "start", "-"},
			[]string{"opm", "start", "--", "-"}},
		{"negative number is positional", []string{"opm", "scale", "web", "-1"},
			[]string{"opm", "scale", "--", "web", "-1"}},
		{"negative number as a flag's value", []string{"opm", "start", "app.js", "-i", "-1", "--name", "web"},
			[]string{"opm", "start", "--instances", "-1", "--name", "web", "--", "app.js"}},
		{"instances short flag", []string{"opm", "start", "app.js", "-i", "max"},
			[]string{"opm", "start", "--instances", "max", "--", "app.js"}},
		{"completion untouched", []string{"opm", "start", "x", "--generate-bash-completion"},
			[]string{"opm", "start", "x", "--generate-bash-completion"}},
		// Left last and alone, for the parser to say it needs a value —
		// never given "--" or the next flag as its value.
		{"value flag missing its value", []string{"opm", "start", "app.js", "--name"},
			[]string{"opm", "start", "--name"}},
		{"value flag before dashes", []string{"opm", "start", "--name", "--", "app.js"},
			[]string{"opm", "start", "--name"}},
		{"value flag before another flag", []string{"opm", "start", "app.js", "--name", "--env", "A=1"},
			[]string{"opm", "start", "--name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reorderArgs(app, tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("reorderArgs(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}
