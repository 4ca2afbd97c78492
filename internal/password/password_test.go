package password

import (
	"strings"
	"testing"
)

// fast keeps the tests quick; the format and logic are the same as OWASP's.
var fast = Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func newHasher(t *testing.T, p Params) *Hasher {
	t.Helper()
	h, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashVerify(t *testing.T) {
	t.Parallel()
	h := newHasher(t, fast)
	enc, err := h.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("got %q, want a PHC argon2id string", enc)
	}
	tests := []struct {
		password string
		want     bool
	}{
		{"correct horse", true},
		{"correct horsE", false},
		{"", false},
		{"correct horse ", false},
	}
	for _, tt := range tests {
		got, rehash, err := h.Verify(tt.password, enc)
		if err != nil || got != tt.want || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want %v, false, nil", tt.password, got, rehash, err, tt.want)
		}
	}
}

func TestSaltIsRandom(t *testing.T) {
	t.Parallel()
	h := newHasher(t, fast)
	a, _ := h.Hash("same")
	b, _ := h.Hash("same")
	if a == b {
		t.Fatalf("two hashes of one password are equal: %q", a)
	}
}

func TestOWASPDefaults(t *testing.T) {
	t.Parallel()
	h := newHasher(t, OWASP)
	enc, err := h.Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("got %q, want OWASP parameters m=19456,t=2,p=1", enc)
	}
}

func TestNeedsRehash(t *testing.T) {
	t.Parallel()
	old := newHasher(t, fast)
	enc, _ := old.Hash("pw")
	stronger := fast
	stronger.Iterations = 2
	cur := newHasher(t, stronger)
	ok, rehash, err := cur.Verify("pw", enc)
	if !ok || !rehash || err != nil {
		t.Fatalf("got %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	h := newHasher(t, fast)
	good, _ := h.Hash("pw")
	parts := strings.Split(good, "$")
	for _, enc := range []string{
		"",
		"plaintext",
		"$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=18$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=99999999,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=0,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$!!!$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$",
		good + "$extra",
	} {
		if ok, _, err := h.Verify("pw", enc); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformed", enc, ok, err)
		}
	}
}

func TestVerifyDummy(t *testing.T) {
	t.Parallel()
	h := newHasher(t, fast)
	if h.dummy == "" {
		t.Fatal("no dummy hash")
	}
	if _, _, err := h.Verify("x", h.dummy); err != nil {
		t.Fatalf("dummy hash does not parse: %v", err)
	}
	h.VerifyDummy("anything") // must not panic
}

func BenchmarkVerifyOWASP(b *testing.B) {
	h, _ := New(OWASP)
	enc, _ := h.Hash("benchmark password")
	b.Run("real", func(b *testing.B) {
		for b.Loop() {
			h.Verify("benchmark password", enc)
		}
	})
	b.Run("dummy", func(b *testing.B) {
		for b.Loop() {
			h.VerifyDummy("benchmark password")
		}
	})
}
