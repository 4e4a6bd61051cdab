package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func verifyCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "verify",
		Short:  "(verify is not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withCode(exitUsage, errors.New("verify is not built yet"))
		},
	}
}
