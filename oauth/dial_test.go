package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mailkeep/mailkeep/internal/oauthtest"
)

var errRefused = errors.New("authentication failed")

func refused(err error) bool { return errors.Is(err, errRefused) }

func TestDial(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	s := e.login(t)
	first, _ := s.Token(t.Context())
	var used []string
	tests := []struct {
		name       string
		refusals   int   // how many logins the server refuses
		other      error // a failure that is not a refusal
		wantErr    string
		needsLogin bool
		refreshes  int
	}{
		{"accepted", 0, nil, "", false, 0},
		{"refused once", 1, nil, "", false, 1},
		{"refused twice", 2, nil, "the server refused a freshly refreshed access token (login: authentication failed)", true, 2},
		{"other failure", 0, errors.New("connection reset"), "connection reset", false, 2},
	}
	for _, tt := range tests {
		used = nil
		n := 0
		c, err := Dial(t.Context(), s, refused, func(_ context.Context, token string) (string, error) {
			used = append(used, token)
			n++
			switch {
			case tt.other != nil:
				return "", tt.other
			case n <= tt.refusals:
				return "", fmt.Errorf("login: %w", errRefused)
			}
			return "conn", nil
		})
		if tt.wantErr == "" && (err != nil || c != "conn") {
			t.Errorf("%s: Dial = %q, %v", tt.name, c, err)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: Dial error = %v, want %q", tt.name, err, tt.wantErr)
		}
		if errors.Is(err, ErrNeedsLogin) != tt.needsLogin {
			t.Errorf("%s: needs login = %v", tt.name, errors.Is(err, ErrNeedsLogin))
		}
		if tt.needsLogin && !errors.Is(err, errRefused) {
			t.Errorf("%s: the server's refusal is not in the error chain", tt.name)
		}
		if got := e.srv.Count("refresh"); got != tt.refreshes {
			t.Errorf("%s: %d refreshes in all, want %d", tt.name, got, tt.refreshes)
		}
		if tt.refusals > 0 && (len(used) < 2 || used[0] == used[1]) {
			t.Errorf("%s: the second login did not use a new token", tt.name)
		}
	}
	if first == "" {
		t.Error("no first token")
	}
}
