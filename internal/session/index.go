package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/redis"
)

// Info describes one session of a user, as the index lists it.
type Info struct {
	ID        string    // public session id: random, not the token
	UserID    string    //
	Created   time.Time // when the session was created (sign-in)
	AuthAt    time.Time // last authentication with the password
	LastSeen  time.Time // updated at most once per touch interval
	ExpiresAt time.Time // when it ends unless used again
	// Ends is when it ends at the latest (its absolute lifetime). Add
	// keeps the user's index until then; ExpiresAt when zero.
	Ends     time.Time
	IP       string
	Device   string // "Chrome on Linux"
	Remember bool
}

// Index keeps, per user, the list of their sessions: one small Redis hash
// per user, under userKey, from each session's public id (16 bytes) to
// what names its data (the dataHashLen bytes of its key after dataPrefix:
// never the token). Everything else a listing shows (times, IP, device)
// is in the session's own Record, which List reads. The hash lives as long
// as the user's longest session can (Info.Ends); entries of sessions that
// ended are pruned when the user's sessions are next listed, counted or
// trimmed.
//
// It makes listing and revoking cost O(sessions of the user) without
// scanning the keyspace. A user's keys share the {hash tag} of their id,
// so that on a Redis Cluster every script stays on one node; a session's
// data, whose key derives from its token alone, lives wherever its slot
// is, and is read and deleted with commands of its own. On one Redis
// those go in one pipeline.
//
// Revoking deletes the session's data, so that the next request with that
// cookie, on any instance, finds nothing.
//
// Indexes written before (a sorted set per user and a hash per session,
// under legacyUserKey and legacyMetaKey) are moved into the user's hash
// the first time the user's sessions are listed, revoked, counted,
// trimmed or renewed, or one of them is touched (not on a cluster, which
// has none).
type Index struct {
	conns  redis.Conns
	legacy bool
	now    func() time.Time
}

// NewIndex returns an index on pool.
func NewIndex(pool *redigo.Pool, now func() time.Time) *Index {
	return NewIndexOn(redis.PoolConns(pool), now)
}

// NewIndexOn returns an index on conns, which may be a Redis Cluster.
func NewIndexOn(conns redis.Conns, now func() time.Time) *Index {
	return &Index{conns: conns, legacy: !conns.Cluster(), now: now}
}

// NewID returns a new public session id: 16 random bytes in base64url.
func NewID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// userKey is the user's index; its {hash tag} is the user id.
func userKey(userID string) string { return "u{" + userID + "}" }

// The keys of indexes written before.
func legacyUserKey(userID string) string { return "gatehouse:user:" + userID + ":sessions" }
func legacyMetaKey(sid string) string    { return "gatehouse:session:" + sid }

// field returns the index field of the public session id sid: its 16
// bytes. Ids that NewID did not make name no session.
func field(sid string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(sid)
	if err != nil || len(b) != 16 || len(sid) != 22 {
		return "", false
	}
	return string(b), true
}

// hashValue is an index value: the part of token's data key after
// dataPrefix.
func hashValue(token string) string { return dataKey(StoreKey(token))[len(dataPrefix):] }

// A moved entry of an old index (movedKind, then the whole SHA-256 of the
// token, then movedFacts) also names the session's data under its old key,
// and keeps what the old index knew that the session's Record may not.
const movedKind = 0x01

// movedFacts are what a moved entry keeps of the old index.
type movedFacts struct {
	Created, AuthAt time.Time
	Remember        bool
	IP, Device      string
}

func (m movedFacts) append(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(m.Created.UnixMilli()))
	b = binary.AppendUvarint(b, uint64(m.AuthAt.UnixMilli()))
	b = append(b, byte(boolInt(m.Remember)))
	b = appendString(b, m.IP)
	return appendString(b, m.Device)
}

func parseMovedFacts(b []byte) (m movedFacts, ok bool) {
	d := decoder{b: b, s: string(b)}
	m.Created = time.UnixMilli(int64(d.uvarint())).UTC()
	m.AuthAt = time.UnixMilli(int64(d.uvarint())).UTC()
	m.Remember = d.byte() == 1
	m.IP, m.Device = d.string(), d.string()
	return m, d.err == nil
}

// entry is one session in a user's index.
type entry struct {
	field, value string
	sid          string
	keys         []string    // its data: the key, and for a moved entry the old key
	moved        *movedFacts // for a moved entry
}

func parseEntry(f, v string) entry {
	e := entry{field: f, value: v, sid: base64.RawURLEncoding.EncodeToString([]byte(f))}
	switch {
	case len(v) == dataHashLen:
		e.keys = []string{dataPrefix + v}
	case len(v) > 32 && v[0] == movedKind:
		e.keys = []string{dataPrefix + v[1:1+dataHashLen], legacyDataPrefix + base64.RawURLEncoding.EncodeToString([]byte(v[1:33]))}
		if m, ok := parseMovedFacts([]byte(v[33:])); ok {
			e.moved = &m
		}
	}
	return e
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func unavailableIndex(err error) error { return redis.Unavailable("session index", err) }

// do runs one command on a connection for key.
func (x *Index) do(ctx context.Context, key, cmd string, args ...any) (any, error) {
	c, err := x.conns.Conn(ctx, key)
	if err != nil {
		return nil, unavailableIndex(err)
	}
	defer c.Close()
	v, err := redigo.DoContext(c, ctx, cmd, args...)
	return v, unavailableIndex(err)
}

// script runs s on a connection for key, its only key.
func (x *Index) script(ctx context.Context, s *redigo.Script, key string, args ...any) (any, error) {
	c, err := x.conns.Conn(ctx, key)
	if err != nil {
		return nil, unavailableIndex(err)
	}
	defer c.Close()
	v, err := s.DoContext(ctx, c, append([]any{key}, args...)...)
	return v, unavailableIndex(err)
}

// command is one command of a batch, on the keys of key's slot.
type command struct {
	key  string
	name string
	args []any
}

// batch runs cmds and returns their replies in order, a reply error as
// an error value: on one Redis in one pipeline, on a cluster one pipeline
// per key.
func (x *Index) batch(ctx context.Context, cmds []command) ([]any, error) {
	out := make([]any, len(cmds))
	if len(cmds) == 0 {
		return out, nil
	}
	groups := [][]int{}
	if !x.conns.Cluster() {
		all := make([]int, len(cmds))
		for i := range all {
			all[i] = i
		}
		groups = append(groups, all)
	} else {
		byKey := map[string]int{}
		for i, c := range cmds {
			g, ok := byKey[c.key]
			if !ok {
				g = len(groups)
				byKey[c.key] = g
				groups = append(groups, nil)
			}
			groups[g] = append(groups[g], i)
		}
	}
	for _, g := range groups {
		if err := x.pipeline(ctx, cmds, g, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (x *Index) pipeline(ctx context.Context, cmds []command, idx []int, out []any) error {
	c, err := x.conns.Conn(ctx, cmds[idx[0]].key)
	if err != nil {
		return unavailableIndex(err)
	}
	defer c.Close()
	for _, i := range idx {
		if err := c.Send(cmds[i].name, cmds[i].args...); err != nil {
			return unavailableIndex(err)
		}
	}
	replies, err := redigo.Values(redigo.DoContext(c, ctx, ""))
	if err == nil && len(replies) != len(idx) {
		err = fmt.Errorf("%d replies to %d commands", len(replies), len(idx))
	}
	if err != nil {
		return unavailableIndex(err)
	}
	for j, i := range idx {
		out[i] = replies[j]
	}
	return nil
}

// addScript adds an entry and keeps the user's hash until ARGV[3] (ms).
// KEYS[1] the user's hash. ARGV: field, value, ends.
var addScript = redigo.NewScript(1, `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3], 'NX')
redis.call('PEXPIREAT', KEYS[1], ARGV[3], 'GT')
return 1
`)

// Add records a new session of info.UserID whose token is token. The
// session's Record holds its facts; the index keeps its id.
func (x *Index) Add(ctx context.Context, info Info, token string) error {
	f, ok := field(info.ID)
	if !ok {
		return fmt.Errorf("session index: %q is not a public session id", info.ID)
	}
	ends := info.Ends
	if ends.IsZero() {
		ends = info.ExpiresAt
	}
	_, err := x.script(ctx, addScript, userKey(info.UserID), f, hashValue(token), ms(ends))
	return err
}

// setTokenScript points an entry at new data, keeping what a moved entry
// knows. KEYS[1] the user's hash. ARGV: field, value, moved value head.
var setTokenScript = redigo.NewScript(1, `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
if #v == #ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3] .. string.sub(v, #ARGV[3] + 1))
end
return 1
`)

// SetToken points the user's session sid at its new token after
// RenewToken.
func (x *Index) SetToken(ctx context.Context, userID, sid, token string) error {
	f, ok := field(sid)
	if !ok {
		return nil
	}
	if err := x.moveLegacy(ctx, userID); err != nil {
		return err
	}
	moved := append([]byte{movedKind}, storeHash(StoreKey(token))...)
	_, err := x.script(ctx, setTokenScript, userKey(userID), f, hashValue(token), moved)
	return err
}

// entries returns the user's index, moving an old one in first.
func (x *Index) entries(ctx context.Context, userID string) ([]entry, error) {
	all, err := x.entriesOf(ctx, []string{userID})
	if err != nil {
		return nil, err
	}
	return all[0], nil
}

// entriesOf returns the indexes of several users: one round trip, and
// more for those whose old index is moved first.
func (x *Index) entriesOf(ctx context.Context, userIDs []string) ([][]entry, error) {
	var cmds []command
	for _, id := range userIDs {
		uk := userKey(id)
		cmds = append(cmds, command{key: uk, name: "HGETALL", args: []any{uk}})
		if x.legacy {
			cmds = append(cmds, command{key: uk, name: "EXISTS", args: []any{legacyUserKey(id)}})
		}
	}
	replies, err := x.batch(ctx, cmds)
	if err != nil {
		return nil, err
	}
	out := make([][]entry, len(userIDs))
	step := 1
	if x.legacy {
		step = 2
	}
	for i, id := range userIDs {
		reply := replies[step*i]
		if x.legacy {
			if n, _ := redigo.Int(replies[step*i+1], nil); n == 1 {
				if err := x.moveLegacy(ctx, id); err != nil {
					return nil, err
				}
				if reply, err = x.do(ctx, userKey(id), "HGETALL", userKey(id)); err != nil {
					return nil, err
				}
			}
		}
		m, err := redigo.StringMap(reply, nil)
		if err != nil {
			return nil, unavailableIndex(err)
		}
		for f, v := range m {
			out[i] = append(out[i], parseEntry(f, v))
		}
	}
	return out, nil
}

// removeScript removes entries that still hold the values they were read
// with (a renewal may have pointed one elsewhere since) and returns the
// fields it removed. KEYS[1] the user's hash. ARGV: field, value, ...
var removeScript = redigo.NewScript(1, `
local out = {}
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i+1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    table.insert(out, ARGV[i])
  end
end
return out
`)

// remove removes es from the user's index unless they changed, and
// returns those it removed.
func (x *Index) remove(ctx context.Context, userID string, es []entry) ([]entry, error) {
	if len(es) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 2*len(es))
	for _, e := range es {
		args = append(args, e.field, e.value)
	}
	fs, err := redigo.Strings(x.script(ctx, removeScript, userKey(userID), args...))
	if err != nil {
		return nil, unavailableIndex(err)
	}
	var out []entry
	for _, e := range es {
		if slices.Contains(fs, e.field) {
			out = append(out, e)
		}
	}
	return out, nil
}

// end replaces the data of es by tombstones saying why, then removes their
// entries, and returns the public ids of those it ended. An entry renewed meanwhile is read again and
// ended too. Deleting the data first means a failure never leaves a live
// session out of the list.
func (x *Index) end(ctx context.Context, userID string, es []entry, why EndReason) ([]string, error) {
	var ids []string
	for attempt := 0; len(es) > 0; attempt++ {
		var cmds []command
		for _, e := range es {
			for _, k := range e.keys {
				// The data becomes a tombstone (tombstone.go); XX leaves
				// alone a key that is gone, KEEPTTL keeps its expiry.
				cmds = append(cmds, command{key: k, name: "SET", args: []any{k, why.tombstone(), "XX", "KEEPTTL"}})
			}
		}
		if _, err := x.batch(ctx, cmds); err != nil {
			return ids, err
		}
		done, err := x.remove(ctx, userID, es)
		if err != nil {
			return ids, err
		}
		for _, e := range done {
			ids = append(ids, e.sid)
		}
		if len(done) == len(es) || attempt == 2 {
			break
		}
		again, err := x.entries(ctx, userID)
		if err != nil {
			return ids, err
		}
		es = slices.DeleteFunc(again, func(a entry) bool {
			return !slices.ContainsFunc(es, func(e entry) bool { return e.field == a.field }) ||
				slices.ContainsFunc(done, func(e entry) bool { return e.field == a.field })
		})
	}
	return ids, nil
}

// List returns the user's live sessions, newest first, pruning the index
// of the rest: the index, then each session's data.
func (x *Index) List(ctx context.Context, userID string) ([]Info, error) {
	es, err := x.entries(ctx, userID)
	if err != nil {
		return nil, err
	}
	var cmds []command
	for _, e := range es {
		for _, k := range e.keys {
			cmds = append(cmds, command{key: k, name: "GET", args: []any{k}}, command{key: k, name: "PTTL", args: []any{k}})
		}
	}
	replies, err := x.batch(ctx, cmds)
	if err != nil {
		return nil, err
	}
	now := x.now()
	var out []Info
	var dead []entry
	i := 0
	for _, e := range es {
		var data []byte
		var ttl int64
		for range e.keys {
			if b, err := redigo.Bytes(replies[i], nil); err == nil && data == nil {
				data = b
				ttl, _ = redigo.Int64(replies[i+1], nil)
			}
			i += 2
		}
		if data == nil {
			dead = append(dead, e)
			continue
		}
		info := Info{ID: e.sid, UserID: userID}
		if ttl > 0 {
			info.ExpiresAt = now.Add(time.Duration(ttl) * time.Millisecond).UTC()
		}
		if _, values, err := (Codec{}).Decode(data); err == nil {
			if r, ok := values[RecordKey].(*Record); ok {
				info.Created, info.AuthAt, info.LastSeen = r.AuthAt, r.AuthAt, r.Seen
				info.IP, info.Device, info.Remember = r.IP, r.Device, r.Remember
			}
		}
		if m := e.moved; m != nil {
			info.Created, info.Remember = m.Created, m.Remember
			if info.IP == "" && info.Device == "" {
				info.IP, info.Device = m.IP, m.Device
			}
		}
		out = append(out, info)
	}
	if _, err := x.remove(ctx, userID, dead); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Info) int { return b.Created.Compare(a.Created) }) // newest first
	return out, nil
}

// Revoke ends the user's session sid: its data is deleted, so its cookie is
// anonymous from the next request on, on every instance. It reports whether
// the user's index listed such a session.
func (x *Index) Revoke(ctx context.Context, userID, sid string) (bool, error) {
	f, ok := field(sid)
	if !ok {
		return false, nil
	}
	es, err := x.entries(ctx, userID)
	if err != nil {
		return false, err
	}
	i := slices.IndexFunc(es, func(e entry) bool { return e.field == f })
	if i < 0 {
		return false, nil
	}
	ids, err := x.end(ctx, userID, es[i:i+1], EndedElsewhere)
	return len(ids) > 0, err
}

// RevokeAll ends every session of the user except keep ("" for none), for
// the reason why, and returns the ids it ended.
func (x *Index) RevokeAll(ctx context.Context, userID, keep string, why EndReason) ([]string, error) {
	es, err := x.entries(ctx, userID)
	if err != nil {
		return nil, err
	}
	es = slices.DeleteFunc(es, func(e entry) bool { return e.sid == keep })
	return x.end(ctx, userID, es, why)
}

// Remove forgets sid after its session was destroyed (logout).
func (x *Index) Remove(ctx context.Context, userID, sid string) error {
	_, err := x.Revoke(ctx, userID, sid)
	return err
}

// Counts returns how many live sessions each of the users has, pruning
// the rest.
func (x *Index) Counts(ctx context.Context, userIDs []string) ([]int, error) {
	all, err := x.entriesOf(ctx, userIDs)
	if err != nil {
		return nil, err
	}
	var es []entry
	for _, e := range all {
		es = append(es, e...)
	}
	_, dead, err := x.alive(ctx, es)
	if err != nil {
		return nil, err
	}
	n := make([]int, len(userIDs))
	for i, e := range all {
		var gone []entry
		for _, d := range dead {
			if slices.ContainsFunc(e, func(a entry) bool { return a.field == d.field && a.value == d.value }) {
				gone = append(gone, d)
			}
		}
		if _, err := x.remove(ctx, userIDs[i], gone); err != nil {
			return nil, err
		}
		n[i] = len(e) - len(gone)
	}
	return n, nil
}

// alive splits es into the sessions whose data exists and the others.
func (x *Index) alive(ctx context.Context, es []entry) (live, dead []entry, err error) {
	var cmds []command
	for _, e := range es {
		for _, k := range e.keys {
			// A tombstone is not a session (tombstone.go).
			cmds = append(cmds, command{key: k, name: "STRLEN", args: []any{k}})
		}
	}
	replies, err := x.batch(ctx, cmds)
	if err != nil {
		return nil, nil, err
	}
	i := 0
	for _, e := range es {
		found := false
		for range e.keys {
			if n, _ := redigo.Int(replies[i], nil); n > tombstoneLen {
				found = true
			}
			i++
		}
		if found {
			live = append(live, e)
		} else {
			dead = append(dead, e)
		}
	}
	return live, dead, nil
}

// Trim ends the user's least recently seen sessions beyond max, never
// keep (the session being signed in, whose data is not stored yet), and
// returns their ids, after pruning the index of sessions that ended.
func (x *Index) Trim(ctx context.Context, userID, keep string, max int) ([]string, error) {
	es, err := x.entries(ctx, userID)
	if err != nil || len(es) <= max {
		return nil, err
	}
	var cmds []command
	for _, e := range es {
		for _, k := range e.keys {
			cmds = append(cmds, command{key: k, name: "GET", args: []any{k}})
		}
	}
	replies, err := x.batch(ctx, cmds)
	if err != nil {
		return nil, err
	}
	type seen struct {
		e    entry
		last time.Time
	}
	var live []seen
	var dead []entry
	i := 0
	for _, e := range es {
		var data []byte
		for range e.keys {
			if b, err := redigo.Bytes(replies[i], nil); err == nil && data == nil {
				data = b
			}
			i++
		}
		switch {
		case e.sid == keep:
			live = append(live, seen{e, time.Unix(1<<40, 0)})
		case data == nil || len(data) == tombstoneLen:
			dead = append(dead, e)
		default:
			s := seen{e: e}
			if _, values, err := (Codec{}).Decode(data); err == nil {
				if r, ok := values[RecordKey].(*Record); ok {
					s.last = r.Seen
				}
			}
			live = append(live, s)
		}
	}
	if _, err := x.remove(ctx, userID, dead); err != nil {
		return nil, err
	}
	if len(live) <= max {
		return nil, nil
	}
	slices.SortStableFunc(live, func(a, b seen) int { return a.last.Compare(b.last) })
	victims := make([]entry, 0, len(live)-max)
	for _, s := range live[:len(live)-max] {
		victims = append(victims, s.e)
	}
	return x.end(ctx, userID, victims, EndedElsewhere)
}

// TouchResult is what Touch did.
type TouchResult int

const (
	// TouchLost: another request touched the session first, in this
	// interval; nothing was written.
	TouchLost TouchResult = iota
	// TouchDone: the session is touched, in Redis: its "last seen" and
	// expiry were rewritten in place. This request won the touch.
	TouchDone
	// TouchSave: this request should touch the session by saving its
	// touched record whole: it is stored in a format the touch cannot
	// rewrite in place (as sessions stored before were).
	TouchSave
	// TouchGone: the session's data is gone (revoked meanwhile).
	TouchGone
)

// touchScript is the touch: it replaces the record's "last seen" (compact
// format, at seenOffset) and the data's expiry, if "last seen" is still
// what the request loaded. Of all the requests that find a touch due at
// once, on every instance, one wins. KEYS[1] the data. ARGV: loaded and
// new "last seen" bytes, expiry ms. Returns 0 gone, 1 lost, 2 not in the
// compact format, 3 done.
var touchScript = redigo.NewScript(1, fmt.Sprintf(`
local head = redis.call('GETRANGE', KEYS[1], 0, %d)
if head == '' or string.byte(head, 1) == 0 then return 0 end
if string.byte(head, 1) ~= %d or #head < %d then return 2 end
if string.sub(head, %d) ~= ARGV[1] then return 1 end
redis.call('SETRANGE', KEYS[1], %d, ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 3
`, seenOffset+seenSize-1, compactMagic, seenOffset+seenSize, seenOffset+1, seenOffset))

// Touch claims the touch of the session whose cookie is token and whose
// record, as loaded, is rec: it sets "last seen" to seen and the expiry of
// its data to exp, in one round trip, unless another request did since rec
// was loaded. Only the request that gets TouchDone (or TouchSave) goes on
// to recheck the user.
func (x *Index) Touch(ctx context.Context, token string, rec *Record, seen, exp time.Time) (TouchResult, error) {
	from, ok1 := touchSeen(rec.AuthAt, rec.Seen)
	to, ok2 := touchSeen(rec.AuthAt, seen)
	if !ok1 || !ok2 {
		return TouchSave, nil
	}
	k := DataKey(token)
	res, err := redigo.Int(x.script(ctx, touchScript, k, from, to, ms(exp)))
	if err != nil {
		return TouchLost, unavailableIndex(err)
	}
	switch res {
	case 3:
		return TouchDone, nil
	case 2:
		return TouchSave, nil
	case 1:
		return TouchLost, nil
	}
	if !x.legacy {
		return TouchGone, nil
	}
	// Stored before: the request saves it at its new key, and the
	// index moves along.
	n, err := redigo.Int(x.do(ctx, k, "EXISTS", legacyDataKey(StoreKey(token))))
	if err != nil {
		return TouchLost, err
	}
	if n == 0 {
		return TouchGone, nil
	}
	if err := x.moveLegacy(ctx, rec.UserID); err != nil {
		return TouchLost, err
	}
	return TouchSave, nil
}

// moveLegacy moves the user's old index, if any, into the user's hash. On
// a cluster there is none.
func (x *Index) moveLegacy(ctx context.Context, userID string) error {
	if !x.legacy {
		return nil
	}
	lk, uk := legacyUserKey(userID), userKey(userID)
	ids, err := redigo.Strings(x.do(ctx, uk, "ZRANGE", lk, 0, -1))
	if err != nil || len(ids) == 0 {
		return err
	}
	cmds := make([]command, len(ids))
	for i, id := range ids {
		cmds[i] = command{key: uk, name: "HGETALL", args: []any{legacyMetaKey(id)}}
	}
	metas, err := x.batch(ctx, cmds)
	if err != nil {
		return err
	}
	type old struct {
		field, value string
		keys         [2]string
	}
	var olds []old
	for i, id := range ids {
		m, _ := redigo.StringMap(metas[i], nil)
		f, ok := field(id)
		hash, err := base64.RawURLEncoding.DecodeString(m["key"])
		if !ok || m["uid"] != userID || err != nil || len(hash) != 32 {
			continue
		}
		t := func(k string) time.Time {
			var n int64
			_, _ = fmt.Sscan(m[k], &n)
			return time.UnixMilli(n).UTC()
		}
		facts := movedFacts{Created: t("created"), AuthAt: t("auth"), Remember: m["remember"] == "1", IP: m["ip"], Device: m["device"]}
		v := facts.append(append([]byte{movedKind}, hash...))
		olds = append(olds, old{field: f, value: string(v), keys: [2]string{dataPrefix + string(hash[:dataHashLen]), legacyDataPrefix + m["key"]}})
	}
	// Keep the user's hash as long as the longest of these sessions can
	// live: its data's deadline, or else as long as the old index.
	cmds = cmds[:0]
	for _, o := range olds {
		cmds = append(cmds, command{key: uk, name: "GET", args: []any{o.keys[0]}}, command{key: uk, name: "GET", args: []any{o.keys[1]}})
	}
	cmds = append(cmds, command{key: uk, name: "PEXPIRETIME", args: []any{lk}})
	datas, err := x.batch(ctx, cmds)
	if err != nil {
		return err
	}
	args := []any{}
	var ends time.Time
	if n, _ := redigo.Int64(datas[len(datas)-1], nil); n > 0 {
		ends = time.UnixMilli(n)
	}
	for i, o := range olds {
		for _, d := range datas[2*i : 2*i+2] {
			b, err := redigo.Bytes(d, nil)
			if err != nil {
				continue
			}
			if deadline, _, err := (Codec{}).Decode(b); err == nil && deadline.After(ends) {
				ends = deadline
			}
			args = append(args, o.field, o.value)
			break
		}
	}
	if ends.IsZero() {
		ends = x.now().Add(30 * 24 * time.Hour)
	}
	c, err := x.conns.Conn(ctx, uk)
	if err != nil {
		return unavailableIndex(err)
	}
	defer c.Close()
	_ = c.Send("MULTI")
	if len(args) > 0 {
		_ = c.Send("HSET", append([]any{uk}, args...)...)
		_ = c.Send("PEXPIREAT", uk, ms(ends), "NX")
		_ = c.Send("PEXPIREAT", uk, ms(ends), "GT")
	}
	dels := []any{lk}
	for _, id := range ids {
		dels = append(dels, legacyMetaKey(id))
	}
	_ = c.Send("DEL", dels...)
	_, err = redigo.DoContext(c, ctx, "EXEC")
	return unavailableIndex(err)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
