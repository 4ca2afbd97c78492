package user

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"strings"
	"sync"
)

// commonGz is Django's list of the 20,000 most common passwords (Royce
// Williams'), lower-cased, one per line. Source and licence (BSD-3-Clause):
// commonpasswords/README.md and commonpasswords/LICENSE.
//
//go:embed commonpasswords/common-passwords.txt.gz
var commonGz []byte

// commonPasswords is the embedded list as a set, read on first use. The
// file is part of the binary, so failing to read it is a broken build.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	zr, err := gzip.NewReader(bytes.NewReader(commonGz))
	if err != nil {
		panic("user: embedded common-passwords list: " + err.Error())
	}
	set := make(map[string]struct{}, 20000)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if pw := strings.TrimSpace(sc.Text()); pw != "" {
			set[pw] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		panic("user: embedded common-passwords list: " + err.Error())
	}
	return set
})

// isCommon reports whether the normalised password pw is on the list,
// compared as Django compares: lower-cased, without surrounding spaces.
func isCommon(pw string) bool {
	_, ok := commonPasswords()[strings.ToLower(strings.TrimSpace(pw))]
	return ok
}
