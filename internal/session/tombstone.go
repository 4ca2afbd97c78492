package session

import "context"

// A session ended from elsewhere (revoked on the sessions page, signed out
// everywhere by an admin, ended by a password change or by the per-user
// cap) leaves a tombstone under its data key instead of nothing: two
// bytes, a zero and the reason, kept for as long as the session's data
// would have been (SET XX KEEPTTL). The next request with its cookie finds
// the tombstone in the same GET that would have found the session, so the
// person can be told why they were signed out at no extra cost, and the
// cookie is not mistaken for a guessed token. No stored session is two
// bytes long, nor starts with a zero byte (codec.go).

// EndReason says why a session was ended from elsewhere.
type EndReason byte

const (
	// EndedElsewhere: signed out from another of the user's sessions,
	// or by the per-user cap when another device signed in.
	EndedElsewhere EndReason = 'd'
	// EndedForSecurity: the user's password, role or status changed, or
	// an admin signed them out everywhere.
	EndedForSecurity EndReason = 's'
)

// tombstoneLen is the length of a tombstone.
const tombstoneLen = 2

func (r EndReason) tombstone() []byte { return []byte{0, byte(r)} }

// tombstoneReason returns the reason a tombstone holds, or false when b is
// not one.
func tombstoneReason(b []byte) (EndReason, bool) {
	if len(b) != tombstoneLen || b[0] != 0 {
		return 0, false
	}
	switch r := EndReason(b[1]); r {
	case EndedElsewhere, EndedForSecurity:
		return r, true
	}
	return 0, false
}

// EndNote receives, from Store.FindCtx, why the session a request's cookie
// named was ended from elsewhere: zero when it was not (never existed,
// expired, signed out by the person).
type EndNote struct{ Reason EndReason }

type endNoteKey struct{}

// WithEndNote returns ctx carrying a new EndNote for the store to fill
// when it finds a tombstone.
func WithEndNote(ctx context.Context) (context.Context, *EndNote) {
	n := &EndNote{}
	return context.WithValue(ctx, endNoteKey{}, n), n
}
