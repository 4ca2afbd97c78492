// Package user is Gatehouse's account domain: who a user is, the rules a
// username and a password must follow, and the two things people do with an
// account here: register and sign in. It knows nothing of HTTP or of MongoDB;
// storage comes in through the Repository interface.
package user

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"
)

// Role is what a user may do.
type Role string

// Roles.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAdmin }

// User is an account.
type User struct {
	ID           string // opaque, assigned by the repository
	Username     string // as typed at registration
	UsernameNorm string // the normalised form that makes names unique
	// UsernameSkeleton is the confusable skeleton of UsernameNorm
	// (Skeleton), unique too, so that no name looks like another. Empty
	// for a user registered before skeletons whose skeleton clashed.
	UsernameSkeleton string
	PasswordHash     string // argon2id PHC string; never leaves the server
	Role             Role
	CreatedAt        time.Time
	UpdatedAt        time.Time
	LastLoginAt      time.Time // zero until the first sign-in
	Disabled         bool
	// SecurityStamp is a random value that every change of privilege
	// replaces: a role change, a disable or enable, a password change and
	// "sign out everywhere". Sessions copy it at sign-in, and a session
	// whose copy differs ends at its next touch, even if revoking it in
	// Redis failed. Empty for accounts made before stamps existed.
	SecurityStamp string
	// Email is the verified address: the one that receives reset links
	// and security notices (Address.Address). Empty when there is none.
	// EmailNorm and EmailSkeleton are its unique forms.
	Email, EmailNorm, EmailSkeleton string
	// EmailVerifiedAt is when Email was verified.
	EmailVerifiedAt time.Time
	// EmailPending is an address waiting for its verification link to be
	// used (Address.Address); Email stays in use until then.
	EmailPending string
}

// NewStamp returns a new security stamp: 16 random bytes, base64url.
func NewStamp() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Domain errors. Callers test them with errors.Is.
var (
	ErrNotFound           = errors.New("user not found")
	ErrUsernameTaken      = errors.New("that username is taken")
	ErrInvalidCredentials = errors.New("invalid username or password")
	// ErrUnavailable wraps failures to reach the user store.
	ErrUnavailable = errors.New("user store unavailable")
	// ErrLastAdmin refuses to demote or disable the only enabled admin.
	ErrLastAdmin = errors.New("cannot remove the last admin")
	// ErrWrongPassword is a wrong current password on a password change.
	ErrWrongPassword = errors.New("current password is wrong")
)

// ValidationError is a rule broken by input, with a message fit for the user.
type ValidationError struct {
	Field   string // form field: username, password or password_confirm
	Message string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

// Repository stores users. Implementations return ErrNotFound and
// ErrUsernameTaken for those cases and bound every call by ctx.
type Repository interface {
	Create(ctx context.Context, u *User) error // sets u.ID
	ByUsernameNorm(ctx context.Context, norm string) (*User, error)
	ByID(ctx context.Context, id string) (*User, error)
	// RecordLogin sets last_login_at and, when newHash is not empty, replaces
	// the password hash (after a parameter upgrade).
	RecordLogin(ctx context.Context, id string, at time.Time, newHash string) error
	// SetPasswordHash replaces the hash of the same password (a rehash);
	// SetPassword sets a new password's hash and security stamp.
	SetPasswordHash(ctx context.Context, id, hash string, at time.Time) error
	SetPassword(ctx context.Context, id, hash, stamp string, at time.Time) error
	// SetRole, SetDisabled and SetStamp also replace the security stamp.
	SetRole(ctx context.Context, id string, role Role, stamp string, at time.Time) error
	SetDisabled(ctx context.Context, id string, disabled bool, stamp string, at time.Time) error
	SetStamp(ctx context.Context, id, stamp string, at time.Time) error
	// CountAdmins counts enabled admins.
	CountAdmins(ctx context.Context) (int64, error)
	// WithAdminLock runs fn holding a lock that serialises every change
	// that could remove an enabled admin, across all instances.
	WithAdminLock(ctx context.Context, fn func() error) error
	// ByEmailNorm finds the user whose verified address has the
	// normalised form norm (Address.Norm).
	ByEmailNorm(ctx context.Context, norm string) (*User, error)
	// SetPendingEmail records addr (an Address.Address) as waiting for
	// verification.
	SetPendingEmail(ctx context.Context, id, addr string, at time.Time) error
	// VerifyEmail makes a the verified address of user id, if its
	// pending address is still a.Address (else ErrEmailChanged), and
	// clears the pending one. Another account's verified address with
	// the same Norm or Skeleton is ErrEmailTaken.
	VerifyEmail(ctx context.Context, id string, a Address, at time.Time) error
	// List returns users whose normalised name starts with prefix, sorted
	// by it, skipping skip and at most limit, and the number matching.
	List(ctx context.Context, prefix string, skip, limit int64) ([]*User, int64, error)
}
