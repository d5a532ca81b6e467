package insee

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/coopol/coopol/internal/ingest"
)

// Address is one BAN address.
type Address struct {
	Line          int64
	ID            string
	Numero        int32 // -1 when empty
	Rep           string
	NomVoie       string
	CodePostal    string
	CodeInsee     string // arrondissement code in Paris, Lyon, Marseille
	NomCommune    string
	Lon, Lat      float64 // NaN when empty
	Certification int8    // 1, 0, or -1 when empty
}

// AddressReader streams a BAN adresses-XX.csv, gzipped or not.
type AddressReader struct {
	Dept   string // of every row, from code_insee
	csv    *ingest.CSV
	closer io.Closer
	col    map[string]int
	first  *Address
	row    Address
	n      int64
	onRows func(int64)
}

var banFileRe = regexp.MustCompile(`(?i)^adresses-([0-9]{2,3}|2[AB])\.csv`)

// DeptOf returns the département of a commune code: 3 characters overseas (97x, 98x),
// else 2.
func DeptOf(code string) string {
	if len(code) >= 3 && code[0] == '9' && (code[1] == '7' || code[1] == '8') {
		return code[:3]
	}
	if len(code) >= 2 {
		return code[:2]
	}
	return code
}

// NewAddressReader opens a BAN file (gzip detected by its magic bytes), reads its header
// and first row, which gives the département of the whole file. A file named
// adresses-XX must hold département XX.
func NewAddressReader(file string, r io.Reader, onRows func(int64)) (*AddressReader, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	a := &AddressReader{onRows: onRows}
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &ingest.ParseError{File: file, Err: fmt.Errorf("gzip: %w", err)}
		}
		a.closer = zr
		r = zr
	} else {
		r = br
	}
	c, err := ingest.NewCSV(file, r)
	if err != nil {
		return nil, err
	}
	a.csv, a.col = c, map[string]int{}
	for _, name := range []string{"id", "numero", "rep", "nom_voie", "code_postal", "code_insee", "nom_commune", "lon", "lat", "certification_commune"} {
		a.col[name] = c.Index(name)
	}
	for _, need := range []string{"id", "nom_voie", "code_insee", "lon", "lat"} {
		if a.col[need] < 0 {
			return nil, ingest.Errorf(file, 1, 0, "unknown header: no %s column (want the BAN adresses-XX.csv schema)", need)
		}
	}
	first, err := a.read()
	if err == io.EOF {
		return nil, ingest.Errorf(file, 2, 0, "no address rows")
	}
	if err != nil {
		return nil, err
	}
	a.Dept = DeptOf(first.CodeInsee)
	if m := banFileRe.FindStringSubmatch(filepath.Base(file)); m != nil && !strings.EqualFold(m[1], a.Dept) {
		return nil, c.Errorf(a.col["code_insee"], "file named for département %s holds commune %s", m[1], first.CodeInsee)
	}
	cp := *first
	a.first = &cp
	return a, nil
}

// Close releases the gzip reader, if any.
func (a *AddressReader) Close() error {
	if a.closer != nil {
		return a.closer.Close()
	}
	return nil
}

// Next returns the next address (reused between calls) or io.EOF.
func (a *AddressReader) Next() (*Address, error) {
	var ad *Address
	if a.first != nil {
		ad, a.first = a.first, nil
	} else {
		var err error
		ad, err = a.read()
		if err == io.EOF && a.onRows != nil {
			a.onRows(a.n % 8192)
		}
		if err != nil {
			return nil, err
		}
		if d := DeptOf(ad.CodeInsee); d != a.Dept {
			return nil, a.csv.Errorf(a.col["code_insee"], "commune %s is in département %s, the file holds %s", ad.CodeInsee, d, a.Dept)
		}
	}
	a.n++
	if a.onRows != nil && a.n%8192 == 0 {
		a.onRows(8192)
	}
	return ad, nil
}

func (a *AddressReader) read() (*Address, error) {
	rec, err := a.csv.Read()
	if err != nil {
		return nil, err
	}
	if len(rec) != len(a.csv.Header) {
		return nil, a.csv.Errorf(min(len(rec), len(a.csv.Header)), "%d fields, the header has %d", len(rec), len(a.csv.Header))
	}
	get := func(name string) string {
		if i := a.col[name]; i >= 0 {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	ad := &a.row
	*ad = Address{Line: a.csv.Line(), ID: get("id"), Rep: get("rep"), NomVoie: get("nom_voie"),
		CodePostal: get("code_postal"), CodeInsee: get("code_insee"), NomCommune: get("nom_commune"),
		Numero: -1, Certification: -1, Lon: math.NaN(), Lat: math.NaN()}
	if ad.ID == "" {
		return nil, a.csv.Errorf(a.col["id"], "empty id")
	}
	if !validCommune(ad.CodeInsee) {
		return nil, a.csv.Errorf(a.col["code_insee"], "code_insee %q: want 5 characters", ad.CodeInsee)
	}
	if s := get("numero"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 0 {
			return nil, a.csv.Errorf(a.col["numero"], "numero %q: not a whole number", s)
		}
		ad.Numero = int32(n)
	}
	for _, f := range []struct {
		name  string
		dst   *float64
		limit float64
	}{{"lon", &ad.Lon, 180}, {"lat", &ad.Lat, 90}} {
		s := get(f.name)
		if s == "" {
			continue
		}
		v, err := parseFloat(s)
		if err != nil || math.Abs(v) > f.limit {
			return nil, a.csv.Errorf(a.col[f.name], "%s %q: not a coordinate", f.name, s)
		}
		*f.dst = v
	}
	switch s := get("certification_commune"); s {
	case "":
	case "1":
		ad.Certification = 1
	case "0":
		ad.Certification = 0
	default:
		return nil, a.csv.Errorf(a.col["certification_commune"], "certification_commune %q: want 0 or 1", s)
	}
	return ad, nil
}
