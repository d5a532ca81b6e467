package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// DecodeText returns a reader of UTF-8 text from r, which holds UTF-8 (with or without a
// byte-order mark) or Windows-1252, the Ministère's encoding before 2024. The choice is
// made at the first non-ASCII character, wherever it is in the stream, so a file whose
// first megabytes are ASCII is still decoded right.
func DecodeText(r io.Reader) io.Reader {
	return &autoDecoder{src: bufio.NewReaderSize(r, 64<<10)}
}

type autoDecoder struct {
	src     *bufio.Reader
	decided io.Reader
	started bool
}

func (d *autoDecoder) Read(p []byte) (int, error) {
	if d.decided != nil {
		return d.decided.Read(p)
	}
	if !d.started {
		d.started = true
		if bom, _ := d.src.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
			d.src.Discard(3)
			d.decided = d.src
			return d.decided.Read(p)
		}
	}
	buf, err := d.src.Peek(d.src.Size())
	if len(buf) == 0 {
		return 0, err
	}
	i := bytes.IndexFunc(buf, func(r rune) bool { return r >= utf8.RuneSelf })
	if i < 0 { // all ASCII so far: pass through, undecided
		n := copy(p, buf)
		d.src.Discard(n)
		return n, nil
	}
	if i > 0 { // hand over the ASCII prefix first
		n := copy(p, buf[:i])
		d.src.Discard(n)
		return n, nil
	}
	if r, size := utf8.DecodeRune(buf); r == utf8.RuneError && size <= 1 {
		d.decided = charmap.Windows1252.NewDecoder().Reader(d.src)
	} else {
		d.decided = d.src
	}
	return d.decided.Read(p)
}

// SniffDelimiter returns the field separator of a delimited header line: the most
// frequent of ';', ',' and tab outside quotes. Sources disagree (`;` for the Ministère
// and INSEE, `,` for the COG and Filosofi grid, tab for some municipal 2020 copies).
func SniffDelimiter(header string) rune {
	counts := map[rune]int{}
	inQuote := false
	for _, r := range header {
		switch {
		case r == '"':
			inQuote = !inQuote
		case !inQuote && (r == ';' || r == ',' || r == '\t'):
			counts[r]++
		}
	}
	best, n := ';', 0
	for _, r := range []rune{';', '\t', ','} {
		if counts[r] > n {
			best, n = r, counts[r]
		}
	}
	return best
}

// CSV reads a delimited text file record by record, keeping the position of every
// field so errors can name line and column.
type CSV struct {
	File   string
	Header []string
	r      *csv.Reader
	rec    []string
}

// NewCSV decodes r (UTF-8 or Windows-1252), sniffs the delimiter from the header line
// and reads the header. Rows may have any number of fields: ragged legacy files are
// the norm, and each parser checks the widths it needs.
func NewCSV(file string, r io.Reader) (*CSV, error) {
	br := bufio.NewReaderSize(DecodeText(r), 256<<10)
	line, err := br.Peek(br.Size())
	if len(line) == 0 {
		if err == nil || err == io.EOF {
			return nil, Errorf(file, 1, 0, "empty file")
		}
		return nil, &ParseError{File: file, Err: err}
	}
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	if !utf8.Valid(line) {
		return nil, Errorf(file, 1, 0, "not text: header is neither UTF-8 nor Windows-1252")
	}
	cr := csv.NewReader(br)
	cr.Comma = SniffDelimiter(string(line))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.LazyQuotes = true // municipal 2020 list names carry stray quotes
	c := &CSV{File: file, r: cr}
	h, err := cr.Read()
	if err != nil {
		return nil, c.wrap(err)
	}
	c.Header = make([]string, len(h))
	for i, s := range h {
		c.Header[i] = strings.TrimSpace(strings.Trim(s, "\ufeff"))
	}
	return c, nil
}

// Comma returns the sniffed delimiter.
func (c *CSV) Comma() rune { return c.r.Comma }

// Read returns the next record (reused between calls) or io.EOF. Blank lines are skipped.
func (c *CSV) Read() ([]string, error) {
	rec, err := c.r.Read()
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, c.wrap(err)
	}
	c.rec = rec
	return rec, nil
}

// Line returns the line of the last record read.
func (c *CSV) Line() int64 {
	l, _ := c.r.FieldPos(0)
	return int64(l)
}

// Errorf returns a ParseError at field i (0-based) of the last record read.
func (c *CSV) Errorf(i int, format string, args ...any) error {
	line, _ := c.r.FieldPos(0)
	return &ParseError{File: c.File, Line: int64(line), Col: i + 1, Err: fmt.Errorf(format, args...)}
}

func (c *CSV) wrap(err error) error {
	if pe, ok := err.(*csv.ParseError); ok {
		return &ParseError{File: c.File, Line: int64(pe.Line), Col: pe.Column, Err: pe.Err}
	}
	return &ParseError{File: c.File, Err: err}
}

// Index returns the position of the header field named name, compared without case,
// accents or surrounding spaces, or -1.
func (c *CSV) Index(names ...string) int {
	for _, n := range names {
		k := FoldName(n)
		for i, h := range c.Header {
			if FoldName(h) == k {
				return i
			}
		}
	}
	return -1
}

var foldReplacer = strings.NewReplacer(
	"é", "e", "è", "e", "ê", "e", "ë", "e", "É", "e", "È", "e", "à", "a", "â", "a", "ô", "o",
	"î", "i", "ï", "i", "û", "u", "ù", "u", "ç", "c", "°", "", "\u00a0", " ",
)

// FoldName normalises a column name for comparison: lower case, no accents, single spaces.
func FoldName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = foldReplacer.Replace(s)
	return strings.Join(strings.Fields(s), " ")
}

// ParseCount parses a count. Re-exports write "1002", "1002.0" or "1 002"; anything that
// is not a whole non-negative number is an error.
func ParseCount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("negative count %q", s)
		}
		return n, nil
	}
	f, err := ParseDecimal(s)
	if err != nil || f != math.Trunc(f) || f < 0 || f > 1<<53 {
		return 0, fmt.Errorf("not a count: %q", s)
	}
	return int64(f), nil
}

// ParseDecimal parses a French or English decimal: "16,74", "82,59%", "51.8", "1 234,5".
// The empty string is an error: callers decide what a missing value means.
func ParseDecimal(s string) (float64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(t, "%")
	t = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\u00a0', '\u202f':
			return -1
		case ',':
			return '.'
		}
		return r
	}, t)
	if t == "" {
		return 0, fmt.Errorf("empty number")
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	return f, nil
}
