package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func restoreCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "restore",
		Short:  "(restore is not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withCode(exitUsage, errors.New("restore is not built yet"))
		},
	}
}
