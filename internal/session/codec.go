package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Codec encodes session data compactly for Redis. scs's default GobCodec
// writes type descriptions into every stored session and compiles a decoder
// on every load: it cost more than half of a page view's CPU and doubled
// the stored size. Sessions here only hold strings, booleans, integers,
// times and a *Record, so small binary formats do.
//
// A signed-in session is written in the compact format (compact.go): the
// Record under RecordKey without its key name, ids in binary, times as
// seconds, and "last seen" at a fixed offset so that the touch can rewrite
// it in place (Index.Touch). Other sessions, and records the compact format
// cannot hold (a zero sign-in time, say), are written in the general
// format, version 4:
//
//	'G' (magic), 4 (version)
//	the deadline: varint Unix seconds, uvarint nanoseconds
//	the number of values: uvarint
//	each value, keys in sorted order so that equal sessions encode equally:
//	  the key: uvarint length, bytes
//	  a tag and the value:
//	    's' string: uvarint length, bytes
//	    't' or 'f': a bool, the tag alone
//	    'i' int: varint
//	    'T' time.Time: as the deadline; 'z': the zero time, the tag alone
//	    'R' *Record: UserID, Username, Role and SID as strings; MemberSince,
//	      LastLogin, AuthAt, ReauthAt and Seen each as 'z' or 'T' and a
//	      time; Remember as 't' or 'f'; Stamp as a string, from version 2
//	      on; IP and Device as strings, from version 3 on; AMR as a byte,
//	      from version 4 on (record.go)
//
// Decode reads both formats, the general one's versions 1 to 4, and data
// that starts with neither magic byte with GobCodec, so that sessions
// stored before stay valid.
type Codec struct{}

const (
	codecMagic = 'G'
	// generalVersion is the general format's version Encode writes.
	// Version 2 added the Record's stamp, version 3 its IP and device,
	// version 4 its methods (AMR).
	generalVersion = 4

	tagString = 's'
	tagTrue   = 't'
	tagFalse  = 'f'
	tagInt    = 'i'
	tagTime   = 'T'
	tagZero   = 'z' // the zero time.Time
	tagRecord = 'R'

	// maxValues and maxLen bound what Decode accepts from Redis.
	maxValues = 256
	maxLen    = 64 << 10
)

// ErrCorrupt is undecodable session data.
var ErrCorrupt = errors.New("session: corrupt data")

// encodeGeneral writes the general format, which holds any session Encode
// accepts.
func encodeGeneral(deadline time.Time, values map[string]any) ([]byte, error) {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b := make([]byte, 0, 64+24*len(values))
	b = append(b, codecMagic, generalVersion)
	b = appendTime(b, deadline)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		var err error
		if b, err = appendValue(appendString(b, k), k, values[k]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// appendValue writes v, the value of key k, with its tag.
func appendValue(b []byte, k string, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		b = appendString(append(b, tagString), v)
	case bool:
		if v {
			b = append(b, tagTrue)
		} else {
			b = append(b, tagFalse)
		}
	case int:
		b = binary.AppendVarint(append(b, tagInt), int64(v))
	case int64:
		b = binary.AppendVarint(append(b, tagInt), v)
	case time.Time:
		b = appendMaybeTime(b, v)
	case *Record:
		if v == nil {
			return nil, fmt.Errorf("session: cannot encode %q: nil *Record", k)
		}
		b = appendRecord(append(b, tagRecord), *v)
	default:
		return nil, fmt.Errorf("session: cannot encode %q of type %T", k, v)
	}
	return b, nil
}

// appendTime writes seconds and nanoseconds, which cover every time.Time
// (UnixNano overflows outside 1678-2262).
func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Decode implements scs.Codec.
func (Codec) Decode(b []byte) (time.Time, map[string]any, error) {
	if len(b) > 0 && b[0] == compactMagic {
		return decodeCompact(b)
	}
	if len(b) == 0 || b[0] != codecMagic {
		return scs.GobCodec{}.Decode(b)
	}
	// One string for the whole record: keys and string values are
	// slices of it rather than an allocation each.
	d := decoder{b: b[1:], s: string(b[1:])}
	version := d.byte()
	if version < 1 || version > generalVersion {
		return time.Time{}, nil, ErrCorrupt
	}
	deadline := d.time()
	n := d.uvarint()
	if n > maxValues {
		return time.Time{}, nil, ErrCorrupt
	}
	values := make(map[string]any, n)
	for range n {
		d.value(values, d.string(), version)
		if d.err != nil {
			return time.Time{}, nil, d.err
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return time.Time{}, nil, ErrCorrupt
	}
	return deadline, values, nil
}

// value reads the tag and value of key k into values.
func (d *decoder) value(values map[string]any, k string, version byte) {
	switch d.byte() {
	case tagString:
		values[k] = d.string()
	case tagTrue:
		values[k] = true
	case tagFalse:
		values[k] = false
	case tagInt:
		v := d.varint()
		if v < math.MinInt || v > math.MaxInt {
			d.err = ErrCorrupt
		}
		values[k] = int(v)
	case tagTime:
		values[k] = d.time()
	case tagZero:
		values[k] = time.Time{}
	case tagRecord:
		r := d.record(version)
		values[k] = &r
	default:
		d.err = ErrCorrupt
	}
}

// decoder reads the format; the first problem sticks in err.
type decoder struct {
	b   []byte
	s   string // the same bytes as b, from the same offset
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = ErrCorrupt
		return 0
	}
	c := d.b[0]
	d.advance(1)
	return c
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = ErrCorrupt
		return 0
	}
	d.advance(n)
	return v
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.err = ErrCorrupt
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = ErrCorrupt
		return 0
	}
	d.advance(n)
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > maxLen || n > uint64(len(d.b)) {
		d.err = ErrCorrupt
		return ""
	}
	s := d.s[:n]
	d.advance(int(n))
	return s
}

func (d *decoder) advance(n int) {
	d.b, d.s = d.b[n:], d.s[n:]
}

var _ scs.Codec = Codec{}
