package user

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeUsername(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		field    bool // want a ValidationError
	}{
		{"alice", "alice", false},
		{"Alice", "alice", false},
		{"ALICE", "alice", false},
		{"Ａｌｉｃｅ", "alice", false}, // full-width lookalike
		{"  bob  ", "bob", false},
		{"a.b_c-d", "a.b_c-d", false},
		{"José", "josé", false},
		{"abc", "abc", false},
		{strings.Repeat("x", 32), strings.Repeat("x", 32), false},
		{"", "", true},
		{"ab", "", true},
		{strings.Repeat("x", 33), "", true},
		{strings.Repeat("x", 1000), "", true},
		{"has space", "", true},
		{"semi;colon", "", true},
		{"<script>", "", true},
		{"a\x00b", "", true},
		{"emoji😀x", "", true},
		{"$ne", "", true},
	}
	for _, tt := range tests {
		got, err := NormalizeUsername(tt.in)
		var ve *ValidationError
		if tt.field {
			if !errors.As(err, &ve) || ve.Field != "username" {
				t.Errorf("NormalizeUsername(%q) = %q, %v; want a username ValidationError", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // part of the message; "" for no error
	}{
		{"eight digits, not common", "27182818", ""},
		{"too short", "1234567", "at least 8 characters"},
		{"empty", "", "at least 8 characters"},
		{"longest", strings.Repeat("p", 256), ""},
		{"too long", strings.Repeat("p", 257), "at most 256 characters"},
		{"characters, not bytes", strings.Repeat("é", 8), ""},
		{"not UTF-8", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", "without tabs"},
		// The Django list (Royce Williams'), case-insensitively.
		{"common", "password123", "less common"},
		{"common, upper case", "PASSWORD123", "less common"},
		{"common, mixed case", "PassWord123", "less common"},
		{"common, spaces around", "  password123 ", "less common"},
		{"common digits", "12345678", "less common"},
		{"common, last long one in the file", "desadesa", "less common"},
		{"common word with a twist", "password123!x", ""},
		// PRECIS OpaqueString (RFC 8265): NFC, other spaces as ASCII
		// space, no control or invisible characters.
		{"emoji and spaces", "mañana 🌅 at six", ""},
		{"short once composed", strings.Repeat("n\u0303", 4), "at least 8 characters"},
		{"tab", "tab\tseparated", "tabs, line breaks or invisible characters"},
		{"line break", "two\nlines!", "tabs, line breaks or invisible characters"},
		{"NUL", "nul\x00inside", "tabs, line breaks or invisible characters"},
		{"zero-width space", "zero\u200bwidth", "tabs, line breaks or invisible characters"},
		{"right-to-left override", "evil\u202eright", "tabs, line breaks or invisible characters"},
		{"too long before normalising", strings.Repeat("n\u0303", 200), "at most 256 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidatePassword(tt.in)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ValidatePassword(%q) = %v, want nil", tt.in, err)
				}
				return
			}
			ve, ok := errors.AsType[*ValidationError](err)
			if !ok || ve.Field != "password" || !strings.Contains(ve.Message, tt.want) {
				t.Fatalf("ValidatePassword(%q) = %v, want a password ValidationError saying %q", tt.in, err, tt.want)
			}
		})
	}
}

// TestCommonPasswordsList: the embedded list loads, is the Django list of
// about 20,000 (at least the 10,000 most common), and every entry long
// enough to be a password is refused.
func TestCommonPasswordsList(t *testing.T) {
	t.Parallel()
	list := commonPasswords()
	if len(list) < 10000 {
		t.Fatalf("got %d common passwords, want at least 10,000", len(list))
	}
	refused := 0
	for pw := range list {
		if utf8.RuneCountInString(pw) < PasswordMinLen {
			continue
		}
		if err := ValidatePassword(pw); err == nil {
			t.Errorf("ValidatePassword(%q) = nil, want too common", pw)
		} else {
			refused++
		}
	}
	t.Logf("%d passwords in the list, %d of them long enough to refuse", len(list), refused)
}

func TestSamePassword(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"ma\u00f1ana-2026", "man\u0303ana-2026", true},
		{"correct horse", "correct\u00a0horse", true}, // a no-break space is a space
		{"correct horse", "correct  horse", false},
		{"Passphrase", "passphrase", false},
	} {
		if got := SamePassword(tt.a, tt.b); got != tt.want {
			t.Errorf("SamePassword(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestUsernameErrorsAtOnce: a name that breaks several rules hears of all
// of them at once.
func TestUsernameErrorsAtOnce(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"a!":                     "Enter a username of at least 3 characters, and use only letters, digits, dots (.), dashes (-) and underscores (_)",
		"ab":                     "Enter a username of at least 3 characters",
		"a b c":                  "In your username, use only letters, digits, dots (.), dashes (-) and underscores (_)",
		strings.Repeat("x", 33):  "Enter a username of at most 32 characters",
		strings.Repeat("x!", 20): "Enter a username of at most 32 characters, and use only letters, digits, dots (.), dashes (-) and underscores (_)",
		" ":                      "Enter a username",
	} {
		_, err := NormalizeUsername(in)
		ve, ok := err.(*ValidationError)
		if !ok || ve.Message != want {
			t.Errorf("NormalizeUsername(%q): got %v, want %q", in, err, want)
		}
	}
}
