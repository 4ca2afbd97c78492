package web

import (
	"net/http"
	"testing"
)

// TestCookieValue checks cookieValue against net/http's Request.Cookie
// wherever a value is valid, and that it allocates nothing.
func TestCookieValue(t *testing.T) {
	const tok = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"
	tests := []struct {
		name    string
		headers []string
		want    string
		found   bool
	}{
		{"none", nil, "", false},
		{"alone", []string{"s=" + tok}, tok, true},
		{"among others", []string{"a=1; s=" + tok + "; b=2"}, tok, true},
		{"spaces", []string{"a=1;   s=" + tok + "  ;b=2"}, tok, true},
		{"second header", []string{"a=1", "s=" + tok}, tok, true},
		{"first wins", []string{"s=" + tok + "; s=other"}, tok, true},
		{"quoted", []string{`s="` + tok + `"`}, tok, true},
		{"prefix of another name", []string{"ss=" + tok + "; xs=1"}, "", false},
		{"no value", []string{"s"}, "", false},
		{"empty value", []string{"s="}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			r.Header["Cookie"] = tt.headers
			got, found := cookieValue(r, "s")
			if got != tt.want || found != tt.found {
				t.Fatalf("got %q, %v; want %q, %v", got, found, tt.want, tt.found)
			}
			if c, err := r.Cookie("s"); err == nil && c.Value != "" && c.Value != got {
				t.Errorf("net/http reads %q, cookieValue %q", c.Value, got)
			}
			if n := testing.AllocsPerRun(10, func() { cookieValue(r, "s") }); n != 0 {
				t.Errorf("%v allocations, want 0", n)
			}
		})
	}
}
