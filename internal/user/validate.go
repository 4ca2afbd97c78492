package user

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// Limits on input.
const (
	UsernameMinLen = 3
	UsernameMaxLen = 32
	PasswordMinLen = 8
	PasswordMaxLen = 256
)

// NormalizeUsername returns the form of name that identifies an account, or a
// ValidationError saying what is wrong with it.
//
// It applies the PRECIS UsernameCaseMapped profile (RFC 8265): width mapping
// and case folding, so "Alice", "ALICE" and full-width "Ａｌｉｃｅ" are one
// account. On top of that a name has 3-32 letters, digits, '.', '_' or '-'.
func NormalizeUsername(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", &ValidationError{"username", "Username is required"}
	}
	// Bound the work before PRECIS sees the string.
	if len(name) > UsernameMaxLen*4 {
		return "", &ValidationError{"username", "Username must be at most 32 characters"}
	}
	norm, err := precis.UsernameCaseMapped.String(name)
	if err != nil {
		return "", &ValidationError{"username", "Username may only contain letters, digits, '.', '_' and '-'"}
	}
	n := utf8.RuneCountInString(norm)
	if n < UsernameMinLen {
		return "", &ValidationError{"username", "Username must be at least 3 characters"}
	}
	if n > UsernameMaxLen {
		return "", &ValidationError{"username", "Username must be at most 32 characters"}
	}
	for _, r := range norm {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '.' && r != '_' && r != '-' {
			return "", &ValidationError{"username", "Username may only contain letters, digits, '.', '_' and '-'"}
		}
	}
	return norm, nil
}

// Messages of the password rules that say what to do instead.
const (
	msgCommonPassword   = "This password is too common. Choose a longer phrase that others would not guess"
	msgContainsUsername = "Your password must not contain your username"
)

// ValidatePassword checks a new password on its own: its length, in
// characters and with no composition rules, as the OWASP Authentication
// Cheat Sheet advises, and that it is not one of the most common
// passwords (NIST SP 800-63B 5.1.1.2).
func ValidatePassword(pw string) error {
	if !utf8.ValidString(pw) {
		return &ValidationError{"password", "Password must be valid text"}
	}
	n := utf8.RuneCountInString(pw)
	if n < PasswordMinLen {
		return &ValidationError{"password", "Password must be at least 8 characters"}
	}
	if n > PasswordMaxLen {
		return &ValidationError{"password", "Password must be at most 256 characters"}
	}
	if isCommon(pw) {
		return &ValidationError{"password", msgCommonPassword}
	}
	return nil
}

// checkNewPassword checks a new password of the user whose normalised name
// is norm: the rules of ValidatePassword, and that it does not contain the
// name (ASVS 5.0 V6.2), compared as names are, in any case or width.
func checkNewPassword(pw, norm string) error {
	if err := ValidatePassword(pw); err != nil {
		return err
	}
	if strings.Contains(foldPassword(pw), norm) {
		return &ValidationError{"password", msgContainsUsername}
	}
	return nil
}

// passwordFold maps a password as UsernameCaseMapped maps a name (width,
// case, NFC), so that a name can be looked for inside it.
var passwordFold = precis.NewFreeform(precis.FoldWidth, precis.LowerCase(), precis.Norm(norm.NFC))

func foldPassword(pw string) string {
	if f, err := passwordFold.String(pw); err == nil {
		return f
	}
	// A character the profile refuses (a control character): fold what
	// can be folded.
	return norm.NFC.String(strings.ToLower(width.Fold.String(pw)))
}

// precisPrefix normalises the start of a username for searching: the same
// mapping as NormalizeUsername without the length rules.
func precisPrefix(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > UsernameMaxLen*4 {
		s = s[:UsernameMaxLen*4]
	}
	return precis.UsernameCaseMapped.String(s)
}
