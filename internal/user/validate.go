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
	msgBreachedPassword = "This password has appeared in a data breach. Choose a different one"
	// PRECIS OpaqueString refuses control characters, invisible ones
	// (zero-width spaces and joiners, direction overrides) and unassigned
	// code points.
	msgPasswordCharacters = "Password must not contain tabs, line breaks or invisible characters such as zero-width spaces"
)

// ValidatePassword checks a new password on its own: its length, in
// characters and with no composition rules, as the OWASP Authentication
// Cheat Sheet advises, that PRECIS accepts it, and that it is not one of
// the most common passwords (NIST SP 800-63B 5.1.1.2).
func ValidatePassword(pw string) error {
	_, err := preparePassword(pw)
	return err
}

// preparePassword checks a new password as ValidatePassword does and
// returns its normalised form, the one to hash.
func preparePassword(pw string) (string, error) {
	if !utf8.ValidString(pw) {
		return "", &ValidationError{"password", "Password must be valid text"}
	}
	// Bound the work before PRECIS sees the string.
	if utf8.RuneCountInString(pw) > PasswordMaxLen {
		return "", &ValidationError{"password", "Password must be at most 256 characters"}
	}
	if pw == "" {
		return "", &ValidationError{"password", "Password must be at least 8 characters"}
	}
	p, err := precis.OpaqueString.String(pw)
	if err != nil {
		return "", &ValidationError{"password", msgPasswordCharacters}
	}
	if utf8.RuneCountInString(p) < PasswordMinLen {
		return "", &ValidationError{"password", "Password must be at least 8 characters"}
	}
	if isCommon(p) {
		return "", &ValidationError{"password", msgCommonPassword}
	}
	return p, nil
}

// normalizePassword returns the form of pw that is hashed and compared:
// the PRECIS OpaqueString profile (RFC 8265), which maps every kind of
// space to the ASCII space and composes characters (NFC), so that
// "mañana" is one password whether ñ was typed as one character or as n
// and a combining tilde. ok is false when the profile refuses pw (a
// control or invisible character, which only a password set before this
// rule can hold): such a password is compared as typed.
func normalizePassword(pw string) (p string, ok bool) {
	p, err := precis.OpaqueString.String(pw)
	return p, err == nil
}

// SamePassword reports whether a and b are one password as Gatehouse
// compares passwords (normalizePassword): the forms use it for "confirm
// password", so that a ñ typed composed in one field and decomposed in the
// other matches.
func SamePassword(a, b string) bool {
	na, okA := normalizePassword(a)
	nb, okB := normalizePassword(b)
	if !okA || !okB {
		return a == b
	}
	return na == nb
}

// checkNewPassword checks a new password of the user whose normalised name
// is norm: the rules of ValidatePassword, and that it does not contain the
// name (ASVS 5.0 V6.2), compared as names are, in any case or width.
// It returns the normalised password, the one to hash.
func checkNewPassword(pw, norm string) (string, error) {
	p, err := preparePassword(pw)
	if err != nil {
		return "", err
	}
	if strings.Contains(foldPassword(p), norm) {
		return "", &ValidationError{"password", msgContainsUsername}
	}
	return p, nil
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
