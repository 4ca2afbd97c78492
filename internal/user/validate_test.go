package user

import (
	"errors"
	"strings"
	"testing"
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
		in string
		ok bool
	}{
		{"12345678", true},
		{"1234567", false},
		{"", false},
		{strings.Repeat("p", 256), true},
		{strings.Repeat("p", 257), false},
		{strings.Repeat("é", 8), true}, // characters, not bytes
		{"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", false},
	}
	for _, tt := range tests {
		err := ValidatePassword(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ValidatePassword(%d bytes) = %v; want ok=%v", len(tt.in), err, tt.ok)
		}
	}
}
