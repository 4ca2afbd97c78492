package user

import (
	"slices"
	"strings"
	"unicode"

	"github.com/mtibben/confusables"
)

// Names that look alike are one name. A name must be written in one
// script, as UTS #39's "highly restrictive" level has it, and its
// confusable skeleton must be unused (Repository.Create answers
// ErrUsernameTaken), so that neither "раураl" in Cyrillic and Latin nor
// "у1234" with a Cyrillic у beside "y1234" can pass for someone else.

const msgMixedScripts = "Use letters from one alphabet only"

// Skeleton returns the confusable skeleton (Unicode UTS #39, section 4) of
// a normalised name (NormalizeUsername): names that people could mistake
// for each other, such as y1234 with a Latin y and у1234 with a Cyrillic
// one, or bob1 and bobl, have the same skeleton. It is lower-cased again,
// because names are shown as typed but compared case-folded, and the
// skeleton of 0 is a capital O. It identifies no account (sign-in goes by
// the normalised name); it only keeps look-alikes from registering.
func Skeleton(norm string) string {
	return strings.ToLower(confusables.Skeleton(norm))
}

// scriptSets are the mixes of scripts that one name may use besides a
// single script: how Japanese, Chinese and Korean are written, with Latin
// (UTS #39 section 5.2, "highly restrictive").
var scriptSets = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// checkScripts refuses a normalised name whose letters come from more
// than one script (or an allowed mix). Digits, '.', '_' and '-' are
// Common and combining marks Inherited: they belong to no script.
func checkScripts(norm string) error {
	var used []string
	for _, r := range norm {
		if s := scriptOf(r); s != "" && !slices.Contains(used, s) {
			used = append(used, s)
		}
	}
	if len(used) <= 1 {
		return nil
	}
	for _, set := range scriptSets {
		if !slices.ContainsFunc(used, func(s string) bool { return !slices.Contains(set, s) }) {
			return nil
		}
	}
	return &ValidationError{"username", msgMixedScripts}
}

// scriptOf returns the name of r's script in the unicode package's tables,
// or "" for Common and Inherited.
func scriptOf(r rune) string {
	if unicode.Is(unicode.Common, r) || unicode.Is(unicode.Inherited, r) {
		return ""
	}
	if unicode.Is(unicode.Latin, r) {
		return "Latin"
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return "Unknown"
}
