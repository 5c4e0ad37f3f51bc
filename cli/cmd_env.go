package cli

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"opm/cli/ecosystem"
)

func (a *App) envCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "env",
		Usage:     "print the environment an app runs with, one KEY=VALUE a line (unprintable characters escaped)",
		ArgsUsage: "<target>",
		Action: func(c *ucli.Context) error {
			target, apps, err := a.targetApps(c)
			if err != nil {
				return err
			}
			switch {
			case len(apps) > 1 && len(ecosystem.ByApp(apps)) == 1:
				return usageErrorf("%q is an app of %d instances; opm env shows one: give the id of one of them (see 'opm list')", target, len(apps))
			case len(apps) != 1:
				return usageErrorf("%q names %d apps; opm env shows one (see 'opm list')", target, len(apps))
			}
			// One KEY=VALUE a line: a value holding a newline is
			// escaped, so it cannot forge a line of its own.
			for _, kv := range apps[0].Spec.Env {
				fmt.Fprintln(a.out(), Escape(kv))
			}
			return nil
		},
	}
}
