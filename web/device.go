package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Device cookies (OWASP Blocking Brute Force Attacks, "device cookies"). A
// successful sign-in sets a long-lived cookie, signed by the server, that
// names the account and a random device id. Password attempts for that
// account which carry it are limited per device and exempt from the
// account-wide backoff: attackers elsewhere, who cannot have it, can keep
// the backoff up for everyone else, but cannot lock the owner out.

// deviceCookieLifetime is how long a device cookie lasts: a year from the
// last sign-in with it.
const deviceCookieLifetime = 365 * 24 * time.Hour

// maxDeviceCookie bounds the cookie values parsed.
const maxDeviceCookie = 512

// deviceCookies issues and checks device cookies.
type deviceCookies struct {
	name   string // "gatehouse_device", or with __Host- when the session cookie has it
	secure bool
	// secret returns the MAC key (SECRET_KEY, or one shared through
	// Redis). When it fails, no cookie is issued or believed.
	secret func(context.Context) ([]byte, error)
	now    func() time.Time
}

func newDeviceCookies(c Cookie, secret func(context.Context) ([]byte, error), now func() time.Time) deviceCookies {
	name := "gatehouse_device"
	if strings.HasPrefix(c.Name, "__Host-") {
		name = "__Host-" + name
	}
	return deviceCookies{name: name, secure: c.Secure, secret: secret, now: now}
}

// mac signs one cookie's fields, with the purpose in the message so that
// the key signs nothing else the same way.
func deviceMAC(key []byte, account, id string, issued int64) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gatehouse device cookie v1\x00" + account + "\x00" + id + "\x00" + strconv.FormatInt(issued, 10)))
	return m.Sum(nil)
}

// device returns the id of the request's device cookie when it is valid,
// unexpired and names account (a normalised username).
func (d deviceCookies) device(r *http.Request, account string) (id string, ok bool) {
	c, err := r.Cookie(d.name)
	if err != nil || len(c.Value) > maxDeviceCookie {
		return "", false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 4 {
		return "", false
	}
	name, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || string(name) != account {
		return "", false
	}
	id = parts[1]
	issued, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || !validPublicID(id) || d.now().After(time.Unix(issued, 0).Add(deviceCookieLifetime)) {
		return "", false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil {
		return "", false
	}
	key, err := d.secret(r.Context())
	if err != nil || !hmac.Equal(sig, deviceMAC(key, account, id, issued)) {
		return "", false
	}
	return id, true
}

// issue sets a device cookie for account after a successful sign-in,
// keeping the device id of a valid one for the same account (its failures
// stay counted) and renewing its lifetime.
func (d deviceCookies) issue(w http.ResponseWriter, r *http.Request, account string) {
	key, err := d.secret(r.Context())
	if err != nil {
		return // the sign-in stands; this browser is just not known yet
	}
	id, ok := d.device(r, account)
	if !ok {
		b := make([]byte, 16)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		id = base64.RawURLEncoding.EncodeToString(b)
	}
	issued := d.now().Unix()
	value := base64.RawURLEncoding.EncodeToString([]byte(account)) + "." + id + "." + strconv.FormatInt(issued, 10) + "." +
		base64.RawURLEncoding.EncodeToString(deviceMAC(key, account, id, issued))
	http.SetCookie(w, &http.Cookie{
		Name: d.name, Value: value, Path: "/", MaxAge: int(deviceCookieLifetime / time.Second),
		HttpOnly: true, Secure: d.secure, SameSite: http.SameSiteLaxMode,
	})
}
