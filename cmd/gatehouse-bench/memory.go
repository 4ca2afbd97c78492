package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/gatehouse/gatehouse/internal/embedded"
	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse/gatehouse/internal/user"
)

// targetBytes is the bound on Redis bytes per session, index
// included, for 1,000 users with 3 sessions each.
const targetBytes = 315

// memoryResult is Redis's memory per session for populations of
// sessions, each written three ways into an empty redis-server of its own:
// as bare token-to-username keys (the floor), in the layout before, and as
// Gatehouse writes them now.
type memoryResult struct {
	Populations []population `json:"populations"`
	Target      int          `json:"target_bytes"`
	TargetMet   bool         `json:"target_met"`
}

type population struct {
	Name     string `json:"name"`
	Users    int    `json:"users"`
	Sessions int    `json:"sessions_per_user"`
	// Bytes per session: the growth of Redis's allocated memory over the
	// population, divided by its sessions: everything Redis keeps for it
	// (keys, values, expiry entries, hash-table buckets), without the
	// connections' buffers and the script cache, which do not grow with
	// sessions (MEMORY STATS).
	Floor  float64 `json:"bare_token_key_bytes"`
	Before float64 `json:"old_layout_bytes"`
	After  float64 `json:"bytes_per_session"`
}

// measureMemory writes each population in each layout and measures it.
func measureMemory(ctx context.Context, dir string, logger *slog.Logger, progress func(string, ...any)) (memoryResult, error) {
	m := memoryResult{Target: targetBytes}
	srv, err := embedded.StartRedisServer(ctx, filepath.Join(dir, "memory"), 0, logger, "--appendonly", "no")
	if err != nil {
		return m, err
	}
	defer func() { _ = srv.Stop() }()
	pool, err := redis.NewPool(srv.URL, redis.Options{Timeout: 5 * time.Second, MaxActive: 4})
	if err != nil {
		return m, err
	}
	defer pool.Close()
	probe, err := dialProbe(ctx, srv.URL)
	if err != nil {
		return m, err
	}
	defer probe.close()

	for _, p := range []population{
		{Name: "1,000 users × 3 sessions", Users: 1000, Sessions: 3},
		{Name: "1 user × 1,000 sessions", Users: 1, Sessions: 1000},
	} {
		progress("memory: %s", p.Name)
		pop := newPopulation(p.Users, p.Sessions)
		n := float64(p.Users * p.Sessions)
		for _, w := range []struct {
			dst   *float64
			write func(context.Context, *redigo.Pool, []benchSession) error
		}{
			{&p.Floor, writeBare},
			{&p.Before, writeOld},
			{&p.After, writeNew},
		} {
			// The first write of each kind also pays for what Redis
			// allocates once (scripts, connections): measure the second.
			var grew int64
			for range 2 {
				if grew, err = probe.growth(ctx, func() error { return w.write(ctx, pool, pop) }); err != nil {
					return m, err
				}
			}
			*w.dst = float64(grew) / n
		}
		m.Populations = append(m.Populations, p)
	}
	m.TargetMet = m.Populations[0].After <= targetBytes
	return m, nil
}

// benchSession is one session of a population, as web's signIn makes it.
type benchSession struct {
	token string
	rec   session.Record
	ttl   time.Duration // until the idle deadline
}

// newPopulation makes users × perUser signed-in sessions of realistic
// size: 9-character usernames, accounts a year old, a previous sign-in
// the day before, an IPv4 address and a common browser.
func newPopulation(users, perUser int) []benchSession {
	now := time.Now().UTC()
	devices := []string{"Chrome on Windows", "Safari on iOS", "Firefox on Linux", "Chrome on Android", "Edge on Windows"}
	out := make([]benchSession, 0, users*perUser)
	for u := range users {
		var id [12]byte
		_, _ = rand.Read(id[:])
		stamp := user.NewStamp()
		for j := range perUser {
			var tok [32]byte
			_, _ = rand.Read(tok[:])
			sid, _ := session.NewID()
			at := now.Add(-time.Duration(j) * time.Second)
			out = append(out, benchSession{
				token: hex.EncodeToString(tok[:])[:43],
				rec: session.Record{UserID: hex.EncodeToString(id[:]), Username: fmt.Sprintf("user%05d", u), Role: "user", SID: sid,
					MemberSince: now.AddDate(-1, 0, 0), LastLogin: at.Add(-26 * time.Hour), AuthAt: at, Seen: at, Stamp: stamp,
					IP: "203.0.113." + strconv.Itoa(1+(u+j)%250), Device: devices[(u+j)%len(devices)], AMR: session.MethodPassword},
				ttl: 30 * time.Minute,
			})
		}
	}
	return out
}

// writeBare stores each session as the floor does: its username under
// "scs:session:" and its token, with the session's expiry.
func writeBare(ctx context.Context, pool *redigo.Pool, pop []benchSession) error {
	c, err := pool.GetContext(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, s := range pop {
		_ = c.Send("SET", bareKey(s.token), s.rec.Username, "PX", s.ttl.Milliseconds())
	}
	_, err = c.Do("")
	return err
}

// writeOld stores each session as Gatehouse did before this layout.
func writeOld(ctx context.Context, pool *redigo.Pool, pop []benchSession) error {
	c, err := pool.GetContext(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, s := range pop {
		r := s.rec
		l := sessiontest.Legacy{Token: s.token, UserID: r.UserID, Username: r.Username, Role: r.Role, SID: r.SID,
			MemberSince: r.MemberSince, LastLogin: r.LastLogin, AuthAt: r.AuthAt, Seen: r.Seen, Stamp: r.Stamp,
			IP: r.IP, Device: r.Device, Deadline: r.AuthAt.Add(24 * time.Hour), ExpiresAt: r.AuthAt.Add(s.ttl)}
		if err := sessiontest.Write(c, l); err != nil {
			return err
		}
	}
	return nil
}

// writeNew stores each session through Gatehouse's own store and index,
// as a sign-in does.
func writeNew(ctx context.Context, pool *redigo.Pool, pop []benchSession) error {
	store := session.NewStore(pool, 4)
	index := session.NewIndex(pool, time.Now)
	for _, s := range pop {
		r := s.rec
		deadline := r.AuthAt.Add(24 * time.Hour)
		b, err := session.Codec{}.Encode(deadline, map[string]any{session.RecordKey: &r})
		if err != nil {
			return err
		}
		if err := store.CommitCtx(ctx, session.StoreKey(s.token), b, r.AuthAt.Add(s.ttl)); err != nil {
			return err
		}
		info := session.Info{ID: r.SID, UserID: r.UserID, Created: r.AuthAt, AuthAt: r.AuthAt, LastSeen: r.Seen,
			ExpiresAt: r.AuthAt.Add(s.ttl), Ends: deadline, IP: r.IP, Device: r.Device}
		if err := index.Add(ctx, info, s.token); err != nil {
			return err
		}
	}
	return nil
}

// growth empties Redis, runs write, and returns by how much used_memory
// grew, once Redis has finished resizing its hash tables.
func (p *redisProbe) growth(ctx context.Context, write func() error) (int64, error) {
	if _, err := p.c.Do("FLUSHALL", "SYNC"); err != nil {
		return 0, err
	}
	before, err := p.settledMemory(ctx)
	if err != nil {
		return 0, err
	}
	if err := write(); err != nil {
		return 0, err
	}
	after, err := p.settledMemory(ctx)
	if err != nil {
		return 0, err
	}
	return after - before, nil
}

// settledMemory returns the memory Redis has allocated, less its
// connections' buffers and script caches, once two readings 200 ms apart
// agree (a growing hash table moves its entries over a few server
// cycles), or the last reading after two seconds.
func (p *redisProbe) settledMemory(ctx context.Context) (int64, error) {
	last := int64(-1)
	for range 10 {
		stats, err := redigo.Values(p.c.Do("MEMORY", "STATS"))
		if err != nil {
			return 0, err
		}
		var n int64
		for i := 0; i+1 < len(stats); i += 2 {
			k, _ := redigo.String(stats[i], nil)
			v, _ := redigo.Int64(stats[i+1], nil)
			switch k {
			case "total.allocated":
				n += v
			case "clients.normal", "lua.caches", "functions.caches":
				n -= v
			}
		}
		if n == last {
			return n, nil
		}
		last = n
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return last, nil
}
