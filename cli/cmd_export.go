package cli

import (
	"os/user"
	"path/filepath"
	"slices"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"opm/cli/ecosystem"
	"opm/cli/export"
	"opm/cli/units"
	"opm/daemon/api"
	"opm/shm"
)

func (a *App) exportCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "export",
		Usage:     "print apps as an ecosystem file that 'opm start' reads back, or as systemd units, a Nomad job or a compose file",
		ArgsUsage: "[target]",
		Description: `Prints the apps (all of them, or the target's) as an ecosystem file:
their command, arguments, working directory, whole environment, restart
policy and settings, and the PM2 keys opm keeps. Write it to a file and
'opm start' it on another machine, or keep it under version control:

   opm export --format yaml > ecosystem.yaml

Or for another supervisor (README.md, "Moving to systemd or Nomad", says
what maps to what):

   systemd   a unit per app, opm-<name>.service (a template opm-<name>@.service
             for instances), and a timer for cron_restart; printed one after
             the other, or written into a directory with --out DIR
   nomad     a Nomad job, JSON as 'nomad job run -json' takes it; a task group
             per app (--job NAME, --nomad-driver raw_exec|exec)
   compose   a docker-compose file, a service per app (--image IMAGE), or
             with --compose-mode opm one service that runs 'opm run' of
             ./ecosystem.yaml (write it with --format yaml)`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: ecosystem.FormatYAML, Usage: "`FORMAT`: yaml, json or toml (an ecosystem file), systemd, nomad or compose"},
			&ucli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "systemd: write the units into `DIR` instead of printing them"},
			&ucli.StringFlag{Name: "job", Usage: "nomad: the job's `NAME`, after opm- (default: this host's name)"},
			&ucli.StringFlag{Name: "nomad-driver", Value: export.DriverRawExec, Usage: "nomad: the task `DRIVER`, raw_exec or exec"},
			&ucli.StringFlag{Name: "image", Usage: "compose: the services' `IMAGE` (default: a placeholder to replace)"},
			&ucli.StringFlag{Name: "compose-mode", Value: "apps", Usage: "compose: `MODE` apps (a service per app) or opm (one service, 'opm run' of ./ecosystem.yaml)"},
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
			case export.FormatSystemd, export.FormatNomad, export.FormatCompose:
			default:
				return usageErrorf("invalid --format %q: use yaml, json or toml, or %s", format, strings.Join(export.Formats, ", "))
			}
			if err := exportFlagsFit(c, format); err != nil {
				return err
			}
			apps, err := a.apps(c.Context, target)
			if err != nil {
				return err
			}
			if len(apps) == 0 {
				return failuref("no apps to export (start some first; see 'opm list')")
			}
			var b []byte
			switch format {
			case export.FormatSystemd, export.FormatNomad, export.FormatCompose:
				o, err := a.exportOptions(c)
				if err != nil {
					return err
				}
				switch format {
				case export.FormatSystemd:
					return a.exportSystemd(apps, o, c.String("out"))
				case export.FormatNomad:
					b, err = export.Nomad(apps, o)
				case export.FormatCompose:
					if c.String("compose-mode") == "opm" {
						b, err = export.ComposeOpm(apps, o)
					} else {
						b, err = export.Compose(apps, o)
					}
				}
				if err != nil {
					return failuref("%v", err)
				}
			default:
				if b, err = ecosystem.Export(apps, format); err != nil {
					return err
				}
			}
			_, err = a.out().Write(b)
			return err
		},
	}
}

// exportFlagsFit refuses a flag of another format than the one asked for.
func exportFlagsFit(c *ucli.Context, format string) error {
	for _, f := range []struct{ flag, format string }{
		{"out", export.FormatSystemd}, {"job", export.FormatNomad}, {"nomad-driver", export.FormatNomad}, {"image", export.FormatCompose}, {"compose-mode", export.FormatCompose},
	} {
		if c.IsSet(f.flag) && format != f.format {
			return usageErrorf("--%s is for --format %s, not %s", f.flag, f.format, format)
		}
	}
	if d := c.String("nomad-driver"); !slices.Contains([]string{export.DriverRawExec, export.DriverExec}, d) {
		return usageErrorf("invalid --nomad-driver %q: use %s or %s", d, export.DriverRawExec, export.DriverExec)
	}
	if m := c.String("compose-mode"); m != "apps" && m != "opm" {
		return usageErrorf("invalid --compose-mode %q: use apps or opm", m)
	}
	return nil
}

// exportOptions are what the exports for other supervisors need: where
// the daemon keeps logs, and who runs the apps (you: the daemon is
// yours).
func (a *App) exportOptions(c *ucli.Context) (export.Options, error) {
	p, _, err := a.conn.resolve()
	if err != nil {
		return export.Options{}, err
	}
	o := export.Options{Home: p.home, LogDir: shm.PlannedLogs(p.home).Dir, Version: api.Version, Job: c.String("job"), Driver: c.String("nomad-driver"), Image: c.String("image")}
	if me, err := user.Current(); err == nil {
		o.User = me.Username
		if g, err := user.LookupGroupId(me.Gid); err == nil {
			o.Group = g.Name
		}
	}
	return o, nil
}

// exportSystemd prints the units, each after a line naming its file, or
// writes them into dir.
func (a *App) exportSystemd(apps []api.App, o export.Options, dir string) error {
	files, err := export.Systemd(apps, o)
	if err != nil {
		return failuref("%v", err)
	}
	if dir == "" {
		for i, f := range files {
			if i > 0 {
				a.printf("\n")
			}
			a.printf("# ---- %s ----\n%s", f.Name, f.Data)
		}
		return nil
	}
	for _, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := writeFileAtomic(path, f.Data, 0o644); err != nil {
			return err
		}
		a.printf("wrote %s\n", Escape(path))
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	a.printf("Install them:\n  cp -r %s/. /etc/systemd/system/ && systemctl daemon-reload\nthen run the 'systemctl enable --now' line at the top of each unit.\n", units.ShellQuote(abs))
	return nil
}
