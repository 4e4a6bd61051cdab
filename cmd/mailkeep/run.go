package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/agent"
)

func runCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run as a service: back up each account on its schedule until stopped",
		Long: `Run as a service: back up each account that has a schedule, on that schedule,
until stopped. Accounts without a schedule are left to "mailkeep backup".

SIGTERM or SIGINT: start no more runs, let running ones stop at a safe point,
and exit within agent.stop_timeout. SIGHUP: read the configuration again; if
it is invalid, keep the running one and log why. Under systemd (Type=notify)
the agent reports READY, STOPPING and watchdog pings.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// SIGHUP would end the process until run listens for it.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			log, err := g.logger()
			if err != nil {
				return err
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			warn(log, cfg)
			a, err := agent.New(cfg, log, agent.Options{Version: version})
			if errors.Is(err, agent.ErrConfig) {
				return withCode(exitUsage, err)
			}
			if err != nil { // serve: its password or its port
				return withCode(exitFailure, err)
			}
			return withCode(exitFailure, a.Run(cmd.Context(), hup))
		},
	}
}
