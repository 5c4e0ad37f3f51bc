package cli

import (
	_ "embed"
	"fmt"

	ucli "github.com/urfave/cli/v2"
)

// The scripts are urfave/cli's own, with the program name set to opm.
var (
	//go:embed completion/bash.sh
	bashCompletion string
	//go:embed completion/zsh.sh
	zshCompletion string
)

func (a *App) completionCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: source <(opm completion bash)",
		ArgsUsage: "bash|zsh",
		Action: func(c *ucli.Context) error {
			if c.Args().Len() != 1 {
				return usageErrorf("opm completion needs a shell: bash or zsh (e.g. source <(opm completion bash))")
			}
			switch sh := c.Args().First(); sh {
			case "bash":
				fmt.Fprint(a.out(), bashCompletion)
			case "zsh":
				fmt.Fprint(a.out(), zshCompletion)
			default:
				return usageErrorf("no completion for shell %q: use bash or zsh", sh)
			}
			return nil
		},
	}
}
