package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func statusCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "status",
		Short:  "(status is not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withCode(exitUsage, errors.New("status is not built yet"))
		},
	}
}
