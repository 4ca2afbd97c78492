// Package session is Gatehouse's session domain and its Redis storage: what
// a signed-in session holds (Record), how long it lives (Policy), how it is
// encoded (Codec) and stored (Store, for scs), and each user's list of
// sessions (Index). It knows nothing of HTTP: package web owns the cookie.
//
// Glossary, followed by every name in the code:
//   - token: the cookie's value, 32 random bytes in unpadded base64url
//     (OWASP's "session ID"). It is never stored raw: Redis keys hold 216
//     bits of its SHA-256 (DataKey), so a copy of the Redis data holds no
//     usable cookie.
//   - public session id: a second random value, 16 bytes (NewID), that
//     names a session to people and in URLs, logs and the Index: the
//     sessions page shows it, and revoking takes it. Knowing it grants
//     nothing.
//   - record: what a signed-in session holds (Record).
//   - touch: refreshing a session's "last seen", its idle deadline and its
//     Index entry, at most once per Policy.TouchInterval.
//
// Every Redis error is wrapped with redis.ErrUnavailable (internal/redis).
package session
