package session

import (
	"time"

	"github.com/gatehouse/gatehouse/internal/user"
)

// Record is what a signed-in session holds, as one value: the user as of
// sign-in (what the pages show, so that a page view needs no MongoDB
// query) and the times the lifetime policy needs. One value rather than
// one per field: scs's getters cost an allocation and a walk of the
// request's context each, and stored data needs no key names.
//
// Sessions hold a *Record, which readers share: a stored Record is never
// changed, only replaced.
type Record struct {
	UserID, Username, Role string
	SID                    string // public session id in the per-user index
	MemberSince, LastLogin time.Time
	AuthAt                 time.Time // sign-in with the password; the absolute lifetime counts from it
	ReauthAt               time.Time // the password confirmed again for a sensitive action
	Seen                   time.Time // refreshed at most once per touch interval
	Remember               bool
	// Stamp is the user's security stamp at sign-in (user.User's
	// SecurityStamp). A role change, a disable, a password change or
	// "sign out everywhere" replaces the user's, and the touch ends a
	// session whose stamp no longer matches (SameStamp). A record read
	// back from Redis may hold only the stamp's first 64 bits (Codec).
	Stamp string
	// IP and Device are where the session was signed in from, as the
	// sessions page lists them: the client IP and session.Device's
	// description of its User-Agent.
	IP, Device string
	// AMR is how the session was authenticated, as signing in and every
	// step up since left it (RFC 8176); zero in records stored before
	// it was kept, which were password sign-ins (Methods.Names).
	AMR Methods
}

// SameStamp reports whether stamp, the user's current security stamp, is
// the one r was signed in with. Stored records keep the first 64 bits of a
// stamp made by user.NewStamp: a new random stamp shares them with the old
// one once in 2^64 changes, and what it guards (a session that outlived a
// change, whose revocation in Redis also failed) needs no better.
func (r *Record) SameStamp(stamp string) bool {
	if r.Stamp == stamp {
		return true
	}
	short, ok := stampPrefix(stamp)
	return ok && short == r.Stamp
}

// SignedIn reports whether r names a user; the zero Record is an anonymous
// session's. (Value receivers: templates call these on a Record held by
// value, too.)
func (r Record) SignedIn() bool { return r.UserID != "" }

// IsAdmin reports whether the session's user had the admin role at sign-in
// (or at the last touch that rechecked it).
func (r Record) IsAdmin() bool { return r.Role == string(user.RoleAdmin) }

// Touched returns a copy of r seen at now (in UTC), for the touch: records
// are shared, so they are replaced, never changed.
func (r *Record) Touched(now time.Time) Record {
	t := *r
	t.Seen = now.UTC()
	return t
}

// Reauthenticated returns a copy of r whose user authenticated again at
// now (in UTC) with m: the password, a code or a passkey. A step up adds
// m to the session's methods.
func (r *Record) Reauthenticated(now time.Time, m Methods) Record {
	t := *r
	t.ReauthAt = now.UTC()
	if t.AMR == 0 {
		t.AMR = MethodPassword
	}
	t.AMR |= m
	return t
}

// appendRecord writes r's fields in declaration order for the general
// format: the four strings, the five times (zero times included), Remember
// as one byte, then the stamp (version 2), the IP and the device (version
// 3), and the methods as one byte (version 4).
func appendRecord(b []byte, r Record) []byte {
	for _, s := range [...]string{r.UserID, r.Username, r.Role, r.SID} {
		b = appendString(b, s)
	}
	for _, t := range [...]time.Time{r.MemberSince, r.LastLogin, r.AuthAt, r.ReauthAt, r.Seen} {
		b = appendMaybeTime(b, t)
	}
	if r.Remember {
		b = append(b, tagTrue)
	} else {
		b = append(b, tagFalse)
	}
	b = appendString(b, r.Stamp)
	b = appendString(b, r.IP)
	b = appendString(b, r.Device)
	return append(b, byte(r.AMR))
}

// record reads a Record of the given version of the general format:
// version 1 records have no stamp, versions 1 and 2 no IP or device,
// versions 1 to 3 no methods.
func (d *decoder) record(version byte) Record {
	var r Record
	for _, s := range [...]*string{&r.UserID, &r.Username, &r.Role, &r.SID} {
		*s = d.string()
	}
	for _, t := range [...]*time.Time{&r.MemberSince, &r.LastLogin, &r.AuthAt, &r.ReauthAt, &r.Seen} {
		*t = d.maybeTime()
	}
	switch d.byte() {
	case tagTrue:
		r.Remember = true
	case tagFalse:
	default:
		d.err = ErrCorrupt
	}
	if version >= 2 {
		r.Stamp = d.string()
	}
	if version >= 3 {
		r.IP = d.string()
		r.Device = d.string()
	}
	if version >= 4 {
		r.AMR = Methods(d.byte())
	}
	return r
}

// appendMaybeTime writes the zero time as tagZero, any other as tagTime
// and its value.
func appendMaybeTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, tagZero)
	}
	return appendTime(append(b, tagTime), t)
}

func (d *decoder) maybeTime() time.Time {
	switch d.byte() {
	case tagZero:
		return time.Time{}
	case tagTime:
		return d.time()
	default:
		d.err = ErrCorrupt
		return time.Time{}
	}
}
