package geo

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// scanner walks one JSON value already checked by encoding/json (a feature handed over
// by the Decoder). Walking it by hand instead of unmarshalling keeps the geometry to one
// pass and no allocation per coordinate; every access is still bounds-checked, so a
// value it did not expect yields an error, never a panic.
type scanner struct {
	b []byte
	i int
}

var errSyntax = errors.New("malformed JSON")

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return fmt.Errorf("expected %q at byte %d: %w", c, s.i, errSyntax)
	}
	s.i++
	return nil
}

// stringSpan returns the bounds of the string starting at s.i (the opening quote
// included) and whether it holds escapes.
func (s *scanner) stringSpan() (start, end int, escaped bool, err error) {
	if s.peek() != '"' {
		return 0, 0, false, fmt.Errorf("expected a string at byte %d: %w", s.i, errSyntax)
	}
	start = s.i
	for j := s.i + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			s.i = j + 1
			return start, s.i, escaped, nil
		}
	}
	return 0, 0, false, fmt.Errorf("unterminated string: %w", errSyntax)
}

func (s *scanner) str() (string, error) {
	start, end, escaped, err := s.stringSpan()
	if err != nil {
		return "", err
	}
	if !escaped {
		return string(s.b[start+1 : end-1]), nil
	}
	var out string // escapes are rare (non-ASCII names written as \u00e8): let encoding/json decode them
	if err := json.Unmarshal(s.b[start:end], &out); err != nil {
		return "", fmt.Errorf("string at byte %d: %w", start, errSyntax)
	}
	return out, nil
}

// skip passes over one value of any kind and returns its bounds.
func (s *scanner) skip() (start, end int, err error) {
	c := s.peek()
	start = s.i
	switch c {
	case 0:
		return 0, 0, fmt.Errorf("expected a value: %w", errSyntax)
	case '"':
		_, end, _, err = s.stringSpan()
		return start, end, err
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, _, _, err := s.stringSpan(); err != nil {
					return 0, 0, err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return start, s.i, nil
				}
			}
			s.i++
		}
		return 0, 0, fmt.Errorf("unterminated value: %w", errSyntax)
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return start, s.i, nil
		}
		s.i++
	}
	return start, s.i, nil
}

// objectBytes calls fn for each member of the object at s.i; fn must consume the value.
// The key is valid during the call only: comparing keys this way allocates nothing.
func (s *scanner) objectBytes(fn func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		start, end, escaped, err := s.stringSpan()
		if err != nil {
			return err
		}
		key := s.b[start+1 : end-1]
		if escaped {
			var k string
			if err := json.Unmarshal(s.b[start:end], &k); err != nil {
				return fmt.Errorf("string at byte %d: %w", start, errSyntax)
			}
			key = []byte(k)
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := fn(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return fmt.Errorf("expected ',' or '}' at byte %d: %w", s.i, errSyntax)
		}
	}
}

// array calls fn for each element of the array at s.i; fn must consume the element.
func (s *scanner) array(fn func(i int) error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for n := 0; ; n++ {
		if err := fn(n); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return fmt.Errorf("expected ',' or ']' at byte %d: %w", s.i, errSyntax)
		}
	}
}

func (s *scanner) number() (float64, error) {
	s.ws()
	start, end, err := s.skip()
	if err != nil {
		return 0, err
	}
	// string(b) of a short slice passed to ParseFloat does not allocate.
	v, err := strconv.ParseFloat(string(s.b[start:end]), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, &geomError{start, fmt.Errorf("coordinate %.20q is not a finite number", s.b[start:end])}
	}
	return v, nil
}

// WKB geometry type codes (ISO/OGC, 2D).
const (
	wkbPolygon      = 3
	wkbMultiPolygon = 6
)

// geomError is a problem in a geometry, with its byte offset inside the feature.
type geomError struct {
	off int
	err error
}

func (e *geomError) Error() string { return e.err.Error() }
func (e *geomError) Unwrap() error { return e.err }

// appendWKB encodes a GeoJSON Polygon or MultiPolygon coordinates array as little-endian
// WKB, straight from the JSON text. Extra ordinates (Z, M) are dropped: the store is 2D.
func appendWKB(dst []byte, s *scanner, typ string) ([]byte, error) {
	switch typ {
	case "Polygon":
		return appendPolygon(dst, s, 0)
	case "MultiPolygon":
		dst = append(dst, 1)
		dst = binary.LittleEndian.AppendUint32(dst, wkbMultiPolygon)
		at := len(dst)
		dst = binary.LittleEndian.AppendUint32(dst, 0)
		var n uint32
		err := s.array(func(int) error {
			var err error
			n++
			dst, err = appendPolygon(dst, s, int(n))
			return err
		})
		if err != nil {
			return nil, err
		}
		binary.LittleEndian.PutUint32(dst[at:], n)
		return dst, nil
	}
	return nil, fmt.Errorf("geometry type %q is not polygonal", typ)
}

// appendPolygon encodes one polygon; nth is its 1-based rank in a MultiPolygon, 0 alone.
func appendPolygon(dst []byte, s *scanner, nth int) ([]byte, error) {
	dst = append(dst, 1)
	dst = binary.LittleEndian.AppendUint32(dst, wkbPolygon)
	at := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	var rings uint32
	where := func() string {
		if nth > 0 {
			return fmt.Sprintf("ring %d of polygon %d", rings, nth)
		}
		return fmt.Sprintf("ring %d", rings)
	}
	err := s.array(func(int) error {
		rings++
		ringStart := s.i
		pat := len(dst)
		dst = binary.LittleEndian.AppendUint32(dst, 0)
		var pts uint32
		err := s.array(func(int) error {
			pts++
			dims := 0
			return s.array(func(int) error {
				v, err := s.number()
				if err != nil {
					return err
				}
				if dims < 2 {
					dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
				}
				dims++
				return nil
			})
			// dims is checked below through the byte count
		})
		if err != nil {
			return err
		}
		if got := len(dst) - pat - 4; got != int(pts)*16 {
			return &geomError{ringStart, fmt.Errorf("%s: a position has fewer than 2 coordinates", where())}
		}
		if pts < 4 {
			return &geomError{ringStart, fmt.Errorf("%s has %d positions; a ring needs at least 4", where(), pts)}
		}
		first, last := dst[pat+4:pat+20], dst[len(dst)-16:]
		if string(first) != string(last) {
			return &geomError{ringStart, fmt.Errorf("%s is not closed (first and last positions differ)", where())}
		}
		binary.LittleEndian.PutUint32(dst[pat:], pts)
		return nil
	})
	if err != nil {
		return nil, err
	}
	binary.LittleEndian.PutUint32(dst[at:], rings)
	return dst, nil
}

// equalFold reports whether key equals name without regard to ASCII case, allocating
// nothing; non-ASCII keys take the Unicode path.
func equalFold(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i := 0; i < len(key); i++ {
		a, b := key[i], name[i]
		if a >= 0x80 || b >= 0x80 {
			return strings.EqualFold(string(key), name)
		}
		if a == b {
			continue
		}
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}
