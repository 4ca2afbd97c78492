package user

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Hasher hashes and verifies passwords (internal/password).
type Hasher interface {
	Hash(password string) (string, error)
	Verify(password, encoded string) (match, needsRehash bool, err error)
	VerifyDummy(password string)
}

// BreachChecker reports whether a password has appeared in a known data
// breach (internal/pwned). An error means it could not tell.
type BreachChecker interface {
	Breached(ctx context.Context, password string) (bool, error)
}

// Service registers and authenticates users.
type Service struct {
	repo   Repository
	hasher Hasher
	now    func() time.Time
	// slots bounds concurrent password hashing (argon2id takes about
	// 19 MiB each); wait is how long a caller queues for one. Creating an
	// account also takes one of signupSlots, half as many, so that
	// sign-ups can use at most half of the hashing capacity and never
	// starve sign-ins and password checks.
	slots       chan struct{}
	signupSlots chan struct{}
	wait        time.Duration
	// admitted counts the password checks Admit let in and that have
	// not finished; hashTime is the moving average of the time a slot is
	// held, in nanoseconds (admit.go).
	admitted atomic.Int64
	hashTime atomic.Int64
	// breaches, when set, vets new passwords; logger hears when it fails.
	breaches BreachChecker
	logger   *slog.Logger
}

// ErrBusy means every password-hashing slot stayed taken for the whole
// queueing time: the server is saturated with logins. Try again later.
var ErrBusy = errors.New("too many password checks in progress")

// NewService returns a Service. now is the clock (time.Now outside tests).
// Password hashing is not bounded until LimitHashing is called.
func NewService(repo Repository, hasher Hasher, now func() time.Time) *Service {
	return &Service{repo: repo, hasher: hasher, now: now}
}

// LimitHashing allows at most n password hashes or verifications at once;
// others wait up to wait, then fail with ErrBusy. This bounds memory under
// a login flood. Call it before use.
func (s *Service) LimitHashing(n int, wait time.Duration) *Service {
	if n > 0 {
		s.slots = make(chan struct{}, n)
		s.signupSlots = make(chan struct{}, max(1, n/2))
		s.wait = wait
	}
	return s
}

// CheckBreaches refuses new passwords that checker reports breached (NIST
// SP 800-63B 5.1.1.2). When checker cannot tell, the password is accepted
// and logger (nil: slog.Default) gets a warning: an outage elsewhere must
// not stop sign-ups. Call it before use; without it nothing is checked.
func (s *Service) CheckBreaches(checker BreachChecker, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	s.breaches, s.logger = checker, logger
	return s
}

// checkBreached returns a ValidationError when the normalised new
// password pw is known breached.
func (s *Service) checkBreached(ctx context.Context, pw string) error {
	if s.breaches == nil {
		return nil
	}
	breached, err := s.breaches.Breached(ctx, pw)
	if err != nil {
		// err never holds the password or its hash (internal/pwned).
		s.logger.WarnContext(ctx, "could not check the new password against known breaches; accepted it unchecked", "err", err)
		return nil
	}
	if breached {
		return &ValidationError{"password", msgBreachedPassword}
	}
	return nil
}

// slot takes a hashing slot; call the returned function to give it back.
func (s *Service) slot(ctx context.Context) (func(), error) {
	release, err := take(ctx, s.slots, s.wait)
	if err != nil {
		return nil, err
	}
	return s.timed(release), nil
}

// signupSlot takes a sign-up's hashing slot: one of signupSlots, then one
// of slots.
func (s *Service) signupSlot(ctx context.Context) (func(), error) {
	releaseSignup, err := take(ctx, s.signupSlots, s.wait)
	if err != nil {
		return nil, err
	}
	release, err := take(ctx, s.slots, s.wait)
	if err != nil {
		releaseSignup()
		return nil, err
	}
	release = s.timed(release)
	return func() { release(); releaseSignup() }, nil
}

// take takes one of slots (nil: unbounded), waiting at most wait, or fails
// with ErrBusy.
func take(ctx context.Context, slots chan struct{}, wait time.Duration) (func(), error) {
	if slots == nil {
		return func() {}, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Register creates an account with role user.
func (s *Service) Register(ctx context.Context, username, password string) (*User, error) {
	return s.Create(ctx, username, password, RoleUser)
}

// Create creates an account with role. The command line uses it to add
// the first admin.
func (s *Service) Create(ctx context.Context, username, password string, role Role) (*User, error) {
	return s.create(ctx, username, password, role, "")
}

// RegisterWithEmail creates an account with role user and, when email is
// not empty, that address waiting for verification (EmailPending).
func (s *Service) RegisterWithEmail(ctx context.Context, username, password, email string) (*User, error) {
	return s.create(ctx, username, password, RoleUser, email)
}

func (s *Service) create(ctx context.Context, username, password string, role Role, email string) (*User, error) {
	var pending Address
	if strings.TrimSpace(email) != "" {
		a, err := NormalizeEmail(email)
		if err != nil {
			return nil, err
		}
		pending = a
	}
	if !role.Valid() {
		return nil, &ValidationError{"role", "Role must be user or admin"}
	}
	norm, err := NormalizeUsername(username)
	if err != nil {
		return nil, err
	}
	if err := checkScripts(norm); err != nil {
		return nil, err
	}
	password, err = checkNewPassword(password, norm)
	if err != nil {
		return nil, err
	}
	// A taken name is refused before hashing, which is the costly part,
	// and before asking about breaches: a flood of sign-ups with a taken
	// name costs neither. The unique indexes still decide races (and
	// look-alike names, which this lookup does not see).
	switch _, err := s.repo.ByUsernameNorm(ctx, norm); {
	case err == nil:
		return nil, ErrUsernameTaken
	case !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("find user %q: %w", norm, err)
	}
	if err := s.checkBreached(ctx, password); err != nil {
		return nil, err
	}
	release, err := s.signupSlot(ctx)
	if err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(password)
	release()
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	now := s.now().UTC()
	u := &User{
		Username:         strings.TrimSpace(username),
		UsernameNorm:     norm,
		UsernameSkeleton: Skeleton(norm),
		PasswordHash:     hash,
		Role:             role,
		CreatedAt:        now,
		UpdatedAt:        now,
		SecurityStamp:    NewStamp(),
		EmailPending:     pending.Address,
	}
	if err := s.repo.Create(ctx, u); err != nil {
		return nil, fmt.Errorf("create user %q: %w", norm, err)
	}
	return u, nil
}

// Authenticate returns the user whose name and password match, with
// LastLoginAt still holding the previous sign-in, and records this one.
//
// A malformed name, an unknown name, a wrong password and a disabled account
// all return ErrInvalidCredentials after the same amount of hashing work, so
// that neither the answer nor its timing reveals which it was.
func (s *Service) Authenticate(ctx context.Context, username, password string) (*User, error) {
	// Bound the password before hashing it: argon2 cost grows with input.
	if !utf8.ValidString(password) || utf8.RuneCountInString(password) > PasswordMaxLen {
		return nil, s.dummy(ctx, []string{""})
	}
	forms := passwordForms(password)
	norm, err := NormalizeUsername(username)
	if err != nil {
		return nil, s.dummy(ctx, forms)
	}
	u, err := s.repo.ByUsernameNorm(ctx, norm)
	if errors.Is(err, ErrNotFound) {
		return nil, s.dummy(ctx, forms)
	}
	if err != nil {
		return nil, fmt.Errorf("find user %q: %w", norm, err)
	}
	// Hold a hashing slot only while hashing, not across MongoDB calls.
	release, err := s.slot(ctx)
	if err != nil {
		return nil, err
	}
	match, newHash, err := s.verify(u, forms)
	release()
	if err != nil {
		return nil, err
	}
	if !match || u.Disabled {
		return nil, ErrInvalidCredentials
	}
	if err := s.repo.RecordLogin(ctx, u.ID, s.now().UTC(), newHash); err != nil {
		return nil, fmt.Errorf("record login of user %s: %w", u.ID, err)
	}
	return u, nil
}

// passwordForms are the forms of a typed password to verify, in order:
// the normalised form, which every hash made since passwords are
// normalised holds, then, when it differs, the password as typed, which a
// hash made before may hold. A password PRECIS refuses has only the form
// as typed.
func passwordForms(password string) []string {
	p, ok := normalizePassword(password)
	switch {
	case !ok:
		return []string{password}
	case p != password:
		return []string{p, password}
	}
	return []string{p}
}

// verify checks forms (passwordForms) against u's hash, and returns, on a
// match, the hash to store instead, if any: a hash of the normalised form
// when the password matched only as typed, or when the hash's parameters
// are weaker than the current ones. The caller holds a hashing slot.
func (s *Service) verify(u *User, forms []string) (match bool, newHash string, err error) {
	for i, pw := range forms {
		match, rehash, err := s.hasher.Verify(pw, u.PasswordHash)
		if err != nil {
			return false, "", fmt.Errorf("verify password of user %s: %w", u.ID, err)
		}
		if !match {
			continue
		}
		if i > 0 || rehash {
			if newHash, err = s.hasher.Hash(forms[0]); err != nil {
				return false, "", fmt.Errorf("rehash password of user %s: %w", u.ID, err)
			}
		}
		return true, newHash, nil
	}
	return false, "", nil
}

// dummy spends the time of verifying forms (in a hashing slot, like a
// real verification) and returns ErrInvalidCredentials, or ErrBusy.
func (s *Service) dummy(ctx context.Context, forms []string) error {
	release, err := s.slot(ctx)
	if err != nil {
		return err
	}
	defer release()
	for _, pw := range forms {
		s.hasher.VerifyDummy(pw)
	}
	return ErrInvalidCredentials
}

// ByID returns the user with id.
func (s *Service) ByID(ctx context.Context, id string) (*User, error) {
	return s.repo.ByID(ctx, id)
}

// ByUsername returns the user with the given name, in any spelling.
func (s *Service) ByUsername(ctx context.Context, name string) (*User, error) {
	norm, err := NormalizeUsername(name)
	if err != nil {
		return nil, ErrNotFound
	}
	return s.repo.ByUsernameNorm(ctx, norm)
}

// ByEmail returns the user whose verified address is addr, in any
// spelling NormalizeEmail maps to the same address.
func (s *Service) ByEmail(ctx context.Context, addr string) (*User, error) {
	a, err := NormalizeEmail(addr)
	if err != nil {
		return nil, ErrNotFound
	}
	return s.repo.ByEmailNorm(ctx, a.Norm)
}

// ByLogin returns the user that login names: a verified e-mail address
// when it has an @, else a username.
func (s *Service) ByLogin(ctx context.Context, login string) (*User, error) {
	if strings.Contains(login, "@") {
		return s.ByEmail(ctx, login)
	}
	return s.ByUsername(ctx, login)
}

// RequestEmailChange records addr as user id's address waiting for
// verification, and returns its forms and the user as they were before
// (with the old verified address, which the caller notifies). An address
// the account already has verified is a *ValidationError. Whether another
// account has it is not checked here: that would tell anyone which
// addresses have accounts, and reserve addresses nobody proved to hold.
// VerifyEmail refuses it, once the link proved the mailbox.
func (s *Service) RequestEmailChange(ctx context.Context, id, addr string) (Address, *User, error) {
	a, err := NormalizeEmail(addr)
	if err != nil {
		return Address{}, nil, err
	}
	u, err := s.repo.ByID(ctx, id)
	if err != nil {
		return Address{}, nil, err
	}
	if u.EmailNorm == a.Norm {
		return Address{}, nil, &ValidationError{"email", "Enter a different email address: that one is already yours"}
	}
	if err := s.repo.SetPendingEmail(ctx, id, a.Address, s.now().UTC()); err != nil {
		return Address{}, nil, err
	}
	return a, u, nil
}

// VerifyEmail makes the pending address of user id its verified one, if
// the pending address still has the normalised form norm (the one the
// link was sent to), and returns the user as it was before. It returns
// ErrEmailChanged when the pending address changed since, ErrEmailTaken
// or ErrEmailLookalike when another account's verified address is the
// same or looks the same.
func (s *Service) VerifyEmail(ctx context.Context, id, norm string) (*User, error) {
	u, err := s.repo.ByID(ctx, id)
	if err != nil {
		return nil, err
	}
	a, err := NormalizeEmail(u.EmailPending)
	if err != nil || a.Norm != norm {
		return nil, ErrEmailChanged
	}
	err = s.repo.VerifyEmail(ctx, id, a, s.now().UTC())
	if errors.Is(err, ErrEmailTaken) {
		if other, ferr := s.repo.ByEmailNorm(ctx, a.Norm); ferr == nil && other.ID != id {
			return nil, ErrEmailTaken
		}
		return nil, ErrEmailLookalike
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// CheckPassword verifies the password of user id without recording a
// login: the confirm step before a sensitive action. It returns
// ErrWrongPassword on a mismatch. A hash that needs replacing (see
// Authenticate) is replaced.
func (s *Service) CheckPassword(ctx context.Context, id, password string) error {
	u, err := s.repo.ByID(ctx, id)
	if err != nil {
		return err
	}
	newHash, err := s.checkPassword(ctx, u, password)
	if err != nil || newHash == "" {
		return err
	}
	if err := s.repo.SetPasswordHash(ctx, id, newHash, s.now().UTC()); err != nil {
		return fmt.Errorf("rehash password of user %s: %w", id, err)
	}
	return nil
}

// checkPassword verifies the password of u, and returns the hash to store
// instead of u's, if any.
func (s *Service) checkPassword(ctx context.Context, u *User, password string) (newHash string, err error) {
	if !utf8.ValidString(password) || utf8.RuneCountInString(password) > PasswordMaxLen {
		return "", ErrWrongPassword
	}
	release, err := s.slot(ctx)
	if err != nil {
		return "", err
	}
	match, newHash, err := s.verify(u, passwordForms(password))
	release()
	if err != nil {
		return "", err
	}
	if !match || u.Disabled {
		return "", ErrWrongPassword
	}
	return newHash, nil
}

// ChangePassword replaces the password of user id after checking the
// current one, and replaces the security stamp.
func (s *Service) ChangePassword(ctx context.Context, id, current, next string) error {
	u, err := s.repo.ByID(ctx, id)
	if err != nil {
		return err
	}
	// The new password's rules first: a new password that breaks them is
	// no verdict on the current one.
	if _, err := checkNewPassword(next, u.UsernameNorm); err != nil {
		return err
	}
	// A rehash of the current password is moot: it is being replaced.
	if _, err := s.checkPassword(ctx, u, current); err != nil {
		return err
	}
	return s.setPassword(ctx, u, next)
}

// SetPassword replaces the password of user id without the current one,
// and replaces the security stamp: for a session that entered the password
// within the reauthentication window (the caller's rule), and later for a
// reset link. The new password follows every rule.
func (s *Service) SetPassword(ctx context.Context, id, next string) error {
	u, err := s.repo.ByID(ctx, id)
	if err != nil {
		return err
	}
	return s.setPassword(ctx, u, next)
}

func (s *Service) setPassword(ctx context.Context, u *User, next string) error {
	next, err := checkNewPassword(next, u.UsernameNorm)
	if err != nil {
		return err
	}
	if err := s.checkBreached(ctx, next); err != nil {
		return err
	}
	release, err := s.slot(ctx)
	if err != nil {
		return err
	}
	hash, err := s.hasher.Hash(next)
	release()
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return s.repo.SetPassword(ctx, u.ID, hash, NewStamp(), s.now().UTC())
}

// SignOutEverywhere replaces the security stamp of user id, so that every
// session of theirs ends at its next touch. The caller revokes them in
// Redis too, at once; this holds when that fails.
func (s *Service) SignOutEverywhere(ctx context.Context, id string) (*User, error) {
	u, err := s.repo.ByID(ctx, id)
	if err != nil {
		return nil, err
	}
	stamp := NewStamp()
	if err := s.repo.SetStamp(ctx, id, stamp, s.now().UTC()); err != nil {
		return nil, err
	}
	u.SecurityStamp = stamp
	return u, nil
}

// SetRole gives user id role, and a new security stamp. It refuses to
// demote the last enabled admin: the check and the change run under the
// repository's admin lock, so that parallel demotions cannot both see
// another admin left and leave none.
func (s *Service) SetRole(ctx context.Context, id string, role Role) (*User, error) {
	if !role.Valid() {
		return nil, &ValidationError{"role", "Role must be user or admin"}
	}
	var u *User
	err := s.repo.WithAdminLock(ctx, func() (err error) {
		if u, err = s.repo.ByID(ctx, id); err != nil {
			return err
		}
		if u.Role == RoleAdmin && role != RoleAdmin && !u.Disabled {
			if err := s.notLastAdmin(ctx); err != nil {
				return err
			}
		}
		stamp := NewStamp()
		if err := s.repo.SetRole(ctx, id, role, stamp, s.now().UTC()); err != nil {
			return err
		}
		u.Role, u.SecurityStamp = role, stamp
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// SetDisabled disables or enables user id, with a new security stamp. It
// refuses to disable the last enabled admin, under the admin lock as
// SetRole does.
func (s *Service) SetDisabled(ctx context.Context, id string, disabled bool) (*User, error) {
	var u *User
	err := s.repo.WithAdminLock(ctx, func() (err error) {
		if u, err = s.repo.ByID(ctx, id); err != nil {
			return err
		}
		if disabled && u.Role == RoleAdmin && !u.Disabled {
			if err := s.notLastAdmin(ctx); err != nil {
				return err
			}
		}
		stamp := NewStamp()
		if err := s.repo.SetDisabled(ctx, id, disabled, stamp, s.now().UTC()); err != nil {
			return err
		}
		u.Disabled, u.SecurityStamp = disabled, stamp
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// CountAdmins counts enabled admins: with none, the server's start-up log
// says how to create the first.
func (s *Service) CountAdmins(ctx context.Context) (int64, error) {
	return s.repo.CountAdmins(ctx)
}

func (s *Service) notLastAdmin(ctx context.Context) error {
	n, err := s.repo.CountAdmins(ctx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return ErrLastAdmin
	}
	return nil
}

// List returns a page of users whose name starts with filter (in any
// spelling), and how many match.
func (s *Service) List(ctx context.Context, filter string, page, perPage int) ([]*User, int64, error) {
	prefix := ""
	if strings.TrimSpace(filter) != "" {
		// Normalise like a name, but allow a prefix shorter than a name.
		p, err := precisPrefix(filter)
		if err != nil {
			return nil, 0, nil
		}
		prefix = p
	}
	if page < 1 {
		page = 1
	}
	return s.repo.List(ctx, prefix, int64((page-1)*perPage), int64(perPage))
}
