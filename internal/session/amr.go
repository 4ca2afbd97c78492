package session

import "math/bits"

// Methods is how a session was authenticated: a set of RFC 8176
// "Authentication Method Reference" values, as bits. NIST SP 800-63B sets
// the assurance level (AAL) from them.
type Methods uint8

// The methods. RFC 8176 names pwd and otp; recovery (a one-time recovery
// code) and webauthn (a passkey, WebAuthn Level 2) are this project's
// names, as the issue that asked for them spells them.
// MethodUserVerified is no method of its own: it marks a WebAuthn
// assertion whose authenticator verified the user (the UV flag, a PIN or
// a biometric), which makes a passkey alone multi-factor.
const (
	MethodPassword Methods = 1 << iota
	MethodOTP
	MethodRecovery
	MethodWebAuthn
	MethodUserVerified
)

// methodNames are the amr values, in the order Names lists them.
var methodNames = [...]struct {
	m    Methods
	name string
}{
	{MethodPassword, "pwd"},
	{MethodOTP, "otp"},
	{MethodRecovery, "recovery"},
	{MethodWebAuthn, "webauthn"},
}

// Names returns the amr values of m, such as ["pwd", "otp"]; a session
// stored before methods were recorded was a password sign-in: ["pwd"].
func (m Methods) Names() []string {
	if m == 0 {
		m = MethodPassword
	}
	names := make([]string, 0, 2)
	for _, n := range methodNames {
		if m&n.m != 0 {
			names = append(names, n.name)
		}
	}
	return names
}

// Factors counts the distinct authentication factors in m: a password
// is one, a code (otp or recovery) another, and a passkey one, or two
// when the authenticator verified the user.
func (m Methods) Factors() int {
	n := bits.OnesCount8(uint8(m & (MethodPassword | MethodWebAuthn)))
	if m&(MethodOTP|MethodRecovery) != 0 {
		n++
	}
	if m&MethodWebAuthn != 0 && m&MethodUserVerified != 0 {
		n++
	}
	return n
}

// The assurance levels of NIST SP 800-63B.
const (
	AAL1 = "aal1"
	AAL2 = "aal2"
)

// AAL returns the assurance level m reaches: "aal2" with two factors
// (a password and a code, a password and a passkey, or a passkey that
// verified its user), "aal1" otherwise.
func (m Methods) AAL() string {
	if m.Factors() >= 2 {
		return AAL2
	}
	return AAL1
}
