// Package geo reads polygon layers (bureau de vote contours, IRIS contours) from GeoJSON
// FeatureCollections in a stream: one feature in memory at a time, its geometry turned
// into WKB straight from the JSON text, every problem located by line and column.
// Shapefiles and GeoPackages go through GDAL's ogr2ogr, converted to GeoJSON on the fly.
// Reprojection is left to PostGIS: the reader only says which CRS the coordinates are in.
package geo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/coopol/coopol/internal/ingest"
)

// Reader yields the features of a GeoJSON FeatureCollection one at a time.
type Reader struct {
	// OnFeature, when set, is called for each feature read (progress display).
	OnFeature func()
	// DefaultSRID is the CRS of coordinates when the file declares none; 0 means WGS84
	// longitude/latitude, as RFC 7946 says.
	DefaultSRID int

	file  string
	lines *lineReader
	dec   *json.Decoder
	state int
	raw   json.RawMessage // reused: a feature's bytes, valid until the next call to Next
	wkb   []byte          // reused likewise

	sawType, sawFeatures bool
	crs                  CRS
	n                    int64
	feat                 Feature
}

// CRS is the coordinate system a file declares, and where.
type CRS struct {
	SRID int    // 0 when the file has no crs member
	Line int64  // of the crs member
	Col  int    // of the crs member
	Name string // raw member, for messages
}

const (
	stStart = iota
	stMembers
	stFeatures
	stDone
)

// NewReader reads the GeoJSON document r; file names it in errors.
func NewReader(file string, r io.Reader) *Reader {
	lr := &lineReader{r: r}
	return &Reader{file: file, lines: lr, dec: json.NewDecoder(lr)}
}

// File returns the file name used in errors.
func (r *Reader) File() string { return r.file }

// Count returns the number of features read so far.
func (r *Reader) Count() int64 { return r.n }

// SRID returns the CRS of the coordinates of features without a crs of their own: the
// collection's crs member, else DefaultSRID, else WGS84. The member may follow the
// features, so the answer is final only once Next has returned io.EOF.
func (r *Reader) SRID() int {
	switch {
	case r.crs.SRID != 0:
		return r.crs.SRID
	case r.DefaultSRID != 0:
		return r.DefaultSRID
	}
	return WGS84
}

// CRS returns the collection's crs member as read so far.
func (r *Reader) CRS() CRS { return r.crs }

// Errorf returns a ParseError at line and col of this file.
func (r *Reader) Errorf(line int64, col int, format string, args ...any) error {
	return ingest.Errorf(r.file, line, col, format, args...)
}

// errAt returns a ParseError at a byte offset of the stream.
func (r *Reader) errAt(off int64, format string, args ...any) error {
	line, col := r.lines.position(off)
	return r.Errorf(line, col, format, args...)
}

// jsonErr turns a decoder error into a ParseError where it has a position; read errors
// (a failing ogr2ogr, a closed file) are returned as they are.
func (r *Reader) jsonErr(err error, what string) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn), errors.As(err, &typ):
		return r.errAt(r.syntaxOffset(), "not valid JSON (%s): %v", what, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		if r.lines.total == 0 {
			return r.Errorf(0, 0, "empty file: not a GeoJSON FeatureCollection")
		}
		return r.errAt(r.lines.total, "unexpected end of file (%s)", what)
	}
	return fmt.Errorf("geo: read %s: %w", r.file, err)
}

// syntaxOffset locates the error the decoder just met. The decoder's own offsets cannot
// be trusted (they count the bytes of every value decoded so far, whitespace between
// them excepted), but after an error it still holds the bytes from the failing value
// on: decoding those afresh gives the offset within them.
func (r *Reader) syntaxOffset() int64 {
	in := r.dec.InputOffset()
	var raw json.RawMessage
	err := json.NewDecoder(r.dec.Buffered()).Decode(&raw)
	var syn *json.SyntaxError
	if errors.As(err, &syn) && syn.Offset > 0 {
		return in + syn.Offset - 1
	}
	return in
}

// Next returns the next feature, or io.EOF once the whole document has been read and
// checked. The feature and the slices it holds are valid until the next call.
func (r *Reader) Next() (*Feature, error) {
	for {
		switch r.state {
		case stStart:
			tok, err := r.dec.Token()
			if err != nil {
				return nil, r.jsonErr(err, "at the start of the document")
			}
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return nil, r.errAt(r.dec.InputOffset()-1, "not a GeoJSON FeatureCollection: the document is not a JSON object")
			}
			r.state = stMembers
		case stMembers:
			if !r.dec.More() {
				if _, err := r.dec.Token(); err != nil { // the closing brace
					return nil, r.jsonErr(err, "end of the FeatureCollection")
				}
				if _, err := r.dec.Token(); err != io.EOF {
					return nil, r.errAt(r.dec.InputOffset()-1, "data after the end of the FeatureCollection")
				}
				if !r.sawType {
					return nil, r.Errorf(1, 1, `not a GeoJSON FeatureCollection: no "type" member`)
				}
				if !r.sawFeatures {
					return nil, r.Errorf(1, 1, `not a GeoJSON FeatureCollection: no "features" member`)
				}
				r.state = stDone
				return nil, io.EOF
			}
			off := r.dec.InputOffset()
			tok, err := r.dec.Token()
			if err != nil {
				return nil, r.jsonErr(err, "member of the FeatureCollection")
			}
			key, _ := tok.(string)
			if err := r.member(key, off); err != nil {
				return nil, err
			}
		case stFeatures:
			if !r.dec.More() {
				if _, err := r.dec.Token(); err != nil { // the closing bracket
					return nil, r.jsonErr(err, "end of the features array")
				}
				r.state = stMembers
				continue
			}
			if err := r.dec.Decode(&r.raw); err != nil {
				return nil, r.jsonErr(err, fmt.Sprintf("feature %d", r.n+1))
			}
			start := r.dec.InputOffset() - int64(len(r.raw))
			r.n++
			if r.OnFeature != nil {
				r.OnFeature()
			}
			if err := r.feature(start); err != nil {
				return nil, err
			}
			return &r.feat, nil
		default:
			return nil, io.EOF
		}
	}
}

// member reads one member of the top-level object; off is where its key starts.
func (r *Reader) member(key string, off int64) error {
	switch key {
	case "type":
		var t string
		if err := r.dec.Decode(&t); err != nil {
			return r.jsonErr(err, `"type" member`)
		}
		if t != "FeatureCollection" {
			return r.errAt(off, "not a GeoJSON FeatureCollection: type is %q", t)
		}
		r.sawType = true
	case "crs":
		var raw json.RawMessage
		if err := r.dec.Decode(&raw); err != nil {
			return r.jsonErr(err, `"crs" member`)
		}
		start := r.dec.InputOffset() - int64(len(raw))
		srid, err := ParseCRS(raw)
		if err != nil {
			return r.errAt(start, "%v", err)
		}
		line, col := r.lines.position(start)
		r.crs = CRS{SRID: srid, Line: line, Col: col, Name: string(raw)}
	case "features":
		if r.sawFeatures {
			return r.errAt(off, `two "features" members`)
		}
		tok, err := r.dec.Token()
		if err != nil {
			return r.jsonErr(err, `"features" member`)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return r.errAt(r.dec.InputOffset()-1, `"features" is not an array`)
		}
		r.sawFeatures = true
		r.state = stFeatures
	default: // name, bbox, metadata: skipped (held in memory while skipped, as they are small)
		var skip json.RawMessage
		if err := r.dec.Decode(&skip); err != nil {
			return r.jsonErr(err, fmt.Sprintf("%q member", key))
		}
	}
	return nil
}

// Feature is one GeoJSON feature.
type Feature struct {
	Line int64 // where the feature starts
	Col  int
	// Properties is the feature's properties object, raw (nil when absent or null).
	Properties Properties
	// WKB is the geometry as 2D little-endian WKB, a Polygon or MultiPolygon; nil when the
	// feature's geometry is null.
	WKB []byte
	// Type is the GeoJSON geometry type, "Polygon" or "MultiPolygon" ("" when null).
	Type string
	// SRID is the CRS named by a crs member on the feature or its geometry, 0 when it has
	// none (the collection's CRS then applies: Reader.SRID).
	SRID int
}

// feature parses r.raw, which encoding/json has already checked, into r.feat.
func (r *Reader) feature(start int64) error {
	f := &r.feat
	*f = Feature{}
	f.Line, f.Col = r.lines.position(start)
	s := &scanner{b: r.raw}
	fail := func(off int, format string, args ...any) error {
		return r.errAt(start+int64(off), "feature %d: %s", r.n, fmt.Sprintf(format, args...))
	}
	if s.peek() != '{' {
		return fail(0, "not a JSON object")
	}
	valAt, sawGeom, geomSRID := 0, false, 0
	var geomErr error
	err := s.objectBytes(func(key []byte) error {
		s.ws()
		valAt = s.i
		switch string(key) {
		case "type":
			t, err := s.str()
			if err != nil || t != "Feature" {
				return fmt.Errorf("type is not \"Feature\"")
			}
		case "properties":
			if s.peek() == 'n' {
				_, _, err := s.skip()
				return err
			}
			if s.peek() != '{' {
				return fmt.Errorf("properties is not an object")
			}
			b, e, err := s.skip()
			if err != nil {
				return err
			}
			p := r.raw[b:e]
			// jsonb and text columns refuse NUL characters and bad UTF-8: say so here, with a
			// position, rather than fail inside COPY.
			if bytes.Contains(p, []byte(`\u0000`)) {
				return fmt.Errorf(`properties hold a \u0000 character, which PostgreSQL cannot store`)
			}
			if !utf8.Valid(p) {
				return fmt.Errorf("properties are not valid UTF-8")
			}
			f.Properties = Properties(p)
		case "geometry":
			sawGeom = true
			geomSRID, geomErr = r.geometry(f, s)
			return geomErr
		case "crs":
			b, e, err := s.skip()
			if err != nil {
				return err
			}
			srid, err := ParseCRS(r.raw[b:e])
			if err != nil {
				return err
			}
			f.SRID = srid
		default:
			_, _, err := s.skip()
			return err
		}
		return nil
	})
	if err != nil {
		if geomErr != nil {
			off := valAt
			var ge *geomError
			if errors.As(geomErr, &ge) {
				off = ge.off
			}
			return fail(off, "geometry: %v", geomErr)
		}
		return fail(valAt, "%v", err)
	}
	if !sawGeom {
		return fail(0, "no geometry member")
	}
	if geomSRID != 0 { // a crs on the geometry wins over one on the feature
		f.SRID = geomSRID
	}
	return nil
}

// geometry encodes the geometry object at s into f.WKB, and returns the SRID of its crs
// member (0 without). Coordinates after the type are encoded where they stand, in the
// same pass; before it (OpenDataSoft writes them first), they are encoded at the end.
// Error offsets (geomError) count from the start of s.b.
func (r *Reader) geometry(f *Feature, s *scanner) (int, error) {
	if s.peek() == 'n' { // null geometry: allowed by GeoJSON, reported by the loader
		_, _, err := s.skip()
		return 0, err
	}
	if s.peek() != '{' {
		return 0, fmt.Errorf("not an object")
	}
	var (
		typ, encodedAs string
		coords         []byte
		coordsAt, srid int
	)
	err := s.objectBytes(func(key []byte) error {
		switch string(key) {
		case "type":
			t, err := s.str()
			typ = t
			return err
		case "coordinates":
			if typ == "Polygon" || typ == "MultiPolygon" {
				wkb, err := appendWKB(r.wkb[:0], s, typ)
				if err != nil {
					var ge *geomError
					if !errors.As(err, &ge) {
						err = &geomError{s.i, err}
					}
					return err
				}
				r.wkb, encodedAs, coords = wkb, typ, nil
				return nil
			}
			b, e, err := s.skip()
			coords, coordsAt = s.b[b:e], b
			return err
		case "crs":
			b, e, err := s.skip()
			if err != nil {
				return err
			}
			if srid, err = ParseCRS(s.b[b:e]); err != nil {
				return &geomError{b, err}
			}
		default:
			_, _, err := s.skip()
			return err
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	switch typ {
	case "Polygon", "MultiPolygon":
	case "":
		return 0, fmt.Errorf("no type")
	default:
		return 0, fmt.Errorf("%s is not polygonal (want Polygon or MultiPolygon)", typ)
	}
	if coords != nil {
		cs := &scanner{b: coords}
		wkb, err := appendWKB(r.wkb[:0], cs, typ)
		if err != nil {
			var ge *geomError
			if errors.As(err, &ge) {
				ge.off += coordsAt
				return 0, ge
			}
			return 0, &geomError{coordsAt + cs.i, err}
		}
		r.wkb, encodedAs = wkb, typ
	}
	if encodedAs == "" {
		return 0, fmt.Errorf("%s without coordinates", typ)
	}
	if encodedAs != typ {
		return 0, fmt.Errorf("type %s given twice", typ)
	}
	f.WKB, f.Type = r.wkb, typ
	return srid, nil
}

// Properties is a feature's raw properties object.
type Properties []byte

// Get returns the value of the first of names present and not null, compared without
// regard to case (IGN writes CODE_IRIS in shapefiles, code_iris in GeoPackages). Strings
// are returned as they are, numbers as written (19.0 as 19), and one-element lists by
// their element (OpenDataSoft exports wrap codes: ["381850107"]). found is false when no
// name is present; err tells of a value that is an object or a list of several values.
func (p Properties) Get(names ...string) (value, name string, found bool, err error) {
	if len(p) == 0 {
		return "", "", false, nil
	}
	for _, want := range names {
		s := &scanner{b: p}
		var (
			hit  bool
			v    string
			verr error
		)
		err := s.objectBytes(func(key []byte) error {
			if hit || !equalFold(key, want) {
				_, _, err := s.skip()
				return err
			}
			var null bool
			v, null, verr = scalar(s)
			hit = !null
			return nil
		})
		if err != nil {
			return "", "", false, err
		}
		if verr != nil {
			return "", want, true, fmt.Errorf("property %s: %w", want, verr)
		}
		if hit {
			return v, want, true, nil
		}
	}
	return "", "", false, nil
}

// scalar reads a value as text: string, number, bool, or a list of one of them.
func scalar(s *scanner) (v string, null bool, err error) {
	switch c := s.peek(); {
	case c == '"':
		v, err = s.str()
		return v, false, err
	case c == '[':
		n := 0
		err = s.array(func(int) error {
			n++
			if n > 1 {
				_, _, err := s.skip()
				return err
			}
			v, null, err = scalar(s)
			return err
		})
		switch {
		case err != nil:
			return "", false, err
		case n == 0:
			return "", true, nil
		case n > 1:
			return "", false, fmt.Errorf("a list of %d values where one was expected", n)
		}
		return v, null, nil
	case c == '{':
		_, _, err = s.skip()
		if err == nil {
			err = fmt.Errorf("an object where a value was expected")
		}
		return "", false, err
	}
	b, e, err := s.skip()
	if err != nil {
		return "", false, err
	}
	lit := string(s.b[b:e])
	switch lit {
	case "null":
		return "", true, nil
	case "true", "false":
		return lit, false, nil
	}
	// Shapefile numeric fields come out of ogr2ogr as 19 or 19.0: a code is the integer.
	if f, err := strconv.ParseFloat(lit, 64); err == nil && f == float64(int64(f)) && strings.ContainsAny(lit, ".eE") {
		return strconv.FormatInt(int64(f), 10), false, nil
	}
	return lit, false, nil
}

// lineReader counts lines under the JSON decoder, which buffers ahead: newline offsets
// read but not yet reached by a position query wait in a queue, so memory is bounded by
// the decoder's buffer, not the file.
type lineReader struct {
	r       io.Reader
	total   int64   // bytes read
	pending []int64 // offsets of newlines not yet passed by a query
	line    int64   // newlines before the last query
	lastNL  int64   // offset of the last newline passed, -1 before any
	init    bool
}

func (l *lineReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			break
		}
		l.pending = append(l.pending, l.total+int64(i+j))
		i += j + 1
	}
	l.total += int64(n)
	return n, err
}

// position returns the 1-based line and byte column of offset off. Queries come in
// increasing order (features are read forward); an earlier offset gets the line of the
// latest query and column 0.
func (l *lineReader) position(off int64) (int64, int) {
	if !l.init {
		l.init, l.lastNL = true, -1
	}
	if off < 0 {
		off = 0
	}
	k := 0
	for k < len(l.pending) && l.pending[k] < off {
		l.lastNL = l.pending[k]
		k++
	}
	l.line += int64(k)
	l.pending = append(l.pending[:0], l.pending[k:]...)
	if off <= l.lastNL {
		return l.line + 1, 0
	}
	return l.line + 1, int(off - l.lastNL)
}
