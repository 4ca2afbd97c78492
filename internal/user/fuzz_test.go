package user

import (
	"errors"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzNormalizeUsername: any input either fails with a username
// ValidationError or yields a name that follows the rules and is a fixed
// point (normalising it again changes nothing).
func FuzzNormalizeUsername(f *testing.F) {
	for _, s := range []string{"alice", "ALICE", "Ａｌｉｃｅ", "a.b_c-d", "José", " x ", "", "ab", "\u0130stanbul", "ß", "ﬁ", "Ⅻ", "a\u0301b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		norm, err := NormalizeUsername(in)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "username" || ve.Message == "" {
				t.Fatalf("NormalizeUsername(%q): got %v, want a username ValidationError", in, err)
			}
			return
		}
		if n := utf8.RuneCountInString(norm); n < UsernameMinLen || n > UsernameMaxLen {
			t.Fatalf("NormalizeUsername(%q) = %q: %d characters", in, norm, n)
		}
		for _, r := range norm {
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '.' && r != '_' && r != '-' {
				t.Fatalf("NormalizeUsername(%q) = %q holds %q", in, norm, r)
			}
		}
		again, err := NormalizeUsername(norm)
		if err != nil || again != norm {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, norm, again, err)
		}
	})
}
