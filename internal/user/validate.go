package user

import (
	"strconv"
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

// Messages of the username rules. Each says what to do, in sentence case
// without a final full stop (the GOV.UK Design System's style).
const (
	msgUsernameMissing = "Enter a username"
	msgUsernameChars   = "use only letters, digits, dots (.), dashes (-) and underscores (_)"
)

// NormalizeUsername returns the form of name that identifies an account, or a
// ValidationError saying what is wrong with it: every rule it breaks, in one
// message ("a!" is both too short and has a character not allowed).
//
// It applies the PRECIS UsernameCaseMapped profile (RFC 8265): width mapping
// and case folding, so "Alice", "ALICE" and full-width "Ａｌｉｃｅ" are one
// account. On top of that a name has 3-32 letters, digits, '.', '_' or '-'.
func NormalizeUsername(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", &ValidationError{"username", msgUsernameMissing}
	}
	// Bound the work before PRECIS sees the string.
	if len(name) > UsernameMaxLen*4 {
		return "", usernameError(utf8.RuneCountInString(name), false)
	}
	norm, err := precis.UsernameCaseMapped.String(name)
	if err != nil {
		// Count what was typed: PRECIS refused it as a whole.
		return "", usernameError(utf8.RuneCountInString(name), true)
	}
	badChar := false
	for _, r := range norm {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '.' && r != '_' && r != '-' {
			badChar = true
		}
	}
	if n := utf8.RuneCountInString(norm); badChar || n < UsernameMinLen || n > UsernameMaxLen {
		return "", usernameError(n, badChar)
	}
	return norm, nil
}

// usernameError says everything that is wrong with a name of n characters.
func usernameError(n int, badChar bool) error {
	var msg string
	switch {
	case n < UsernameMinLen:
		msg = "Enter a username of at least " + strconv.Itoa(UsernameMinLen) + " characters"
	case n > UsernameMaxLen:
		msg = "Enter a username of at most " + strconv.Itoa(UsernameMaxLen) + " characters"
	}
	switch {
	case msg == "":
		msg = "In your username, " + msgUsernameChars
	case badChar:
		msg += ", and " + msgUsernameChars
	}
	return &ValidationError{"username", msg}
}

// CheckUsername checks a new username against every rule: those of
// NormalizeUsername, and that its letters come from one alphabet. It
// returns the normalised name.
func CheckUsername(name string) (string, error) {
	norm, err := NormalizeUsername(name)
	if err != nil {
		return "", err
	}
	if err := checkScripts(norm); err != nil {
		return "", err
	}
	return norm, nil
}

// Messages of the password rules that say what to do instead.
const (
	msgCommonPassword   = "Choose a less common password: a phrase of a few words that others would not guess"
	msgContainsUsername = "Choose a password that does not contain your username"
	msgBreachedPassword = "Choose a different password: this one has appeared in a data breach"
	// PRECIS OpaqueString refuses control characters, invisible ones
	// (zero-width spaces and joiners, direction overrides) and unassigned
	// code points.
	msgPasswordCharacters = "Use a password without tabs, line breaks or invisible characters such as zero-width spaces"
	msgPasswordShort      = "Enter a password of at least 8 characters"
	msgPasswordLong       = "Enter a password of at most 256 characters"
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
		return "", &ValidationError{"password", msgPasswordCharacters}
	}
	// Bound the work before PRECIS sees the string.
	if utf8.RuneCountInString(pw) > PasswordMaxLen {
		return "", &ValidationError{"password", msgPasswordLong}
	}
	if pw == "" {
		return "", &ValidationError{"password", msgPasswordShort}
	}
	p, err := precis.OpaqueString.String(pw)
	if err != nil {
		return "", &ValidationError{"password", msgPasswordCharacters}
	}
	if utf8.RuneCountInString(p) < PasswordMinLen {
		return "", &ValidationError{"password", msgPasswordShort}
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

// CheckNewPassword checks a new password for the user called username
// (as typed) against every rule but the breach check, which needs the
// network: those of ValidatePassword, and that it does not contain the
// name. The forms use it to show every problem at once.
func CheckNewPassword(pw, username string) error {
	if norm, err := NormalizeUsername(username); err == nil {
		_, err := checkNewPassword(pw, norm)
		return err
	}
	return ValidatePassword(pw)
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
