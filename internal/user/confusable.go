package user

import (
	"slices"
	"unicode"
)

// Names that look alike are one name. A name must be written in one
// script, as UTS #39's "highly restrictive" level has it, so that
// "раураl" in Cyrillic and Latin cannot pass for "paypal".

const msgMixedScripts = "Use letters from one alphabet only"

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
