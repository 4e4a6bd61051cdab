package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func runCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "run",
		Short:  "(run is not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withCode(exitUsage, errors.New("run is not built yet"))
		},
	}
}
