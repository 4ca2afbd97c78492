// Package passkey holds WebAuthn credentials (passkeys) and runs their
// ceremonies with go-webauthn: registering one, signing in with one
// without a username (a discoverable credential), and proving the
// signed-in user with one (a second factor, or a recent authentication).
//
// Each ceremony has two steps. Begin returns the options the browser
// passes to navigator.credentials and an opaque handle; the ceremony's
// state (go-webauthn's SessionData, with the challenge) waits in a
// Challenges store under that handle for five minutes, and Finish takes
// it out, so that a challenge serves one answer only.
//
// The package knows no HTTP: Finish reads the browser's JSON from an
// io.Reader.
package passkey

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// ChallengeTTL is how long a ceremony may take, from Begin to Finish.
const ChallengeTTL = 5 * time.Minute

// MaxName bounds a passkey's name, in characters.
const MaxName = 64

// MaxPerUser bounds how many passkeys one account may hold.
const MaxPerUser = 20

// Errors of the package. The web layer maps them to statuses.
var (
	// ErrNotFound: no such passkey (of this user).
	ErrNotFound = errors.New("passkey not found")
	// ErrExists: the credential is registered already.
	ErrExists = errors.New("passkey already registered")
	// ErrChallenge: the handle names no live ceremony of this kind and
	// user: unknown, expired or already used.
	ErrChallenge = errors.New("passkey challenge unknown, expired or used")
	// ErrFailed: the browser's answer did not verify (bad signature,
	// origin, flags, unknown credential, malformed JSON).
	ErrFailed = errors.New("passkey check failed")
	// ErrCloned: the signature counter went backwards: the credential's
	// key may have been copied. The sign-in is refused.
	ErrCloned = errors.New("passkey signature counter went backwards")
	// ErrTooMany: the account holds MaxPerUser passkeys already.
	ErrTooMany = errors.New("too many passkeys")
	// ErrName: the name is empty, too long or not text.
	ErrName = errors.New("passkey name invalid")
)

// Credential is one registered passkey of a user.
type Credential struct {
	ID         []byte // the credential id the authenticator chose
	UserID     string
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used to sign in
	// Record is go-webauthn's credential record: public key, signature
	// counter, flags (backup eligible and state), transports,
	// attestation. Stored whole, as the library advises.
	Record webauthn.Credential
}

// IDString is the credential id in unpadded base64url, as URLs and the
// browser's JSON carry it.
func (c *Credential) IDString() string { return base64.RawURLEncoding.EncodeToString(c.ID) }

// ParseID reads a credential id in unpadded base64url.
func ParseID(s string) ([]byte, error) {
	if s == "" || len(s) > 1366 { // credential ids are at most 1023 bytes
		return nil, ErrNotFound
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrNotFound
	}
	return b, nil
}

// Repository stores credentials. Implementations bound every call with a
// deadline and wrap outages so that callers can tell them apart.
type Repository interface {
	// Create stores c; a credential id stored already is ErrExists.
	Create(ctx context.Context, c *Credential) error
	// ByUser lists the user's credentials, oldest first.
	ByUser(ctx context.Context, userID string) ([]Credential, error)
	// ByID finds a credential by its id, or ErrNotFound.
	ByID(ctx context.Context, id []byte) (*Credential, error)
	// Used records a sign-in with c: its record (counter, backup state)
	// and c.LastUsedAt. ErrNotFound when it was removed meanwhile.
	Used(ctx context.Context, c *Credential) error
	// Delete removes the user's credential id, or returns ErrNotFound.
	Delete(ctx context.Context, userID string, id []byte) error
	// Count counts the user's credentials.
	Count(ctx context.Context, userID string) (int, error)
	// DeleteAll removes every credential of the user.
	DeleteAll(ctx context.Context, userID string) error
}

// Challenges keeps ceremony states for ChallengeTTL, each usable once.
type Challenges interface {
	// Put stores data for ttl and returns its handle.
	Put(ctx context.Context, data []byte, ttl time.Duration) (handle string, err error)
	// Take returns the data under handle and deletes it, in one step;
	// nil data and no error when there is none (unknown, expired, or
	// taken already).
	Take(ctx context.Context, handle string) ([]byte, error)
}

// Ceremony kinds: a challenge begun for one is refused by another.
const (
	kindRegister = "register"
	kindLogin    = "login"   // discoverable: no user known yet
	kindVerify   = "verify:" // + purpose: a known user proves it
)

// Bounds on what comes in.
const (
	maxBody      = 64 << 10 // the browser's answer
	maxHandle    = 128      // a challenge handle
	userIDMaxLen = 64       // WebAuthn's user handle
)

// Purposes of Verify ceremonies.
const (
	SecondFactor = "2fa"    // after the password, at sign-in
	Reauth       = "reauth" // a recent authentication, on a signed-in session
)

// pending is what waits under a challenge handle.
type pending struct {
	Kind    string               `json:"kind"`
	UserID  string               `json:"uid,omitempty"`
	Session webauthn.SessionData `json:"s"`
}

// Account is the user a ceremony is for.
type Account struct {
	ID       string // the user id, also the WebAuthn user handle
	Username string
}

// Service runs the ceremonies.
type Service struct {
	wa         *webauthn.WebAuthn
	repo       Repository
	challenges Challenges
	now        func() time.Time
	rpID       string
	origin     string
}

// RelyingParty derives the relying party id and origin from the public
// URL. An IP address cannot be a relying party id, so a public URL on a
// loopback address (development: the listen address) becomes
// http://localhost:PORT, and passkeys work when the browser opens that.
func RelyingParty(publicURL string) (rpID, origin string, err error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", "", fmt.Errorf("passkey: public URL %q: want http(s)://host[:port]", publicURL)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() && !ip.IsUnspecified() {
			return "", "", fmt.Errorf("passkey: public URL %q: a relying party id cannot be an IP address", publicURL)
		}
		host = "localhost"
	}
	origin = u.Scheme + "://" + host
	if p := u.Port(); p != "" {
		origin += ":" + p
	}
	return strings.ToLower(host), strings.ToLower(origin), nil
}

// New returns the service for the relying party at publicURL
// (RelyingParty), named name, over repo and challenges.
func New(publicURL, name string, repo Repository, challenges Challenges, now func() time.Time) (*Service, error) {
	rpID, origin, err := RelyingParty(publicURL)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          rpID,
		RPDisplayName: name,
		RPOrigins:     []string{origin},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ChallengeTTL, TimeoutUVD: ChallengeTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ChallengeTTL, TimeoutUVD: ChallengeTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &Service{wa: wa, repo: repo, challenges: challenges, now: now, rpID: rpID, origin: origin}, nil
}

// RPID is the relying party id in use.
func (s *Service) RPID() string { return s.rpID }

// Origin is the one origin ceremonies are accepted from.
func (s *Service) Origin() string { return s.origin }

// user adapts an account and its credentials to webauthn.User.
type user struct {
	acct  Account
	creds []Credential
}

func (u *user) WebAuthnID() []byte          { return []byte(u.acct.ID) }
func (u *user) WebAuthnName() string        { return u.acct.Username }
func (u *user) WebAuthnDisplayName() string { return u.acct.Username }
func (u *user) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, len(u.creds))
	for i := range u.creds {
		out[i] = u.creds[i].Record
	}
	return out
}

// stash stores a ceremony's state and returns its handle.
func (s *Service) stash(ctx context.Context, kind, userID string, sd *webauthn.SessionData) (string, error) {
	b, err := json.Marshal(pending{Kind: kind, UserID: userID, Session: *sd})
	if err != nil {
		return "", err
	}
	return s.challenges.Put(ctx, b, ChallengeTTL)
}

// take takes the ceremony state under handle, checking its kind and user.
func (s *Service) take(ctx context.Context, handle, kind, userID string) (*webauthn.SessionData, error) {
	if handle == "" || len(handle) > maxHandle {
		return nil, ErrChallenge
	}
	b, err := s.challenges.Take(ctx, handle)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, ErrChallenge
	}
	var p pending
	// The store expires the handle after ChallengeTTL; go-webauthn
	// checks the session's own expiry again, by the wall clock.
	if err := json.Unmarshal(b, &p); err != nil || p.Kind != kind || p.UserID != userID {
		return nil, ErrChallenge
	}
	return &p.Session, nil
}

// CheckName trims a passkey's name and checks it.
func CheckName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxName || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", ErrName
	}
	return name, nil
}

// BeginRegistration starts registering a passkey for a: a discoverable
// credential (resident key required), excluding the ones a has.
func (s *Service) BeginRegistration(ctx context.Context, a Account) (*protocol.CredentialCreation, string, error) {
	if a.ID == "" || len(a.ID) > userIDMaxLen {
		return nil, "", ErrNotFound
	}
	creds, err := s.repo.ByUser(ctx, a.ID)
	if err != nil {
		return nil, "", err
	}
	if len(creds) >= MaxPerUser {
		return nil, "", ErrTooMany
	}
	u := &user{acct: a, creds: creds}
	opts, sd, err := s.wa.BeginRegistration(u,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationPreferred,
		}),
		webauthn.WithExclusions(webauthn.Credentials(u.WebAuthnCredentials()).CredentialDescriptors()),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
	)
	if err != nil {
		return nil, "", fmt.Errorf("begin registration: %w", err)
	}
	h, err := s.stash(ctx, kindRegister, a.ID, sd)
	if err != nil {
		return nil, "", err
	}
	return opts, h, nil
}

// FinishRegistration checks the browser's answer (body, the JSON of the
// PublicKeyCredential) to the registration begun under handle for a, and
// stores the passkey under name.
func (s *Service) FinishRegistration(ctx context.Context, a Account, handle, name string, body io.Reader) (*Credential, error) {
	name, err := CheckName(name)
	if err != nil {
		return nil, err
	}
	sd, err := s.take(ctx, handle, kindRegister, a.ID)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(io.LimitReader(body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	creds, err := s.repo.ByUser(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if len(creds) >= MaxPerUser {
		return nil, ErrTooMany
	}
	rec, err := s.wa.CreateCredential(&user{acct: a, creds: creds}, *sd, parsed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	c := &Credential{ID: rec.ID, UserID: a.ID, Name: name, CreatedAt: s.now().UTC(), Record: *rec}
	if err := s.repo.Create(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// BeginLogin starts a sign-in with a discoverable credential: no user is
// named. conditional asks for conditional mediation (the browser offers
// passkeys in the username field's autofill).
func (s *Service) BeginLogin(ctx context.Context, conditional bool) (*protocol.CredentialAssertion, string, error) {
	mediation := protocol.MediationDefault
	if conditional {
		mediation = protocol.MediationConditional
	}
	opts, sd, err := s.wa.BeginDiscoverableMediatedLogin(mediation, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, "", fmt.Errorf("begin login: %w", err)
	}
	h, err := s.stash(ctx, kindLogin, "", sd)
	if err != nil {
		return nil, "", err
	}
	return opts, h, nil
}

// Result is a verified assertion.
type Result struct {
	UserID     string
	Credential *Credential
	// UserVerified: the authenticator verified the person (PIN,
	// biometrics) in this ceremony, not only their presence.
	UserVerified bool
}

// FinishLogin checks the browser's answer to the sign-in begun under
// handle and returns whose passkey signed it. The passkey's record is
// updated (counter, backup state, last use).
func (s *Service) FinishLogin(ctx context.Context, handle string, body io.Reader) (*Result, error) {
	sd, err := s.take(ctx, handle, kindLogin, "")
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(io.LimitReader(body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	var found *Credential
	var lookupErr error
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		c, err := s.repo.ByID(ctx, rawID)
		if err != nil {
			lookupErr = err
			return nil, err
		}
		if !bytes.Equal([]byte(c.UserID), userHandle) {
			lookupErr = ErrNotFound
			return nil, ErrNotFound
		}
		found = c
		return &user{acct: Account{ID: c.UserID}, creds: []Credential{*c}}, nil
	}
	_, rec, err := s.wa.ValidatePasskeyLogin(handler, *sd, parsed)
	if err != nil {
		if lookupErr != nil && !errors.Is(lookupErr, ErrNotFound) {
			return nil, lookupErr // an outage, not a verdict
		}
		return nil, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	return s.used(ctx, found, rec, parsed)
}

// BeginVerify starts a ceremony in which a, whose passkeys are listed,
// proves it is present: purpose SecondFactor or Reauth. It returns
// ErrNotFound when a has no passkey.
func (s *Service) BeginVerify(ctx context.Context, purpose string, a Account) (*protocol.CredentialAssertion, string, error) {
	if a.ID == "" || len(a.ID) > userIDMaxLen {
		return nil, "", ErrNotFound
	}
	creds, err := s.repo.ByUser(ctx, a.ID)
	if err != nil {
		return nil, "", err
	}
	if len(creds) == 0 {
		return nil, "", ErrNotFound
	}
	uv := protocol.VerificationRequired
	if purpose == SecondFactor {
		uv = protocol.VerificationPreferred // the password was the other factor
	}
	opts, sd, err := s.wa.BeginLogin(&user{acct: a, creds: creds}, webauthn.WithUserVerification(uv))
	if err != nil {
		return nil, "", fmt.Errorf("begin verify: %w", err)
	}
	h, err := s.stash(ctx, kindVerify+purpose, a.ID, sd)
	if err != nil {
		return nil, "", err
	}
	return opts, h, nil
}

// FinishVerify checks a's answer to the ceremony begun under handle for
// purpose, and updates the passkey's record.
func (s *Service) FinishVerify(ctx context.Context, purpose string, a Account, handle string, body io.Reader) (*Result, error) {
	sd, err := s.take(ctx, handle, kindVerify+purpose, a.ID)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(io.LimitReader(body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	creds, err := s.repo.ByUser(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	rec, err := s.wa.ValidateLogin(&user{acct: a, creds: creds}, *sd, parsed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	for i := range creds {
		if bytes.Equal(creds[i].ID, rec.ID) {
			return s.used(ctx, &creds[i], rec, parsed)
		}
	}
	return nil, ErrFailed
}

// used records a verified assertion with c, whose updated record is rec:
// a counter that went backwards refuses it (ErrCloned), as the
// specification allows; otherwise the counter, the backup state and the
// time of use are stored.
func (s *Service) used(ctx context.Context, c *Credential, rec *webauthn.Credential, parsed *protocol.ParsedCredentialAssertionData) (*Result, error) {
	if c == nil || rec == nil {
		return nil, ErrFailed
	}
	if rec.Authenticator.CloneWarning {
		return &Result{UserID: c.UserID, Credential: c}, ErrCloned
	}
	c.Record.Authenticator.SignCount = rec.Authenticator.SignCount
	c.Record.Flags = rec.Flags
	c.LastUsedAt = s.now().UTC()
	if err := s.repo.Used(ctx, c); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrFailed // removed meanwhile
		}
		return nil, err
	}
	return &Result{UserID: c.UserID, Credential: c, UserVerified: parsed.Response.AuthenticatorData.Flags.UserVerified()}, nil
}

// List returns the user's passkeys, oldest first.
func (s *Service) List(ctx context.Context, userID string) ([]Credential, error) {
	return s.repo.ByUser(ctx, userID)
}

// Count counts the user's passkeys.
func (s *Service) Count(ctx context.Context, userID string) (int, error) {
	if userID == "" {
		return 0, nil
	}
	return s.repo.Count(ctx, userID)
}

// Remove deletes the user's passkey id (base64url) and returns it as it
// was, for the notice; ErrNotFound when the user has no such passkey.
func (s *Service) Remove(ctx context.Context, userID, id string) (*Credential, error) {
	c, err := s.Get(ctx, userID, id)
	if err != nil {
		return nil, err
	}
	if err := s.repo.Delete(ctx, userID, c.ID); err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteAll removes every passkey of the user: an admin's reset of the
// user's second factors.
func (s *Service) DeleteAll(ctx context.Context, userID string) error {
	return s.repo.DeleteAll(ctx, userID)
}

// Get returns the user's passkey id (base64url), or ErrNotFound.
func (s *Service) Get(ctx context.Context, userID, id string) (*Credential, error) {
	raw, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	c, err := s.repo.ByID(ctx, raw)
	if err != nil {
		return nil, err
	}
	if c.UserID != userID {
		return nil, ErrNotFound
	}
	return c, nil
}
