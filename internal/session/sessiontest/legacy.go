// Package sessiontest writes sessions as Gatehouse stored them before the
// compact layout, for the tests that show they keep working and for the
// bench that compares the two layouts. It writes exactly what the code of
// that time wrote: scs's data under "scs:session:" and the base64url
// SHA-256 of the token, in the general format's version 2, and the index
// as a sorted set per user and a hash per session.
package sessiontest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"

	redigo "github.com/gomodule/redigo/redis"
)

// Legacy is one signed-in session in the layout before.
type Legacy struct {
	Token                  string // the cookie's value
	UserID, Username, Role string
	SID                    string // public session id
	MemberSince, LastLogin time.Time
	AuthAt, Seen           time.Time
	Remember               bool
	Stamp                  string
	IP, Device             string
	// Deadline is scs's absolute deadline; ExpiresAt when the data and
	// the index entry expire unless touched.
	Deadline, ExpiresAt time.Time
}

// StoreKey is the key the layout before kept the session's data under.
func (l Legacy) StoreKey() string {
	sum := sha256.Sum256([]byte(l.Token))
	return "scs:session:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// UserKey and MetaKey are the keys of its index.
func (l Legacy) UserKey() string { return "gatehouse:user:" + l.UserID + ":sessions" }
func (l Legacy) MetaKey() string { return "gatehouse:session:" + l.SID }

// Write stores l as the code before did: the data (one SET with PXAT,
// which redisstore's MULTI/SET/PEXPIREAT/EXEC amounts to), then the index
// in one MULTI/EXEC.
func Write(c redigo.Conn, l Legacy) error {
	if _, err := c.Do("SET", l.StoreKey(), Data(l), "PXAT", l.ExpiresAt.UnixMilli()); err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(l.Token))
	exp := l.ExpiresAt.UnixMilli()
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	remember := 0
	if l.Remember {
		remember = 1
	}
	_ = c.Send("MULTI")
	_ = c.Send("HSET", l.MetaKey(),
		"uid", l.UserID, "key", base64.RawURLEncoding.EncodeToString(sum[:]),
		"created", ms(l.AuthAt), "auth", ms(l.AuthAt), "seen", ms(l.Seen),
		"ip", l.IP, "device", l.Device, "remember", remember)
	_ = c.Send("PEXPIREAT", l.MetaKey(), exp)
	_ = c.Send("ZADD", l.UserKey(), exp, l.SID)
	_ = c.Send("PEXPIREAT", l.UserKey(), exp, "NX")
	_ = c.Send("PEXPIREAT", l.UserKey(), exp, "GT")
	_, err := c.Do("EXEC")
	return err
}

// Data is l's scs data as the codec before encoded it: 'G', version 2,
// the deadline, and one value, the record under "signed_in".
func Data(l Legacy) []byte {
	b := []byte{'G', 2}
	b = appendTime(b, l.Deadline)
	b = binary.AppendUvarint(b, 1)
	b = appendString(b, "signed_in")
	b = append(b, 'R')
	for _, s := range []string{l.UserID, l.Username, l.Role, l.SID} {
		b = appendString(b, s)
	}
	for _, t := range []time.Time{l.MemberSince, l.LastLogin, l.AuthAt, time.Time{}, l.Seen} {
		if t.IsZero() {
			b = append(b, 'z')
		} else {
			b = appendTime(append(b, 'T'), t)
		}
	}
	if l.Remember {
		b = append(b, 't')
	} else {
		b = append(b, 'f')
	}
	return appendString(b, l.Stamp)
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}
