// Package pwned asks the Pwned Passwords range API
// (https://haveibeenpwned.com/API/v3#PwnedPasswords) whether a password
// has appeared in a data breach, by k-anonymity: only the first five hex
// characters of the password's SHA-1 leave the process, and the answer
// lists every breached hash that starts with them, among which the rest of
// the hash is looked for here.
package pwned

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds one check: a sign-up waits for it.
const DefaultTimeout = time.Second

// maxBody bounds the answer read. A real one is about 40 KiB (some 1,000
// lines of 40 bytes, with padding).
const maxBody = 1 << 20

// Client checks passwords against one range API.
type Client struct {
	base    string
	timeout time.Duration
	http    *http.Client
}

// New returns a client of the range API at baseURL (such as
// https://api.pwnedpasswords.com), each check bounded by timeout.
func New(baseURL string, timeout time.Duration) *Client {
	return &Client{base: strings.TrimSuffix(baseURL, "/"), timeout: timeout, http: &http.Client{}}
}

// Breached reports whether password is listed with a count above zero.
// Any failure (unreachable, slow, a status other than 200, an answer too
// large or not in the range format) is an error; errors never hold the
// password, its hash or the URL, which carries the hash's prefix.
func (c *Client) Breached(ctx context.Context, password string) (bool, error) {
	sum := sha1.Sum([]byte(password))
	hash := strings.ToUpper(hex.EncodeToString(sum[:]))
	prefix, suffix := hash[:5], hash[5:]

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/range/"+prefix, nil)
	if err != nil {
		return false, errors.New("pwned passwords: bad URL")
	}
	// Padding makes every answer about the same size, so that its length
	// does not hint at the prefix to someone watching the wire.
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", "gatehouse")
	resp, err := c.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("pwned passwords: %w", withoutURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("pwned passwords: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return false, fmt.Errorf("pwned passwords: read answer: %w", withoutURL(err))
	}
	if len(body) > maxBody {
		return false, fmt.Errorf("pwned passwords: answer larger than %d bytes", maxBody)
	}
	return find(body, suffix)
}

// find looks for suffix in a range answer: lines of SUFFIX:COUNT, where
// SUFFIX is the 35 hex characters after the prefix.
func find(body []byte, suffix string) (bool, error) {
	found := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		s, count, ok := strings.Cut(line, ":")
		c, err := strconv.ParseUint(count, 10, 64)
		if !ok || len(s) != len(suffix) || !isHex(s) || err != nil {
			return false, fmt.Errorf("pwned passwords: line %d is not SUFFIX:COUNT", n)
		}
		if c > 0 && strings.EqualFold(s, suffix) {
			found = true
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("pwned passwords: %w", err)
	}
	return found, nil
}

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'F' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// withoutURL drops the request URL (and so the hash's prefix) from a
// client error, keeping its cause.
func withoutURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
