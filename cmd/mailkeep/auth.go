package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/agent"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/oauth"
)

func authCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Sign accounts in with OAuth2 (Gmail, Microsoft 365), show and forget their tokens",
		Long: `Sign accounts with an oauth2 block in to their provider, show the state of
their tokens, and forget them.

The tokens are kept in <state_dir>/oauth2, one owner-only file per account,
outside the archive. Backups refresh the access token by themselves; when
the provider no longer accepts the refresh token, a backup fails with exit
code 6 and says to run "mailkeep auth login ACCOUNT".`,
	}
	cmd.AddCommand(authLoginCommand(g), authStatusCommand(g), authLogoutCommand(g))
	return cmd
}

func authLoginCommand(g *globals) *cobra.Command {
	var device, browser bool
	var port int
	cmd := &cobra.Command{
		Use:   "login ACCOUNT",
		Short: "Sign the account in and store its tokens",
		Long: `Sign the account in to its OAuth2 provider and store the tokens.

--device prints a URL and a code to enter on any device with a browser,
and waits. --browser prints a URL to open in a browser on this machine; the
provider sends the browser back to mailkeep on 127.0.0.1 (on another
machine: ssh -L PORT:127.0.0.1:PORT with --port PORT). Without either, the
provider's usual flow: the browser for google (Google's device flow does
not allow the mail scope), the device code for microsoft and custom.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			flow, err := loginFlow(device, browser)
			if err != nil {
				return err
			}
			src, err := g.oauthAccount(args[0])
			if err != nil {
				return err
			}
			err = src.Login(cmd.Context(), oauth.LoginOptions{Flow: flow, Out: g.stdout, Port: port})
			switch {
			case errors.Is(err, oauth.ErrGoogleDevice):
				return withCode(exitUsage, err)
			case err != nil:
				return accountError(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&device, "device", false, "device code flow: a URL and a code to enter on any device")
	f.BoolVar(&browser, "browser", false, "authorization code flow with a browser on this machine")
	f.IntVar(&port, "port", 0, "with the browser flow, the loopback port to listen on (default: any free port)")
	return cmd
}

func loginFlow(device, browser bool) (oauth.Flow, error) {
	switch {
	case device && browser:
		return "", withCode(exitUsage, errors.New("--device and --browser: choose one"))
	case device:
		return oauth.FlowDevice, nil
	case browser:
		return oauth.FlowBrowser, nil
	}
	return oauth.FlowDefault, nil
}

// oauthAccount reads the configuration and returns the token source of
// the named account, which must have an oauth2 block.
func (g *globals) oauthAccount(name string) (*oauth.Source, error) {
	log, cfg, accts, err := g.setup([]string{name})
	if err != nil {
		return nil, err
	}
	a := accts[0]
	if !a.UsesOAuth2() {
		return nil, withCode(exitUsage, fmt.Errorf("account %q has no oauth2 block in %s: mailkeep keeps no tokens for it", a.Name, cfg.Path))
	}
	src, err := agent.OAuthSource(a, log)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return src, nil
}

func authLogoutCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "logout ACCOUNT",
		Short: "Forget the account's tokens, and revoke them where the provider allows",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := g.oauthAccount(args[0])
			if err != nil {
				return err
			}
			res, err := src.Logout(cmd.Context())
			if err != nil {
				return withCode(exitFailure, err)
			}
			printLogout(g.stdout, args[0], src.TokenFile(), res)
			return nil
		},
	}
}

func printLogout(w io.Writer, name, file string, res oauth.LogoutResult) {
	if !res.Removed {
		fmt.Fprintf(w, "%s: no tokens were stored (%s)\n", name, file)
		return
	}
	fmt.Fprintf(w, "%s: tokens removed from %s\n", name, file)
	switch {
	case res.Revoked:
		fmt.Fprintf(w, "%s: the provider revoked them\n", name)
	case res.RevokeErr != nil:
		fmt.Fprintf(w, "%s: warning: revoking them failed (%v); remove mailkeep's access in your account's security settings\n", name, res.RevokeErr)
	default:
		fmt.Fprintf(w, "%s: the provider offers no revocation; remove mailkeep's access in your account's security settings to end it there too\n", name)
	}
}

func authStatusCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [ACCOUNT...]",
		Short: "Show which accounts have tokens, their scopes and expiry (never a token)",
		RunE: func(cmd *cobra.Command, args []string) error {
			_, cfg, accts, err := g.setup(args)
			if err != nil {
				return err
			}
			list, err := authStatuses(accts, len(args) > 0)
			if err != nil {
				return withCode(exitFailure, err)
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			return printAuthStatus(g.stdout, cfg, list, time.Now())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

// authStatus is one account's line of "auth status".
type authStatus struct {
	Account      string     `json:"account"`
	Provider     string     `json:"provider,omitempty"`
	Login        string     `json:"login"` // "oauth2", "token_command" or "password"
	TokenFile    string     `json:"token_file,omitempty"`
	SignedIn     bool       `json:"signed_in"`
	LoggedIn     *time.Time `json:"logged_in,omitempty"`
	AccessExpiry *time.Time `json:"access_token_expiry,omitempty"`
	RefreshToken bool       `json:"refresh_token"`
	RefreshFrom  *time.Time `json:"refresh_token_obtained,omitempty"`
	Scopes       []string   `json:"scopes,omitempty"`
	Problem      string     `json:"problem,omitempty"`
	Warning      string     `json:"warning,omitempty"`
}

// authStatuses lists the accounts with an oauth2 block, and the others
// too when they were named.
func authStatuses(accts []*config.Account, named bool) ([]authStatus, error) {
	var list []authStatus
	for _, a := range accts {
		if !a.UsesOAuth2() {
			if named {
				list = append(list, authStatus{Account: a.Name, Login: otherLogin(a)})
			}
			continue
		}
		st, err := oauthStatus(a)
		if err != nil {
			return nil, err
		}
		list = append(list, st)
	}
	return list, nil
}

func otherLogin(a *config.Account) string {
	if a.TokenCommand != "" {
		return "token_command"
	}
	return "password"
}

func oauthStatus(a *config.Account) (authStatus, error) {
	src, err := agent.OAuthSource(a, nil)
	if err != nil {
		return authStatus{}, err
	}
	st, err := src.Status()
	if err != nil {
		return authStatus{}, fmt.Errorf("account %q: %w", a.Name, err)
	}
	return authStatus{
		Account: a.Name, Provider: st.Provider, Login: "oauth2", TokenFile: st.TokenFile, SignedIn: st.HasTokens,
		LoggedIn: timePtr(st.LoggedIn), AccessExpiry: timePtr(st.AccessExpiry), RefreshToken: st.HasRefresh,
		RefreshFrom: timePtr(st.RefreshFrom), Scopes: st.Scopes, Problem: st.Problem, Warning: st.Warning,
	}, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func printAuthStatus(w io.Writer, cfg *config.Config, list []authStatus, now time.Time) error {
	if len(list) == 0 {
		fmt.Fprintf(w, "No account in %s has an oauth2 block.\n", cfg.Path)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tPROVIDER\tSIGNED IN\tACCESS TOKEN EXPIRES\tREFRESH TOKEN\tSCOPES")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\n", s.Account, strings.Join(s.columns(now), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range list {
		if s.Problem != "" {
			fmt.Fprintf(w, "%s: %s\n", s.Account, s.Problem)
		}
		if s.Warning != "" {
			fmt.Fprintf(w, "%s: warning: %s\n", s.Account, s.Warning)
		}
	}
	if cfg.StateDir != "" {
		fmt.Fprintf(w, "Tokens are kept in %s/oauth2 (state_dir).\n", cfg.StateDir)
	}
	return nil
}

func (s authStatus) columns(now time.Time) []string {
	if s.Login != "oauth2" {
		return []string{"-", "uses " + s.Login, "-", "-", "-"}
	}
	if !s.SignedIn {
		return []string{s.Provider, "no", "-", "-", "-"}
	}
	cols := []string{s.Provider, stamp(s.LoggedIn), "unknown", "none", strings.Join(s.Scopes, " ")}
	if s.AccessExpiry != nil {
		cols[2] = stamp(s.AccessExpiry) + " (" + relative(s.AccessExpiry.Sub(now)) + ")"
	}
	if s.RefreshToken && s.RefreshFrom != nil {
		cols[3] = "obtained " + ago(now.Sub(*s.RefreshFrom))
	}
	return cols
}

func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04 MST")
}

func relative(d time.Duration) string {
	if d < 0 {
		return "expired, renewed at the next login"
	}
	return "in " + d.Round(time.Minute).String()
}

func ago(d time.Duration) string {
	if d < 48*time.Hour {
		return d.Round(time.Minute).String() + " ago"
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}
