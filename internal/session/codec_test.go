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
// stamp still decode, with an empty stamp.
func TestCodecReadsVersion1Records(t *testing.T) {
	t.Parallel()
	rec := &Record{UserID: "u", Username: "ada", Role: "user", SID: "sid", AuthAt: time.Unix(1700000000, 0).UTC(), Seen: time.Unix(1700000060, 0).UTC()}
	v2, err := Codec{}.Encode(time.Unix(1700086400, 0), map[string]any{"signed_in": rec})
	if err != nil {
		t.Fatal(err)
	}
	// Version 1 is version 2 without the stamp, here an empty string
	// (one zero byte) at the very end.
	if v2[1] != 2 || v2[len(v2)-1] != 0 {
		t.Fatalf("unexpected version 2 layout: % x", v2)
	}
	v1 := append([]byte{v2[0], 1}, v2[2:len(v2)-1]...)
	_, got, err := Codec{}.Decode(v1)
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := got["signed_in"].(*Record); g == nil || *g != *rec {
		t.Fatalf("got %#v, want %#v", got["signed_in"], rec)
	}
	stamped := *rec
	stamped.Stamp = "s1"
	b, _ := Codec{}.Encode(time.Unix(1700086400, 0), map[string]any{"signed_in": &stamped})
	if _, got, err := (Codec{}).Decode(b); err != nil || *got["signed_in"].(*Record) != stamped {
		t.Fatalf("version 2 round trip: got %v, %v", got, err)
	}
}
