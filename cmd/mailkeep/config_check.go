package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/agent"
)

func configCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check the configuration",
	}
	cmd.AddCommand(configCheckCommand(g))
	return cmd
}

func configCheckCommand(g *globals) *cobra.Command {
	var noLogin, asJSON bool
	cmd := &cobra.Command{
		Use:   "check [ACCOUNT...]",
		Short: "Parse the configuration, read each secret and try each login",
		Long: `config check reads the configuration as every command does (a mistake is reported
with its line, exit 2), then for each account (or the named ones) reads its password or
token and its encryption keys (recipients, and the identity file where one is set) and logs
in to its server and out again, and says what is wrong. It changes nothing on the server or
in the archive. --no-login stops after the secrets and keys. Exit 1 when an
account cannot log in.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, _, accts, err := g.setup(args)
			if err != nil {
				return err
			}
			var bad []string
			for _, a := range accts {
				err := agent.CheckSecret(cmd.Context(), a, log)
				if err == nil {
					err = agent.CheckKeys(a)
				}
				if err == nil && !noLogin {
					err = agent.Login(cmd.Context(), a, log)
				}
				printCheck(g, a.Name, a.Address(), err, asJSON, noLogin)
				if err != nil {
					bad = append(bad, a.Name)
				}
			}
			if len(bad) > 0 {
				return withCode(exitFailure, fmt.Errorf("%d of %d accounts cannot log in", len(bad), len(accts)))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noLogin, "no-login", false, "check the secrets only; do not connect")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per account")
	return cmd
}

func printCheck(g *globals, name, addr string, err error, asJSON, noLogin bool) {
	what := "logged in to " + addr
	if noLogin {
		what = "secret read"
	}
	if asJSON {
		obj := map[string]any{"account": name, "ok": err == nil, "address": addr}
		if err != nil {
			obj["error"] = err.Error()
		}
		data, _ := json.Marshal(obj)
		fmt.Fprintf(g.stdout, "%s\n", data)
		return
	}
	if err != nil {
		fmt.Fprintf(g.stdout, "%s: %v\n", name, err)
		return
	}
	fmt.Fprintf(g.stdout, "%s: ok — %s\n", name, what)
}
