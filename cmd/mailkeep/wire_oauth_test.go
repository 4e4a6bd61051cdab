package main

import (
	"fmt"
	"testing"

	"github.com/mailkeep/mailkeep/oauth"
	"github.com/mailkeep/mailkeep/schedule"
	"github.com/mailkeep/mailkeep/transport"
)

// An account that must sign in again exits 6 and is not retried by the
// agent before its next scheduled run.
func TestNeedsLoginOutcome(t *testing.T) {
	for _, err := range []error{
		&oauth.NeedsLoginError{Account: "work", Reason: "refresh token refused"},
		fmt.Errorf("dial: %w", &oauth.NeedsLoginError{Account: "work", Reason: "refused twice", Err: transport.ErrAuth}),
	} {
		if got := code(accountError(err)); got != exitNeedsLogin {
			t.Errorf("exit code for %v: %d, want %d", err, got, exitNeedsLogin)
		}
		if got := classify(err); got != schedule.Permanent {
			t.Errorf("class of %v: %v, want permanent", err, got)
		}
	}
}
