// Package account is what Gatehouse does for an account by e-mail:
// verifying addresses, resetting forgotten passwords (the OWASP Forgot
// Password Cheat Sheet), and security notices. It knows no HTTP and no
// driver: users, tokens and the mail queue come in through interfaces.
//
// Two halves share it. Service is what request handlers call: it checks
// and uses tokens, and queues jobs (internal/mail). Composer is the mail
// worker's handler: for each job it loads the account as it is now, issues
// the job's token, renders the mail from templates/mail and sends it. A
// token exists only in the mail and as a hash in Redis, never in the
// queue.
package account

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/mail"
	"github.com/gatehouse/gatehouse/internal/token"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Kinds of mail jobs.
const (
	KindVerifyEmail     = "verify_email"     // data: user, addr (the normalised address to verify)
	KindPasswordReset   = "password_reset"   // data: login (as typed: a username or an address)
	KindNewDevice       = "new_device"       // data: user, sid, ip, device, at
	KindEmailChanged    = "email_changed"    // data: user, to (the old address), new (the new one), at
	KindPasswordChanged = "password_changed" // data: user, ip, at
	KindSessionsRevoked = "sessions_revoked" // data: user, ip, at
	// KindSecondFactor is the notice for a second factor added or
	// removed (data: user, change: "added" or "removed", method, ip,
	// at). Nothing sends it yet: the two-factor issue calls
	// Service.Notify with it when a factor changes.
	KindSecondFactor = "second_factor"
)

// Lifetimes of the tokens in mails.
const (
	VerifyTTL = 24 * time.Hour     // an e-mail verification link
	NotMeTTL  = 7 * 24 * time.Hour // a "this wasn't me" link
)

// Errors of the flows.
var (
	// ErrLinkInvalid is a link that cannot be used: expired, used,
	// replaced by a newer one, or made stale by a change of the account
	// (its password, its address, its being disabled). People are told
	// to ask for a new one.
	ErrLinkInvalid = errors.New("link invalid or expired")
)

// Users is what the flows need of the user service (user.Service).
type Users interface {
	ByID(ctx context.Context, id string) (*user.User, error)
	ByLogin(ctx context.Context, login string) (*user.User, error)
	RegisterWithEmail(ctx context.Context, username, password, email string) (*user.User, error)
	RequestEmailChange(ctx context.Context, id, addr string) (user.Address, *user.User, error)
	VerifyEmail(ctx context.Context, id, norm string) (*user.User, error)
	SetPassword(ctx context.Context, id, next string) error
	SignOutEverywhere(ctx context.Context, id string) (*user.User, error)
}

// Tokens issues and checks single-use tokens (token.Store).
type Tokens interface {
	Issue(ctx context.Context, purpose, subject string, payload []byte, ttl time.Duration) (string, error)
	Peek(ctx context.Context, purpose, tok string) ([]byte, error)
	Use(ctx context.Context, purpose, tok string) ([]byte, time.Duration, error)
	Restore(ctx context.Context, purpose, tok string, payload []byte, left time.Duration) error
	Revoke(ctx context.Context, purpose, subject string) error
}

// Queue takes mail jobs (mail.Queue).
type Queue interface {
	Enqueue(ctx context.Context, kind string, data map[string]string) error
}

var (
	_ Tokens = (*token.Store)(nil)
	_ Queue  = (*mail.Queue)(nil)
	_ Users  = (*user.Service)(nil)
)

// resetClaims bind a reset token to the account as it was when the link
// was sent: a password change, a disable (both replace the stamp) or a
// change of the verified address makes the link stale.
type resetClaims struct {
	Stamp string `json:"stamp"`
	Email string `json:"email"` // the verified address's normalised form
}

// verifyClaims bind a verification token to the address it was sent to.
type verifyClaims struct {
	Addr string `json:"addr"` // normalised
}

// notMeClaims name the session a "this wasn't me" link ends.
type notMeClaims struct {
	User string `json:"user"`
}

func encode(v any) []byte {
	b, _ := json.Marshal(v) // plain structs of strings
	return b
}
