package token

import "time"

// SetClock replaces the store's clock, for tests.
func SetClock(s *Store, now func() time.Time) { s.now = now }
