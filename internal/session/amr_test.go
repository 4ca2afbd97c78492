package session

import (
	"slices"
	"testing"
)

func TestMethodsNamesAndAAL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		m     Methods
		names []string
		aal   string
	}{
		{0, []string{"pwd"}, AAL1}, // stored before methods were kept
		{MethodPassword, []string{"pwd"}, AAL1},
		{MethodPassword | MethodOTP, []string{"pwd", "otp"}, AAL2},
		{MethodPassword | MethodRecovery, []string{"pwd", "recovery"}, AAL2},
		{MethodPassword | MethodOTP | MethodRecovery, []string{"pwd", "otp", "recovery"}, AAL2},
		{MethodWebAuthn, []string{"webauthn"}, AAL1},
		{MethodWebAuthn | MethodUserVerified, []string{"webauthn"}, AAL2},
		{MethodPassword | MethodWebAuthn, []string{"pwd", "webauthn"}, AAL2},
		{MethodOTP | MethodRecovery, []string{"otp", "recovery"}, AAL1}, // two codes are one factor
	} {
		if got := tt.m.Names(); !slices.Equal(got, tt.names) {
			t.Errorf("%08b: got names %v, want %v", tt.m, got, tt.names)
		}
		if got := tt.m.AAL(); got != tt.aal {
			t.Errorf("%08b: got %s, want %s", tt.m, got, tt.aal)
		}
	}
}
