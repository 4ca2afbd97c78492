// Package web is Gatehouse's HTTP layer: routes, handlers, middleware, HTML
// rendering and the JSON API. It is the only package that knows about
// net/http, chi, scs's cookies and html/template.
package web

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
)

// Check is a readiness probe of one dependency.
type Check struct {
	Name string // shown in /readyz, e.g. "redis"
	Ping func(ctx context.Context) error
}

// Users is what the handlers need from the user domain (user.Service).
type Users interface {
	Register(ctx context.Context, username, password string) (*user.User, error)
	Authenticate(ctx context.Context, username, password string) (*user.User, error)
	ByID(ctx context.Context, id string) (*user.User, error)
	CheckPassword(ctx context.Context, id, password string) error
	ChangePassword(ctx context.Context, id, current, next string) error
	SetRole(ctx context.Context, id string, role user.Role) (*user.User, error)
	SetDisabled(ctx context.Context, id string, disabled bool) (*user.User, error)
	List(ctx context.Context, filter string, page, perPage int) ([]*user.User, int64, error)
}

// SessionIndex is the per-user session index (session.Index).
type SessionIndex interface {
	Add(ctx context.Context, info session.Info, token string) error
	Touch(ctx context.Context, userID, sid string, seen, exp time.Time) error
	SetToken(ctx context.Context, sid, token string, authAt time.Time) error
	List(ctx context.Context, userID string) ([]session.Info, error)
	Revoke(ctx context.Context, userID, sid string) (bool, error)
	RevokeAll(ctx context.Context, userID, keep string) ([]string, error)
	Remove(ctx context.Context, userID, sid string) error
	// Counts returns each user's number of live sessions.
	Counts(ctx context.Context, userIDs []string) ([]int, error)
}

// Deps are everything the server needs. All fields are required unless
// marked optional.
type Deps struct {
	Logger   *slog.Logger
	Sessions *scs.SessionManager
	// SessionIndex lists and revokes each user's sessions.
	SessionIndex SessionIndex
	// Policy sets session lifetimes; zero fields take the defaults.
	Policy SessionPolicy
	Users  Users
	Checks []Check
	// Templates is the template tree (templates.FS in production).
	Templates fs.FS
	// ReloadTemplates re-parses templates on every request, for editing
	// them while `make run` runs. Optional.
	ReloadTemplates bool
	// Static is the static file tree (static.FS).
	Static fs.FS
	// Production turns on HSTS.
	Production bool
	// CORSAllowedOrigins may call the JSON API with credentials. Optional.
	CORSAllowedOrigins []string
	// Now is the clock. Optional: time.Now.
	Now func() time.Time
	// Metrics records Prometheus metrics. Optional.
	Metrics *metrics.Metrics

	// LoginLimiter throttles failed logins.
	LoginLimiter LoginLimiter
	// SessionGuesses counts unknown session cookies per IP; past
	// SessionGuessLimit in its window, such requests get 429.
	SessionGuesses    GuessCounter
	SessionGuessLimit int
	// TrustedProxies may set the client IP in ClientIPHeader
	// (X-Forwarded-For or X-Real-IP). Optional.
	TrustedProxies []netip.Prefix
	ClientIPHeader string
}

// NewServer returns the application's root handler.
func NewServer(d Deps) (http.Handler, error) {
	if d.Logger == nil || d.Sessions == nil || d.SessionIndex == nil || d.Users == nil || d.Templates == nil || d.Static == nil ||
		d.LoginLimiter == nil || d.SessionGuesses == nil || d.SessionGuessLimit <= 0 {
		return nil, fmt.Errorf("web.NewServer: missing dependency")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	d.Policy = d.Policy.withDefaults()
	r, err := newRenderer(d.Templates, d.ReloadTemplates, d.Logger, d.Now)
	if err != nil {
		return nil, err
	}
	s := &sessions{
		sm: d.Sessions, index: d.SessionIndex, users: d.Users, policy: d.Policy,
		now: d.Now, logger: d.Logger, audit: &auditLog{logger: d.Logger, metrics: d.Metrics}, metrics: d.Metrics,
		idleText: humanDuration(d.Policy.IdleTimeout),
	}
	r.sessions = s
	return routes(d, r, s)
}
