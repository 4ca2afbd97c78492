package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestDeviceCookies: a device cookie is believed only for the account it
// names, unexpired, and signed with the server's key.
func TestDeviceCookies(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	key := func(context.Context) ([]byte, error) { return []byte("0123456789abcdef0123456789abcdef"), nil }
	d := newDeviceCookies(Cookie{Name: "__Host-gatehouse_session", Secure: true}, key, func() time.Time { return now })
	rec := httptest.NewRecorder()
	d.issue(rec, httptest.NewRequest("POST", "/login", nil), "alice")
	set := rec.Result().Cookies()
	if len(set) != 1 || set[0].Name != "__Host-gatehouse_device" || !set[0].HttpOnly || !set[0].Secure || set[0].Path != "/" ||
		set[0].MaxAge != int(deviceCookieLifetime/time.Second) {
		t.Fatalf("issued %+v", set)
	}
	with := func(value string) *http.Request {
		r := httptest.NewRequest("POST", "/login", nil)
		r.AddCookie(&http.Cookie{Name: d.name, Value: value})
		return r
	}
	value := set[0].Value
	id, ok := d.device(with(value), "alice")
	if !ok || !validPublicID(id) {
		t.Fatalf("the issued cookie: got %q, %v", id, ok)
	}
	parts := strings.Split(value, ".")
	other := newDeviceCookies(Cookie{Name: "__Host-gatehouse_session"}, func(context.Context) ([]byte, error) {
		return []byte("another key, 32 bytes long......"), nil
	}, func() time.Time { return now })
	for name, tt := range map[string]struct {
		d       deviceCookies
		value   string
		account string
	}{
		"another account":   {d, value, "bob"},
		"renamed":           {d, "Ym9i." + strings.Join(parts[1:], "."), "bob"},
		"another device id": {d, strings.Join([]string{parts[0], "AAAAAAAAAAAAAAAAAAAAAA", parts[2], parts[3]}, "."), "alice"},
		"reissued later":    {d, strings.Join([]string{parts[0], parts[1], "9999999999", parts[3]}, "."), "alice"},
		"another key":       {other, value, "alice"},
		"expired":           {deviceCookies{name: d.name, secret: key, now: func() time.Time { return now.Add(deviceCookieLifetime + time.Second) }}, value, "alice"},
		"garbage":           {d, "not.a.device.cookie", "alice"},
		"too long":          {d, value + strings.Repeat("A", maxDeviceCookie), "alice"},
	} {
		if _, ok := tt.d.device(with(tt.value), tt.account); ok {
			t.Errorf("%s: believed", name)
		}
	}
	// Signing in again with it keeps the device id.
	rec = httptest.NewRecorder()
	d.issue(rec, with(value), "alice")
	if again, ok := d.device(with(rec.Result().Cookies()[0].Value), "alice"); !ok || again != id {
		t.Errorf("reissued: got %q, %v; want the same id %q", again, ok, id)
	}
}
