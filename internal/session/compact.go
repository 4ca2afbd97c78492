package session

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math"
	"net/netip"
	"slices"
	"time"
)

// RecordKey is the scs key under which a signed-in session keeps its
// *Record. The compact format stores that record without the key's name.
const RecordKey = "signed_in"

// The compact format, for a session that holds a *Record under RecordKey
// (and maybe other values). Every time is in whole seconds. Redis keeps a
// string of up to 44 bytes in one allocation and a longer one in jemalloc
// size classes 16 bytes apart: each byte saved here counts towards the
// bytes per session of the issue that asked for it.
//
//	[0]    compactMagic: neither gob's first byte nor the general format's
//	[1]    flags (flag*)
//	[2:6]  AuthAt: uint32, big-endian Unix seconds
//	[6:9]  Seen: uint24, big-endian seconds after AuthAt: at a fixed
//	       offset so that Index.Touch can compare and replace it in Redis
//	the deadline: uvarint, (seconds after AuthAt)<<1, or hours<<1 | 1
//	UserID: 12 bytes (24 hex digits) with flagCompactIDs, else a string
//	SID: 16 bytes (22 base64url characters) with flagCompactIDs, else a string
//	Stamp: a byte n, then n bytes: with n >= 0x80, the first n-0x80 bytes
//	       of a base64url stamp (stampPrefix); else a string of n bytes
//	Username: uvarint length, bytes
//	Role: only with flagOtherRole, as a string ("user" or, with
//	       flagAdmin, "admin", otherwise)
//	MemberSince: zigzag varint, seconds before AuthAt
//	LastLogin: with flagLastLogin, as MemberSince
//	ReauthAt: with flagReauth, zigzag varint, seconds after AuthAt
//	IP: a byte 4 or 16 and the address, or 0x80+n and a string of n bytes
//	Device: a byte, its index in devices plus one; 0xff and a string;
//	       0 for none
//	AMR: only with flagAMR, a byte (Methods)
//	with flagMore: the other values, as the general format writes them
//	       (a uvarint count, then key, tag and value each)
const (
	compactMagic = 0x83

	flagRemember   = 1 << 0
	flagAdmin      = 1 << 1
	flagOtherRole  = 1 << 2
	flagLastLogin  = 1 << 3
	flagReauth     = 1 << 4
	flagCompactIDs = 1 << 5
	flagMore       = 1 << 6
	flagAMR        = 1 << 7

	// seenOffset and seenSize place Seen in the compact format.
	seenOffset = 6
	seenSize   = 3
	maxSeen    = 1<<(8*seenSize) - 1
)

// Encode implements scs.Codec: the compact format when the session holds
// a record it can carry, the general format otherwise.
func (Codec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	if rec, ok := values[RecordKey].(*Record); ok && rec != nil {
		if b, ok := encodeCompact(deadline, rec, values); ok {
			return b, nil
		}
	}
	return encodeGeneral(deadline, values)
}

// encodeCompact writes the compact format, or reports false when r or
// the deadline do not fit it.
func encodeCompact(deadline time.Time, r *Record, values map[string]any) ([]byte, bool) {
	auth := r.AuthAt.Unix()
	seen := r.Seen.Unix() - auth
	dl := deadline.Unix() - auth
	if r.AuthAt.IsZero() || r.MemberSince.IsZero() || auth < 0 || auth > math.MaxUint32 ||
		seen < 0 || seen > maxSeen || dl < 0 {
		return nil, false
	}
	uid, errU := hex.DecodeString(r.UserID)
	sid, errS := base64.RawURLEncoding.DecodeString(r.SID)
	compactIDs := errU == nil && len(uid) == 12 && hex.EncodeToString(uid) == r.UserID &&
		errS == nil && len(sid) == 16

	var flags byte
	if r.Remember {
		flags |= flagRemember
	}
	switch r.Role {
	case "user":
	case "admin":
		flags |= flagAdmin
	default:
		flags |= flagOtherRole
	}
	if !r.LastLogin.IsZero() {
		flags |= flagLastLogin
	}
	if !r.ReauthAt.IsZero() {
		flags |= flagReauth
	}
	if compactIDs {
		flags |= flagCompactIDs
	}
	if len(values) > 1 {
		flags |= flagMore
	}
	if r.AMR != 0 {
		flags |= flagAMR
	}
	b := make([]byte, 0, 80)
	b = append(b, compactMagic, flags)
	b = binary.BigEndian.AppendUint32(b, uint32(auth))
	b = append(b, byte(seen>>16), byte(seen>>8), byte(seen))
	if dl%3600 == 0 {
		b = binary.AppendUvarint(b, uint64(dl/3600)<<1|1)
	} else {
		b = binary.AppendUvarint(b, uint64(dl)<<1)
	}
	if compactIDs {
		b = append(append(b, uid...), sid...)
	} else {
		b = appendString(appendString(b, r.UserID), r.SID)
	}
	if p, ok := stampBytes(r.Stamp); ok {
		b = append(append(b, 0x80+byte(len(p))), p...)
	} else if len(r.Stamp) < 0x80 {
		b = append(append(b, byte(len(r.Stamp))), r.Stamp...)
	} else {
		return nil, false
	}
	b = appendString(b, r.Username)
	if flags&flagOtherRole != 0 {
		b = appendString(b, r.Role)
	}
	b = binary.AppendVarint(b, auth-r.MemberSince.Unix())
	if flags&flagLastLogin != 0 {
		b = binary.AppendVarint(b, auth-r.LastLogin.Unix())
	}
	if flags&flagReauth != 0 {
		b = binary.AppendVarint(b, r.ReauthAt.Unix()-auth)
	}
	if ip, err := netip.ParseAddr(r.IP); err == nil && ip.Zone() == "" && ip.String() == r.IP {
		b = append(append(b, byte(ip.BitLen()/8)), ip.AsSlice()...)
	} else if len(r.IP) < 0x7f {
		b = append(append(b, 0x80+byte(len(r.IP))), r.IP...)
	} else {
		return nil, false
	}
	switch code := deviceCode(r.Device); {
	case r.Device == "":
		b = append(b, 0)
	case code != 0:
		b = append(b, code)
	default:
		b = appendString(append(b, 0xff), r.Device)
	}
	if flags&flagAMR != 0 {
		b = append(b, byte(r.AMR))
	}
	if flags&flagMore != 0 {
		keys := make([]string, 0, len(values)-1)
		for k := range values {
			if k != RecordKey {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, k := range keys {
			var err error
			if b, err = appendValue(appendString(b, k), k, values[k]); err != nil {
				return nil, false
			}
		}
	}
	return b, true
}

// decodeCompact reads the compact format.
func decodeCompact(b []byte) (time.Time, map[string]any, error) {
	if len(b) < seenOffset+seenSize {
		return time.Time{}, nil, ErrCorrupt
	}
	flags := b[1]
	auth := int64(binary.BigEndian.Uint32(b[2:6]))
	seen := int64(b[6])<<16 | int64(b[7])<<8 | int64(b[8])
	d := decoder{b: b[seenOffset+seenSize:], s: string(b[seenOffset+seenSize:])}
	at := func(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
	r := &Record{AuthAt: at(auth), Seen: at(auth + seen), Remember: flags&flagRemember != 0}
	dl := d.uvarint()
	if dl&1 == 1 {
		dl = (dl >> 1) * 3600
	} else {
		dl >>= 1
	}
	if dl > math.MaxInt32 {
		d.err = ErrCorrupt
	}
	deadline := at(auth + int64(dl))
	if flags&flagCompactIDs != 0 {
		r.UserID = hex.EncodeToString(d.bytes(12))
		r.SID = base64.RawURLEncoding.EncodeToString(d.bytes(16))
	} else {
		r.UserID, r.SID = d.string(), d.string()
	}
	if n := d.byte(); n >= 0x80 {
		r.Stamp = base64.RawURLEncoding.EncodeToString(d.bytes(int(n - 0x80)))
	} else {
		r.Stamp = string(d.bytes(int(n)))
	}
	r.Username = d.string()
	switch {
	case flags&flagOtherRole != 0:
		r.Role = d.string()
	case flags&flagAdmin != 0:
		r.Role = "admin"
	default:
		r.Role = "user"
	}
	r.MemberSince = at(auth - d.varint())
	if flags&flagLastLogin != 0 {
		r.LastLogin = at(auth - d.varint())
	}
	if flags&flagReauth != 0 {
		r.ReauthAt = at(auth + d.varint())
	}
	switch n := d.byte(); {
	case n == 4 || n == 16:
		ip, _ := netip.AddrFromSlice(d.bytes(int(n)))
		r.IP = ip.String()
	case n >= 0x80:
		r.IP = string(d.bytes(int(n - 0x80)))
	default:
		d.err = ErrCorrupt
	}
	switch n := d.byte(); {
	case n == 0:
	case n == 0xff:
		r.Device = d.string()
	case int(n) <= len(devices):
		r.Device = devices[n-1]
	default:
		d.err = ErrCorrupt
	}
	if flags&flagAMR != 0 {
		r.AMR = Methods(d.byte())
	}
	values := map[string]any{RecordKey: r}
	if flags&flagMore != 0 {
		n := d.uvarint()
		if n > maxValues {
			return time.Time{}, nil, ErrCorrupt
		}
		for range n {
			k := d.string()
			if k == RecordKey {
				d.err = ErrCorrupt
			}
			d.value(values, k, generalVersion)
			if d.err != nil {
				break
			}
		}
		if len(values) == 1 {
			d.err = ErrCorrupt
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return time.Time{}, nil, ErrCorrupt
	}
	return deadline, values, nil
}

// bytes reads n raw bytes.
func (d *decoder) bytes(n int) []byte {
	if d.err != nil || n > len(d.b) {
		d.err = ErrCorrupt
		return nil
	}
	p := d.b[:n:n]
	d.advance(n)
	return p
}

// stampPrefixLen is how much of a stamp a stored record keeps.
const stampPrefixLen = 8

// stampBytes returns what the compact format keeps of stamp: the first
// stampPrefixLen bytes of a base64url stamp of at least that many bytes.
func stampBytes(stamp string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.DecodeString(stamp)
	if err != nil || len(b) < stampPrefixLen || base64.RawURLEncoding.EncodeToString(b) != stamp {
		return nil, false
	}
	return b[:stampPrefixLen], true
}

// stampPrefix returns stamp as a record read back from Redis holds it.
func stampPrefix(stamp string) (string, bool) {
	b, ok := stampBytes(stamp)
	if !ok {
		return "", false
	}
	return base64.RawURLEncoding.EncodeToString(b), true
}

// touchSeen returns the bytes of Seen at seenOffset for a record signed in
// at auth and seen at seen, or false when they do not fit.
func touchSeen(auth, seen time.Time) ([]byte, bool) {
	s := seen.Unix() - auth.Unix()
	if s < 0 || s > maxSeen {
		return nil, false
	}
	return []byte{byte(s >> 16), byte(s >> 8), byte(s)}, true
}
