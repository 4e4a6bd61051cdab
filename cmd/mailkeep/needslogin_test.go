package main

import (
	"fmt"
	"testing"

	"github.com/mailkeep/mailkeep/oauth"
	"github.com/mailkeep/mailkeep/transport"
)

// An account that must sign in again exits 6 (the agent does not retry it:
// agent.TestClassify).
func TestNeedsLoginOutcome(t *testing.T) {
	for _, err := range []error{
		&oauth.NeedsLoginError{Account: "work", Reason: "refresh token refused"},
		fmt.Errorf("dial: %w", &oauth.NeedsLoginError{Account: "work", Reason: "refused twice", Err: transport.ErrAuth}),
	} {
		if got := code(accountError(err)); got != exitNeedsLogin {
			t.Errorf("exit code for %v: %d, want %d", err, got, exitNeedsLogin)
		}
	}
}
