package session

import (
	"bytes"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	deadline := time.Date(2026, 11, 28, 5, 0, 0, 123456789, time.UTC)
	values := map[string]any{
		"user_id":      "6b091785de5046d2494114b2",
		"username":     "Ｊosé",
		"remember":     true,
		"off":          false,
		"count":        -42,
		"auth_at":      time.Date(2026, 11, 27, 5, 0, 0, 987654321, time.UTC),
		"previous":     time.Time{},
		"__rememberMe": false,
		"":             "empty key",
		"session": &Record{UserID: "6b091785de5046d2494114b2", Username: "Ｊosé", Role: "admin", SID: "sid",
			MemberSince: time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC), AuthAt: time.Date(2026, 11, 27, 5, 0, 0, 1, time.UTC),
			Seen: time.Date(2026, 11, 27, 5, 1, 0, 0, time.UTC), Remember: true},
		"signed out": &Record{},
	}
	b, err := Codec{}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	gotDeadline, got, err := Codec{}.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !gotDeadline.Equal(deadline) || len(got) != len(values) {
		t.Fatalf("got %v %v", gotDeadline, got)
	}
	for k, want := range values {
		switch w := want.(type) {
		case time.Time:
			if g, ok := got[k].(time.Time); !ok || !g.Equal(w) || g.IsZero() != w.IsZero() {
				t.Errorf("%q: got %#v, want %v", k, got[k], w)
			}
		case *Record:
			g, ok := got[k].(*Record)
			if !ok || *g != *w || !g.LastLogin.IsZero() || !g.ReauthAt.IsZero() {
				t.Errorf("%q: got %#v, want %#v", k, got[k], w)
			}
		default:
			if got[k] != want {
				t.Errorf("%q: got %#v, want %#v", k, got[k], want)
			}
		}
	}
	// Deterministic.
	b2, _ := Codec{}.Encode(deadline, values)
	if !bytes.Equal(b, b2) {
		t.Fatal("two encodings of the same session differ")
	}
	// Smaller than gob.
	g, _ := scs.GobCodec{}.Encode(deadline, values)
	t.Logf("compact %d bytes, gob %d bytes", len(b), len(g))
	if len(b)*2 > len(g) {
		t.Errorf("compact encoding (%d bytes) is not under half of gob's (%d)", len(b), len(g))
	}
}

func TestCodecRejectsUnknownTypes(t *testing.T) {
	t.Parallel()
	if _, err := (Codec{}).Encode(time.Now(), map[string]any{"x": 1.5}); err == nil {
		t.Fatal("a float was encoded")
	}
	if _, err := (Codec{}).Encode(time.Now(), map[string]any{"r": (*Record)(nil)}); err == nil {
		t.Fatal("a nil *Record was encoded")
	}
}

// TestCodecReadsGob: sessions written by scs's GobCodec before the switch
// still load.
func TestCodecReadsGob(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	b, err := scs.GobCodec{}.Encode(deadline, map[string]any{"user_id": "u1", "auth_at": deadline})
	if err != nil {
		t.Fatal(err)
	}
	d, v, err := Codec{}.Decode(b)
	if err != nil || !d.Equal(deadline) || v["user_id"] != "u1" {
		t.Fatalf("got %v %v %v", d, v, err)
	}
}

func TestCodecRejectsCorruptData(t *testing.T) {
	t.Parallel()
	good, _ := Codec{}.Encode(time.Now(), map[string]any{"user_id": "u1", "n": 3, "t": time.Now(),
		"r": &Record{UserID: "u1", AuthAt: time.Now(), Remember: true}})
	for i := range len(good) {
		if _, _, err := (Codec{}).Decode(good[:i]); err == nil && i > 0 {
			t.Errorf("truncated to %d bytes: decoded", i)
		}
	}
	for _, b := range [][]byte{
		{'G'}, {'G', 9}, {'G', 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		append(append([]byte{}, good...), 0),
	} {
		if _, _, err := (Codec{}).Decode(b); err == nil {
			t.Errorf("Decode(%x) succeeded", b)
		}
	}
}

func FuzzCodecDecode(f *testing.F) {
	good, _ := Codec{}.Encode(time.Unix(1e9, 0), map[string]any{"user_id": "u1", "remember": true, "auth_at": time.Unix(2e9, 5),
		"session": &Record{UserID: "u1", Username: "ada", AuthAt: time.Unix(2e9, 5), Seen: time.Unix(2e9, 6)}})
	f.Add(good)
	compact, _ := Codec{}.Encode(time.Unix(2e9+86400, 0), map[string]any{"flash": "hi", RecordKey: &Record{UserID: "6b091785de5046d2494114b2",
		Username: "ada", Role: "user", SID: "AAAAAAAAAAAAAAAAAAAAAA", MemberSince: time.Unix(1e9, 0), AuthAt: time.Unix(2e9, 0),
		Seen: time.Unix(2e9+60, 0), Stamp: "q2wTQ0HkL8Yb7x5e0sZc1w", IP: "192.0.2.1", Device: "curl"}})
	f.Add(compact)
	f.Add([]byte{})
	f.Add([]byte("G\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, v, err := Codec{}.Decode(b)
		if err != nil {
			return
		}
		// What decodes re-encodes and decodes to the same.
		again, err := Codec{}.Encode(d, v)
		if err != nil {
			t.Fatalf("decoded values do not re-encode: %v", err)
		}
		d2, v2, err := Codec{}.Decode(again)
		if err != nil || !d2.Equal(d) || len(v2) != len(v) {
			t.Fatalf("round trip changed the session: %v %v -> %v %v (%v)", d, v, d2, v2, err)
		}
	})
}

// TestCodecReadsVersion1Records: sessions stored before records had a
// stamp, an IP and device, or methods (AMR), still decode, with those
// empty.
func TestCodecReadsVersion1Records(t *testing.T) {
	t.Parallel()
	rec := &Record{UserID: "u", Username: "ada", Role: "user", SID: "sid", AuthAt: time.Unix(1700000000, 0).UTC(), Seen: time.Unix(1700000060, 0).UTC()}
	v4, err := encodeGeneral(time.Unix(1700086400, 0), map[string]any{"signed_in": rec})
	if err != nil {
		t.Fatal(err)
	}
	// Version 3 is version 4 without the methods byte, version 2 also
	// without the IP and device, and version 1 also without the stamp:
	// here a zero byte each, at the very end.
	if v4[1] != 4 || !bytes.HasSuffix(v4, []byte{0, 0, 0, 0}) {
		t.Fatalf("unexpected version 4 layout: % x", v4)
	}
	for version, cut := range map[byte]int{1: 4, 2: 3, 3: 1} {
		old := append([]byte{v4[0], version}, v4[2:len(v4)-cut]...)
		_, got, err := Codec{}.Decode(old)
		if err != nil {
			t.Fatal(err)
		}
		if g, _ := got["signed_in"].(*Record); g == nil || *g != *rec {
			t.Fatalf("version %d: got %#v, want %#v", version, got["signed_in"], rec)
		}
	}
	stamped := *rec
	stamped.Stamp, stamped.IP, stamped.Device, stamped.AMR = "s1", "192.0.2.1", "curl", MethodPassword|MethodOTP
	b, _ := Codec{}.Encode(time.Unix(1700086400, 0), map[string]any{"signed_in": &stamped})
	if _, got, err := (Codec{}).Decode(b); err != nil || *got["signed_in"].(*Record) != stamped {
		t.Fatalf("version 4 round trip: got %v, %v", got, err)
	}
}

// TestCompactRecord: a signed-in session is stored in the compact format,
// small enough for Redis's 80-byte size class (which holds up to 76 bytes
// of value), and reads back to the second, with 64 bits of its stamp.
func TestCompactRecord(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 10, 11, 12, 345678901, time.UTC)
	sid, _ := NewID()
	stamp := "q2wTQ0HkL8Yb7x5e0sZc1w"
	base := Record{UserID: "6b091785de5046d2494114b2", Username: "margaret_h", Role: "user", SID: sid,
		MemberSince: now.AddDate(-1, 0, 0), LastLogin: now.Add(-26 * time.Hour), AuthAt: now, Seen: now.Add(90 * time.Second),
		Stamp: stamp, IP: "203.0.113.42", Device: "Firefox on Linux", AMR: MethodPassword}
	admin := base
	admin.Role, admin.Remember, admin.ReauthAt, admin.IP, admin.Device, admin.AMR = "admin", true, now.Add(time.Hour), "2001:db8::1", "Lynx on Plan 9", MethodPassword|MethodWebAuthn|MethodUserVerified
	odd := base
	odd.UserID, odd.SID, odd.Stamp, odd.Role, odd.IP, odd.LastLogin = "u1", "sid", "", "auditor", "", time.Time{}
	for name, tt := range map[string]struct {
		rec    Record
		values map[string]any
		max    int
	}{
		"typical":      {base, nil, 76},
		"admin, flash": {admin, map[string]any{"flash": "Welcome back.", "n": 3}, 0},
		"odd ids":      {odd, nil, 0},
	} {
		t.Run(name, func(t *testing.T) {
			deadline := now.Add(24 * time.Hour)
			values := map[string]any{RecordKey: &tt.rec}
			for k, v := range tt.values {
				values[k] = v
			}
			b, err := Codec{}.Encode(deadline, values)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != compactMagic {
				t.Fatalf("not the compact format: % x", b)
			}
			if tt.max > 0 && len(b) > tt.max {
				t.Errorf("%d bytes, want at most %d", len(b), tt.max)
			}
			t.Logf("%d bytes", len(b))
			gotDeadline, got, err := Codec{}.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !gotDeadline.Equal(deadline.Truncate(time.Second)) || len(got) != len(values) {
				t.Fatalf("got %v %v", gotDeadline, got)
			}
			want := tt.rec
			for _, p := range []*time.Time{&want.MemberSince, &want.LastLogin, &want.AuthAt, &want.ReauthAt, &want.Seen} {
				if !p.IsZero() {
					*p = p.Truncate(time.Second)
				}
			}
			if s, ok := stampPrefix(want.Stamp); ok {
				want.Stamp = s
			}
			r := got[RecordKey].(*Record)
			if *r != want {
				t.Fatalf("got  %+v\nwant %+v", *r, want)
			}
			if !r.SameStamp(tt.rec.Stamp) || (tt.rec.Stamp != "" && r.SameStamp("AAAAAAAAAAAAAAAAAAAAAA")) {
				t.Errorf("SameStamp: stored %q, signed in with %q", r.Stamp, tt.rec.Stamp)
			}
			for k, v := range tt.values {
				if got[k] != v {
					t.Errorf("%s: got %v, want %v", k, got[k], v)
				}
			}
			again, _ := Codec{}.Encode(gotDeadline, got)
			if !bytes.Equal(again, b) {
				t.Errorf("re-encoding what was read changed it:\n% x\n% x", b, again)
			}
		})
	}
	// A record the compact format cannot carry goes in the general one.
	zero := base
	zero.MemberSince = time.Time{}
	b, err := Codec{}.Encode(now, map[string]any{RecordKey: &zero})
	if err != nil || b[0] != codecMagic {
		t.Fatalf("got % x, %v; want the general format", b, err)
	}
}
