package user

import (
	"errors"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct {
		in, addr, norm string
	}{
		{"Pat.Smith@Example.COM", "Pat.Smith@example.com", "pat.smith@example.com"},
		{"  pat@example.com ", "pat@example.com", "pat@example.com"},
		{"pat+tag@sub.example.co.uk", "pat+tag@sub.example.co.uk", "pat+tag@sub.example.co.uk"},
		// IDNA: mapped (full width, case) and kept in Unicode; compared in ASCII.
		{"kim@BÜCHER.example", "kim@bücher.example", "kim@xn--bcher-kva.example"},
		{"kim@ｅｘａｍｐｌｅ.com", "kim@example.com", "kim@example.com"},
		{"kim@xn--bcher-kva.example", "kim@bücher.example", "kim@xn--bcher-kva.example"},
		// UTF-8 local parts (RFC 6531), NFC.
		{"JOSÉ@example.com", "JOSÉ@example.com", "josé@example.com"},
		{"jose\u0301@example.com", "jos\u00e9@example.com", "jos\u00e9@example.com"},
	} {
		a, err := NormalizeEmail(tc.in)
		if err != nil || a.Address != tc.addr || a.Norm != tc.norm {
			t.Errorf("NormalizeEmail(%q): got %+v, %v; want %q, %q", tc.in, a, err, tc.addr, tc.norm)
		}
	}
	for _, in := range []string{"", "pat", "@example.com", "pat@", "pat@localhost", "pat@@example.com", `"pat"@example.com`,
		"pat smith@example.com", ".pat@example.com", "pat.@example.com", "pa..t@example.com", "pat@exa_mple.com",
		"pat@[127.0.0.1]", "pat@-example.com", "pat@example..com", "pat\x00@example.com", "pat@exam\nple.com",
		string(make([]byte, 65)) + "@example.com", "a@" + string(make([]byte, 260)), "pat@exa mple.com", "\xff@example.com"} {
		_, err := NormalizeEmail(in)
		if _, ok := errors.AsType[*ValidationError](err); !ok {
			t.Errorf("NormalizeEmail(%q): got %v, want a ValidationError", in, err)
		}
	}
}

func TestEmailSkeleton(t *testing.T) {
	a, _ := NormalizeEmail("paypal@example.com")
	// A Cyrillic а, and a digit 1 for an l.
	for _, in := range []string{"pаypal@example.com", "paypa1@example.com", "PayPal@Example.com"} {
		b, err := NormalizeEmail(in)
		if err != nil {
			t.Fatal(err)
		}
		if b.Skeleton != a.Skeleton {
			t.Errorf("skeleton of %q: got %q, want %q", in, b.Skeleton, a.Skeleton)
		}
	}
	c, _ := NormalizeEmail("paypal@example.org")
	if c.Skeleton == a.Skeleton {
		t.Errorf("another domain has the same skeleton %q", c.Skeleton)
	}
}

func TestMailbox(t *testing.T) {
	if got := Mailbox("José@bücher.example"); got != "José@xn--bcher-kva.example" {
		t.Errorf("got %q", got)
	}
}
