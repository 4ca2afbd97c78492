package account

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/token"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Service is the flows' side that request handlers call.
type Service struct {
	users    Users
	tokens   Tokens
	queue    Queue
	resetTTL time.Duration
	now      func() time.Time
	logger   *slog.Logger
}

// NewService returns the service. resetTTL is PASSWORD_RESET_TTL.
func NewService(users Users, tokens Tokens, queue Queue, resetTTL time.Duration, now func() time.Time, logger *slog.Logger) *Service {
	return &Service{users: users, tokens: tokens, queue: queue, resetTTL: resetTTL, now: now, logger: logger}
}

// Register creates an account with an optional address (email ""), which
// waits for verification; its link is queued.
func (s *Service) Register(ctx context.Context, username, password, email string) (*user.User, error) {
	u, err := s.users.RegisterWithEmail(ctx, username, password, email)
	if err != nil {
		return nil, err
	}
	if u.EmailPending != "" {
		if a, err := user.NormalizeEmail(u.EmailPending); err == nil {
			// The account exists either way; a link that could not be
			// queued can be asked for again on the address page.
			if err := s.queue.Enqueue(ctx, KindVerifyEmail, map[string]string{"user": u.ID, "addr": a.Norm}); err != nil {
				s.logger.Warn("could not queue the verification mail of a new account", "user_id", u.ID, "err", err)
			}
		}
	}
	return u, nil
}

// ChangeEmail records addr as user id's new address, waiting for
// verification, queues its link, and queues a notice to the old verified
// address, if any. The old address stays the one used for recovery until
// the new one is verified. ip is where the change came from, for the
// notice.
func (s *Service) ChangeEmail(ctx context.Context, id, addr, ip string) (user.Address, error) {
	a, before, err := s.users.RequestEmailChange(ctx, id, addr)
	if err != nil {
		return user.Address{}, err
	}
	if err := s.queue.Enqueue(ctx, KindVerifyEmail, map[string]string{"user": id, "addr": a.Norm}); err != nil {
		return a, err
	}
	if before.Email != "" {
		if err := s.queue.Enqueue(ctx, KindEmailChanged, map[string]string{"user": id, "to": before.Email,
			"new": a.Address, "ip": ip, "at": s.stamp()}); err != nil {
			return a, err
		}
	}
	return a, nil
}

// ResendVerification queues a new link for the pending address of user
// id, if it has one.
func (s *Service) ResendVerification(ctx context.Context, u *user.User) error {
	a, err := user.NormalizeEmail(u.EmailPending)
	if err != nil {
		return nil
	}
	return s.queue.Enqueue(ctx, KindVerifyEmail, map[string]string{"user": u.ID, "addr": a.Norm})
}

func (s *Service) stamp() string { return s.now().UTC().Format(time.RFC3339) }

// CheckVerification returns the address a verification link would
// verify, without using the link: for the page with its button.
func (s *Service) CheckVerification(ctx context.Context, tok string) (string, error) {
	p, err := s.tokens.Peek(ctx, token.VerifyEmail, tok)
	if err != nil {
		return "", linkError(err)
	}
	var c verifyClaims
	if json.Unmarshal(p, &c) != nil {
		return "", ErrLinkInvalid
	}
	u, err := s.users.ByID(ctx, token.Subject(tok))
	if err != nil {
		return "", linkError(err)
	}
	a, err := user.NormalizeEmail(u.EmailPending)
	if err != nil || a.Norm != c.Addr {
		return "", ErrLinkInvalid
	}
	return a.Address, nil
}

// Verify uses a verification link: the address it was sent to becomes the
// account's verified address, if it is still the one waiting. It returns
// the account as it was before, ErrLinkInvalid, or user.ErrEmailTaken or
// user.ErrEmailLookalike.
func (s *Service) Verify(ctx context.Context, tok string) (*user.User, error) {
	p, left, err := s.tokens.Use(ctx, token.VerifyEmail, tok)
	if err != nil {
		return nil, linkError(err)
	}
	var c verifyClaims
	if json.Unmarshal(p, &c) != nil {
		return nil, ErrLinkInvalid
	}
	u, err := s.users.VerifyEmail(ctx, token.Subject(tok), c.Addr)
	switch {
	case errors.Is(err, user.ErrEmailChanged), errors.Is(err, user.ErrNotFound):
		return nil, ErrLinkInvalid
	case errors.Is(err, user.ErrEmailTaken), errors.Is(err, user.ErrEmailLookalike):
		return nil, err
	case err != nil:
		s.restore(ctx, token.VerifyEmail, tok, p, left)
		return nil, err
	}
	// The recovery address changed: a reset link sent to the old one is
	// stale (its claims say so too).
	s.revoke(ctx, token.PasswordReset, u.ID)
	return u, nil
}

// RequestReset queues a reset link for the account that login (a username
// or a verified address) names. It asks nothing about the account: the
// worker does, later, so that the answer and its timing are the same
// whether or not an account matches.
func (s *Service) RequestReset(ctx context.Context, login string) error {
	return s.queue.Enqueue(ctx, KindPasswordReset, map[string]string{"login": login})
}

// CheckReset returns the account a reset link is for, without using the
// link: for the page with the new-password form.
func (s *Service) CheckReset(ctx context.Context, tok string) (*user.User, error) {
	p, err := s.tokens.Peek(ctx, token.PasswordReset, tok)
	if err != nil {
		return nil, linkError(err)
	}
	return s.resetUser(ctx, tok, p)
}

// resetUser loads the account of a reset token and checks that the token
// still fits it: enabled, the same security stamp, the same verified
// address.
func (s *Service) resetUser(ctx context.Context, tok string, payload []byte) (*user.User, error) {
	var c resetClaims
	if json.Unmarshal(payload, &c) != nil {
		return nil, ErrLinkInvalid
	}
	u, err := s.users.ByID(ctx, token.Subject(tok))
	if err != nil {
		return nil, linkError(err)
	}
	if u.Disabled || u.SecurityStamp != c.Stamp || u.EmailNorm != c.Email || u.EmailNorm == "" {
		return nil, ErrLinkInvalid
	}
	return u, nil
}

// Reset uses a reset link to set the account's password to next (every
// rule of a new password applies; the service replaces the security
// stamp). It returns the account as it is now. A rule broken, or a store
// that failed, gives the link back, so that the person can try again.
func (s *Service) Reset(ctx context.Context, tok, next string) (*user.User, error) {
	p, left, err := s.tokens.Use(ctx, token.PasswordReset, tok)
	if err != nil {
		return nil, linkError(err)
	}
	u, err := s.resetUser(ctx, tok, p)
	if err != nil {
		if !errors.Is(err, ErrLinkInvalid) {
			s.restore(ctx, token.PasswordReset, tok, p, left)
		}
		return nil, err
	}
	if err := s.users.SetPassword(ctx, u.ID, next); err != nil {
		s.restore(ctx, token.PasswordReset, tok, p, left)
		return nil, err
	}
	return s.users.ByID(ctx, u.ID)
}

// CheckNotMe returns the user id and public session id a "this wasn't
// me" link names, without using it.
func (s *Service) CheckNotMe(ctx context.Context, tok string) (userID, sid string, err error) {
	p, err := s.tokens.Peek(ctx, token.NotMe, tok)
	if err != nil {
		return "", "", linkError(err)
	}
	var c notMeClaims
	if json.Unmarshal(p, &c) != nil {
		return "", "", ErrLinkInvalid
	}
	return c.User, token.Subject(tok), nil
}

// NotMe uses a "this wasn't me" link: it replaces the account's security
// stamp (every session of it ends at its next touch; the caller ends the
// named one, and may end the others, in Redis at once), and returns a
// fresh reset token for the person to choose a new password with, ""
// when the account has no verified address (the link proved the mailbox,
// as a reset link does) or is disabled.
func (s *Service) NotMe(ctx context.Context, tok string) (userID, sid, resetToken string, err error) {
	p, left, err := s.tokens.Use(ctx, token.NotMe, tok)
	if err != nil {
		return "", "", "", linkError(err)
	}
	var c notMeClaims
	if json.Unmarshal(p, &c) != nil {
		return "", "", "", ErrLinkInvalid
	}
	sid = token.Subject(tok)
	u, err := s.users.SignOutEverywhere(ctx, c.User)
	if errors.Is(err, user.ErrNotFound) {
		return "", "", "", ErrLinkInvalid
	}
	if err != nil {
		s.restore(ctx, token.NotMe, tok, p, left)
		return "", "", "", err
	}
	if u.Disabled || u.EmailNorm == "" {
		return u.ID, sid, "", nil
	}
	resetToken, err = s.tokens.Issue(ctx, token.PasswordReset, u.ID, encode(resetClaims{Stamp: u.SecurityStamp, Email: u.EmailNorm}), s.resetTTL)
	if err != nil {
		// The stamp is replaced already: the sessions end. The person
		// can still ask for a reset link.
		s.logger.Warn("could not issue a reset token after \"this wasn't me\"", "user_id", u.ID, "err", err)
		return u.ID, sid, "", nil
	}
	return u.ID, sid, resetToken, nil
}

// Notify queues a security notice of kind (KindPasswordChanged,
// KindSessionsRevoked, KindNewDevice, KindSecondFactor) for user id, with
// data for its template. A password change also makes any reset link
// stale; it is revoked here too.
func (s *Service) Notify(ctx context.Context, kind, id string, data map[string]string) error {
	d := map[string]string{"user": id, "at": s.stamp()}
	for k, v := range data {
		d[k] = v
	}
	if kind == KindPasswordChanged {
		s.revoke(ctx, token.PasswordReset, id)
	}
	return s.queue.Enqueue(ctx, kind, d)
}

// restore gives a token back after its action failed for reasons not of
// its making; a failure only means the person asks for a new link.
func (s *Service) restore(ctx context.Context, purpose, tok string, p []byte, left time.Duration) {
	if err := s.tokens.Restore(context.WithoutCancel(ctx), purpose, tok, p, left); err != nil {
		s.logger.Warn("could not give a link's token back", "purpose", purpose, "err", err)
	}
}

func (s *Service) revoke(ctx context.Context, purpose, subject string) {
	if err := s.tokens.Revoke(ctx, purpose, subject); err != nil {
		s.logger.Warn("could not revoke a token", "purpose", purpose, "err", err)
	}
}

// linkError maps token and lookup errors: an unknown token or account is
// ErrLinkInvalid; a store that failed stays itself.
func linkError(err error) error {
	if errors.Is(err, token.ErrInvalid) || errors.Is(err, user.ErrNotFound) {
		return ErrLinkInvalid
	}
	return err
}
