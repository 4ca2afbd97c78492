package main

import (
	"strings"
	"testing"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// addAuthenticator gives the browser a virtual platform authenticator
// through the DevTools WebAuthn domain: CTAP2, internal transport, with
// resident keys (passkeys) and user verification that always succeeds,
// and presence simulated, so that no one has to touch it. It returns the
// authenticator's id.
func (b *browser) addAuthenticator() cdpwebauthn.AuthenticatorID {
	b.t.Helper()
	off := false
	if _, err := chromedp.Call(b.ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{EnableUI: &off}); err != nil {
		b.t.Fatalf("browser: enable WebAuthn: %v", err)
	}
	res, err := chromedp.Call(b.ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
		Options: &cdpwebauthn.VirtualAuthenticatorOptions{
			Protocol:                    cdpwebauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                cdpwebauthn.Ctap2versionCtap21,
			Transport:                   cdpwebauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		b.t.Fatalf("browser: add a virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}

// credentials returns the credentials the virtual authenticator holds.
func (b *browser) credentials(id cdpwebauthn.AuthenticatorID) []*cdpwebauthn.Credential {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, cdpwebauthn.GetCredentials, cdpwebauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		b.t.Fatalf("browser: get credentials: %v", err)
	}
	return res.Credentials
}

// localhost returns base (http://127.0.0.1:PORT) at localhost: an IP
// address cannot be a WebAuthn relying party id, and Gatehouse's relying
// party in development is localhost (internal/passkey.RelyingParty).
func localhost(t *testing.T, base string) string {
	t.Helper()
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("base %s: want http://127.0.0.1:PORT", base)
	}
	return "http://localhost:" + strings.TrimPrefix(base, "http://127.0.0.1:")
}
