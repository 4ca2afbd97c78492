package web

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/metrics"
)

// auditLog writes one structured line per security event, with who, which
// session (its public session id, never the token), from where, and the
// request; and counts logins and ended sessions in the metrics. Passwords
// and tokens never reach it.
type auditLog struct {
	logger  *slog.Logger
	metrics *metrics.Metrics // optional
}

// Audit events.
const (
	auditLoginSuccess   = "login_success"
	auditLoginFailure   = "login_failure"
	auditLoginThrottled = "login_throttled"
	// A password checked again by a signed-in session (confirm page,
	// password change) was wrong, or was refused by the limiter.
	auditPasswordCheckFailure   = "password_check_failure"
	auditPasswordCheckThrottled = "password_check_throttled"
	auditLogout                 = "logout"
	auditSessionRevoked         = "session_revoked"
	auditSessionEvicted         = "session_evicted" // past MAX_SESSIONS_PER_USER
	auditPasswordChange         = "password_changed"
	auditRoleChanged            = "role_changed"
	auditUserDisabled           = "user_disabled"
	auditUserEnabled            = "user_enabled"
	auditReauth                 = "reauthenticated"
	// Second factors.
	auditCodeFailure           = "second_factor_failure"
	auditCodeThrottled         = "second_factor_throttled"
	auditSecondFactorPending   = "second_factor_required"
	auditSecondFactorAdded     = "second_factor_added"
	auditSecondFactorRemoved   = "second_factor_removed"
	auditSecondFactorsReset    = "second_factors_reset"
	auditRecoveryCodesReplaced = "recovery_codes_replaced"
	// E-mail (email.go). A reset request names no account: whether one
	// matches is the mail worker's business, later.
	auditResetRequested  = "password_reset_requested"
	auditResetThrottled  = "password_reset_throttled"
	auditVerifyThrottled = "email_link_throttled"
	auditPasswordReset   = "password_reset"
	auditEmailRequested  = "email_change_requested"
	auditEmailVerified   = "email_verified"
	auditNotMe           = "not_me"
)

// event logs name for the user userID and public session id sid; attrs add
// detail (for example the target of an admin action).
func (a *auditLog) event(r *http.Request, name, userID, sid string, attrs ...slog.Attr) {
	base := []slog.Attr{
		slog.String("event", name),
		slog.String("user_id", userID),
		slog.String("session_id", sid),
		slog.String("ip", clientIP(r)),
		slog.String("request_id", requestID(r)),
	}
	a.logger.LogAttrs(context.Background(), slog.LevelInfo, "audit", append(base, attrs...)...)
	switch name {
	case auditLoginSuccess:
		a.metrics.Login("success")
	case auditLoginFailure:
		a.metrics.Login("bad_credentials")
	case auditLoginThrottled:
		a.metrics.Login("throttled")
	case auditLogout:
		a.metrics.SessionsEnded("logout", 1)
	case auditSessionRevoked:
		a.metrics.SessionsEnded("revoked", 1)
	case auditSessionEvicted:
		a.metrics.SessionsEnded("evicted", 1)
	}
}

// loginUnanswered counts a login whose password was never judged: the
// hashing slots were full (busy) or a store failed (error). It is not a
// security event, so it writes no audit line.
func (a *auditLog) loginUnanswered(busy bool) {
	if busy {
		a.metrics.Login("busy")
	} else {
		a.metrics.Login("error")
	}
}

// warn logs a failure on the way to a security event that did not stop it,
// such as login counters that could not be cleared.
func (a *auditLog) warn(r *http.Request, msg string, err error) {
	a.logger.Warn(msg, "err", err, "request_id", requestID(r))
}
