package cli

import (
	ucli "github.com/urfave/cli/v2"

	"opm/cli/ecosystem"
	"opm/daemon/api"
)

func (a *App) exportCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "export",
		Usage:     "print apps as an ecosystem file that 'opm start' reads back to the same apps",
		ArgsUsage: "[target]",
		Description: `Prints the apps (all of them, or the target's) as an ecosystem file:
their command, arguments, working directory, whole environment, restart
policy and settings, and the PM2 keys opm keeps. Write it to a file and
'opm start' it on another machine, or keep it under version control:

   opm export --format yaml > ecosystem.yaml`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: ecosystem.FormatYAML, Usage: "`FORMAT` of the file: yaml, json or toml"},
		},
		Action: func(c *ucli.Context) error {
			target := api.TargetAll
			switch args := positionals(c); len(args) {
			case 0:
			case 1:
				t, err := targetArg(c)
				if err != nil {
					return err
				}
				target = t
			default:
				return usageErrorf("opm export takes at most one target, got %d (join several with commas: web,3)", len(args))
			}
			format := c.String("format")
			switch format {
			case ecosystem.FormatYAML, ecosystem.FormatJSON, ecosystem.FormatTOML:
			case "yml":
				format = ecosystem.FormatYAML
			default:
				return usageErrorf("invalid --format %q: use yaml, json or toml", format)
			}
			apps, err := a.apps(c.Context, target)
			if err != nil {
				return err
			}
			if len(apps) == 0 {
				return failuref("no apps to export (start some first; see 'opm list')")
			}
			b, err := ecosystem.Export(apps, format)
			if err != nil {
				return err
			}
			_, err = a.out().Write(b)
			return err
		},
	}
}
