package oauth

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// ErrNeedsLogin reports that an account has no usable tokens: it was never
// signed in, its refresh token was revoked or expired, or the server
// refused even a freshly refreshed access token. Only a new
// "mailkeep auth login ACCOUNT" helps; retrying does not.
var ErrNeedsLogin = errors.New("needs login")

// NeedsLoginError is the ErrNeedsLogin of one account, with the reason.
type NeedsLoginError struct {
	Account string
	Reason  string // what happened, without any token
	Err     error  // the underlying error, e.g. the server's refusal; may be nil
}

func (e *NeedsLoginError) Error() string {
	return fmt.Sprintf("account %q needs login: %s: run `mailkeep auth login %s`", e.Account, e.Reason, e.Account)
}

// Is makes errors.Is(err, ErrNeedsLogin) true.
func (e *NeedsLoginError) Is(target error) bool { return target == ErrNeedsLogin }

func (e *NeedsLoginError) Unwrap() error { return e.Err }

func (s *Source) needsLogin(err error, format string, args ...any) error {
	return &NeedsLoginError{Account: s.cfg.Account, Reason: fmt.Sprintf(format, args...), Err: err}
}

// providerError is a failed request to the OAuth2 provider: an error
// answer, an answer that is not OAuth2 at all, or no answer in time.
type providerError struct {
	msg       string
	temporary bool  // an outage, a rate limit or a timeout: worth a retry later
	err       error // a network error or the context's, for errors.Is; never a RetrieveError
}

func (e *providerError) Error() string { return e.msg }
func (e *providerError) Unwrap() error { return e.err }

// Temporary reports whether err is a failure of the OAuth2 provider that
// may pass: it did not answer in time, answered 5xx or 429, or could not
// be reached.
func Temporary(err error) bool {
	var pe *providerError
	return errors.As(err, &pe) && pe.temporary
}

// describe turns an error from golang.org/x/oauth2 into one that says what
// the provider did, without the response body (which may echo anything)
// and with every secret in secrets blanked out.
func (s *Source) describe(ctx context.Context, op string, err error, secrets ...string) error {
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re) && re.ErrorCode != "":
		return &providerError{msg: fmt.Sprintf("%s: the provider answered %s", op, oauthErrorText(re, secrets))}
	case errors.As(err, &re):
		return &providerError{msg: fmt.Sprintf("%s: %s answered %s, not an OAuth2 response", op, host(re.Response), responseWords(re.Response)),
			temporary: re.Response != nil && (re.Response.StatusCode >= 500 || re.Response.StatusCode == http.StatusTooManyRequests)}
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return fmt.Errorf("%s: %w", op, ctx.Err())
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return &providerError{msg: fmt.Sprintf("%s: the provider did not answer within %v", op, s.cfg.RequestTimeout),
			temporary: true, err: context.DeadlineExceeded}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// The request did not get an answer: no body to leak, and the URL
		// holds no secret (they travel in the request body).
		return &providerError{msg: fmt.Sprintf("%s: %s", op, scrub(ue.Error(), secrets)), temporary: true, err: ue.Err}
	}
	return &providerError{msg: fmt.Sprintf("%s: %s", op, scrub(err.Error(), secrets))}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// oauthErrorText is RFC 6749's error code and description, cleaned.
func oauthErrorText(re *oauth2.RetrieveError, secrets []string) string {
	s := scrub(re.ErrorCode, secrets)
	if re.ErrorDescription != "" {
		s += ": " + scrub(re.ErrorDescription, secrets)
	}
	return s
}

func host(r *http.Response) string {
	if r == nil || r.Request == nil || r.Request.URL == nil {
		return "the provider"
	}
	return r.Request.URL.Host
}

// responseWords says "502 Bad Gateway (text/html)".
func responseWords(r *http.Response) string {
	if r == nil {
		return "something"
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "" {
		ct = "no content type"
	}
	return fmt.Sprintf("%s (%s)", r.Status, ct)
}

// scrub blanks out every secret in s, keeps printable ASCII only and cuts
// it short: the provider's words are shown, never trusted.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "<redacted>")
		}
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
