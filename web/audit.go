package web

import (
	"context"
	"log/slog"
	"net/http"
)

// auditLog writes one structured line per security event, with who, which
// session (its public id, never the token), from where, and the request.
// Passwords and tokens never reach it.
type auditLog struct {
	logger *slog.Logger
}

// Audit events.
const (
	auditLoginSuccess   = "login_success"
	auditLoginFailure   = "login_failure"
	auditLoginThrottled = "login_throttled"
	auditLogout         = "logout"
	auditSessionRevoked = "session_revoked"
	auditPasswordChange = "password_changed"
	auditRoleChanged    = "role_changed"
	auditUserDisabled   = "user_disabled"
	auditUserEnabled    = "user_enabled"
	auditReauth         = "reauthenticated"
)

// event logs name for the user userID and public session sid; attrs add
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
}

func slogString(k, v string) slog.Attr { return slog.String(k, v) }
