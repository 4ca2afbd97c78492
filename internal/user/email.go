package user

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// E-mail addresses. An account may have one verified address, the one
// that receives reset links and security notices, and one pending
// address, which becomes the verified one when its link is used. Until
// then the old address stays the one used for recovery.

// Limits of an address (RFC 5321 section 4.5.3.1: a 64-octet local part;
// a path of 256 octets less the angle brackets).
const (
	EmailMaxLen      = 254
	emailLocalMaxLen = 64
)

// Messages of the address rules, in the GOV.UK style.
const (
	msgEmailMissing = "Enter an email address"
	msgEmailFormat  = "Enter an email address in the correct format, like name@example.com"
	msgEmailLong    = "Enter an email address of at most 254 characters"
)

// Errors of addresses.
var (
	// ErrEmailTaken: another account has this address, verified.
	ErrEmailTaken = errors.New("that email address belongs to another account")
	// ErrEmailLookalike: another account's verified address looks like
	// this one (the same confusable skeleton).
	ErrEmailLookalike = errors.New("another account's email address looks like that one")
	// ErrEmailChanged: the address a verification link was sent to is no
	// longer the one waiting for verification.
	ErrEmailChanged = errors.New("the email address changed since the link was sent")
)

// Address is an e-mail address in the forms Gatehouse keeps.
type Address struct {
	// Address is what mail is sent to and people see: the local part as
	// typed (RFC 5321 lets a server tell its case apart), NFC, and the
	// domain IDNA-mapped (UTS #46) and lower-cased, in Unicode.
	Address string
	// Norm makes addresses unique: the local part lower-cased too, and
	// the domain in ASCII (A-labels, RFC 5891).
	Norm string
	// Skeleton is the confusable skeleton (UTS #39) of the lower-cased
	// address with its Unicode domain, unique too, so that no verified
	// address looks like another.
	Skeleton string
}

// NormalizeEmail checks an address typed by a person and returns its forms,
// or a *ValidationError for the field "email". It accepts dot-atom local
// parts (RFC 5322 section 3.4.1), in UTF-8 too (RFC 6531), and refuses
// quoted local parts, comments and IP-literal domains, which no person
// types. The domain must be a valid IDNA name with at least two labels.
func NormalizeEmail(s string) (Address, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Address{}, &ValidationError{"email", msgEmailMissing}
	case len(s) > EmailMaxLen:
		return Address{}, &ValidationError{"email", msgEmailLong}
	case !utf8.ValidString(s):
		return Address{}, &ValidationError{"email", msgEmailFormat}
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 {
		return Address{}, &ValidationError{"email", msgEmailFormat}
	}
	local, domain := norm.NFC.String(s[:at]), s[at+1:]
	if !validLocal(local) {
		return Address{}, &ValidationError{"email", msgEmailFormat}
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil || !validDomain(ascii) {
		return Address{}, &ValidationError{"email", msgEmailFormat}
	}
	uni, err := idna.Lookup.ToUnicode(ascii)
	if err != nil {
		return Address{}, &ValidationError{"email", msgEmailFormat}
	}
	lower := strings.ToLower(local)
	a := Address{
		Address:  local + "@" + uni,
		Norm:     lower + "@" + ascii,
		Skeleton: strings.ToLower(confusables.Skeleton(lower + "@" + uni)),
	}
	if len(a.Address) > EmailMaxLen || len(a.Norm) > EmailMaxLen {
		return Address{}, &ValidationError{"email", msgEmailLong}
	}
	return a, nil
}

// validLocal accepts a dot-atom: atext characters (RFC 5322), or any
// letter, digit or mark beyond ASCII (RFC 6531's UTF8-non-ascii), in
// dot-separated runs, at most 64 octets.
func validLocal(l string) bool {
	if l == "" || len(l) > emailLocalMaxLen || l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, "..") {
		return false
	}
	for _, r := range l {
		switch {
		case r < utf8.RuneSelf:
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".!#$%&'*+/=?^_`{|}~-", r)) {
				return false
			}
		case !unicode.In(r, unicode.L, unicode.N, unicode.M):
			return false
		}
	}
	return true
}

// validDomain accepts an ASCII host name of letters, digits and hyphens,
// with at least two labels, as a mail domain needs.
func validDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Mailbox returns addr (an Address.Address) as mail is sent to it: the
// domain in ASCII, so that only a non-ASCII local part needs SMTPUTF8.
func Mailbox(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	if ascii, err := idna.Lookup.ToASCII(addr[at+1:]); err == nil {
		return addr[:at] + "@" + ascii
	}
	return addr
}

// CheckEmail checks an optional address on a form: "" is fine.
func CheckEmail(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	_, err := NormalizeEmail(s)
	return err
}
