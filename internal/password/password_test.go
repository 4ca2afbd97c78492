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

// TestRehashNeverLowers: Verify asks for a rehash only when the current
// parameters are at least as strong as the stored ones in every respect,
// and stronger in one. A hash made with more memory, more passes, a longer
// salt or a longer key (by an operator who raised them, or a newer
// instance in a rolling deploy) is never rehashed down to weaker ones.
func TestRehashNeverLowers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stored func(*Params)
		want   bool
	}{
		{"same", func(*Params) {}, false},
		{"fewer passes", func(p *Params) { p.Iterations = 1 }, true},
		{"less memory", func(p *Params) { p.Memory = 64 }, true},
		{"shorter salt", func(p *Params) { p.SaltLength = 8 }, true},
		{"shorter key", func(p *Params) { p.KeyLength = 16 }, true},
		{"weaker in all", func(p *Params) { p.Memory, p.Iterations, p.SaltLength, p.KeyLength = 64, 1, 8, 16 }, true},
		{"more memory", func(p *Params) { p.Memory = 256 }, false},
		{"more passes", func(p *Params) { p.Iterations = 3 }, false},
		{"longer salt", func(p *Params) { p.SaltLength = 32 }, false},
		{"longer key", func(p *Params) { p.KeyLength = 64 }, false},
		{"more memory, fewer passes", func(p *Params) { p.Memory, p.Iterations = 256, 1 }, false},
		{"fewer passes, longer key", func(p *Params) { p.Iterations, p.KeyLength = 1, 64 }, false},
		// Lanes split the same memory and passes; they are not strength.
		{"more lanes", func(p *Params) { p.Parallelism = 4 }, false},
		{"more lanes, less memory", func(p *Params) { p.Parallelism, p.Memory = 4, 64 }, true},
	}
	current := Params{Memory: 128, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	cur := newHasher(t, current)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := current
			tt.stored(&p)
			enc, err := newHasher(t, p).Hash("pw")
			if err != nil {
				t.Fatal(err)
			}
			ok, rehash, err := cur.Verify("pw", enc)
			if !ok || err != nil {
				t.Fatalf("Verify(%q) = %v, %v; want a match", enc, ok, err)
			}
			if rehash != tt.want {
				t.Errorf("stored %+v, current %+v: got needsRehash %v, want %v", p, current, rehash, tt.want)
			}
		})
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
