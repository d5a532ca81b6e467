package ingest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/coopol/coopol/internal/errs"
)

func TestDecodeText(t *testing.T) {
	cp1252 := func(s string) []byte {
		b, err := charmap.Windows1252.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	longASCII := strings.Repeat("Code;Inscrits;Votants\r\n", 10000) // past the 64 KiB peek window
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"utf8", []byte("Libellé;MÉLENCHON;Œuvre"), "Libellé;MÉLENCHON;Œuvre"},
		{"utf8 bom", append([]byte{0xEF, 0xBB, 0xBF}, "Libellé"...), "Libellé"},
		{"cp1252", cp1252("Libellé;MÉLENCHON;Œuvre"), "Libellé;MÉLENCHON;Œuvre"},
		{"cp1252 after a long ascii prefix", append([]byte(longASCII), cp1252("Prénom;Zoé")...), longASCII + "Prénom;Zoé"},
		{"utf8 after a long ascii prefix", []byte(longASCII + "Prénom;Zoé"), longASCII + "Prénom;Zoé"},
		{"ascii only", []byte("a;b;c"), "a;b;c"},
		{"empty", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := io.ReadAll(DecodeText(bytes.NewReader(tc.in)))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q…, want %q…", trunc(string(got)), trunc(tc.want))
			}
		})
	}
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[len(s)-60:]
	}
	return s
}

func TestSniffDelimiter(t *testing.T) {
	tests := map[string]rune{
		"Code du département;Libellé;Inscrits":             ';',
		"TYPECOM,COM,REG,DEP":                              ',',
		"a\tb\tc;d":                                        '\t',
		`"Libellé, long";"x";"y"`:                          ';',
		"idcar_200m,idcar_1km,idcar_nat,i_est_200,ind,men": ',',
	}
	for header, want := range tests {
		if got := SniffDelimiter(header); got != want {
			t.Errorf("SniffDelimiter(%q) = %q, want %q", header, got, want)
		}
	}
}

func TestParseNumbers(t *testing.T) {
	counts := map[string]int64{"1002": 1002, " 12 ": 12, "1002.0": 1002, "1 002": 1002, "0": 0}
	for in, want := range counts {
		if got, err := ParseCount(in); err != nil || got != want {
			t.Errorf("ParseCount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "abc", "-3", "12.5", "1e400", "NaN"} {
		if _, err := ParseCount(bad); err == nil {
			t.Errorf("ParseCount(%q): want an error", bad)
		}
	}
	decimals := map[string]float64{"16,74": 16.74, "82,59%": 82.59, "51.8": 51.8, "1 234,5": 1234.5, "-0,5": -0.5}
	for in, want := range decimals {
		if got, err := ParseDecimal(in); err != nil || got != want {
			t.Errorf("ParseDecimal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "%", "x", "NaN", "Inf"} {
		if _, err := ParseDecimal(bad); err == nil {
			t.Errorf("ParseDecimal(%q): want an error", bad)
		}
	}
}

func TestCSV(t *testing.T) {
	in := "Code BV;Libellé commune;Voix 1\r\n0001;Antony;12\r\n\r\n0002;\"Bourg-la-Reine\";x\r\n"
	c, err := NewCSV("t.csv", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if c.Comma() != ';' || len(c.Header) != 3 {
		t.Fatalf("comma %q header %q", c.Comma(), c.Header)
	}
	if i := c.Index("libelle commune"); i != 1 {
		t.Errorf("Index(libelle commune) = %d, want 1", i)
	}
	if i := c.Index("absent", "VOIX 1"); i != 2 {
		t.Errorf("Index(absent, VOIX 1) = %d, want 2", i)
	}
	rec, err := c.Read()
	if err != nil || rec[1] != "Antony" || c.Line() != 2 {
		t.Fatalf("first record %q line %d err %v", rec, c.Line(), err)
	}
	rec, err = c.Read()
	if err != nil || rec[1] != "Bourg-la-Reine" || c.Line() != 4 {
		t.Fatalf("second record %q line %d err %v", rec, c.Line(), err)
	}
	perr := c.Errorf(2, "not a count: %q", rec[2])
	if perr.Error() != `t.csv:4:3: not a count: "x"` {
		t.Errorf("Errorf = %q", perr.Error())
	}
	if !errors.Is(perr, errs.ErrInvalid) {
		t.Error("a ParseError must unwrap to errs.ErrInvalid")
	}
	if _, err := c.Read(); err != io.EOF {
		t.Errorf("after the last record: %v, want io.EOF", err)
	}

	if _, err := NewCSV("empty.csv", strings.NewReader("")); err == nil || !strings.HasPrefix(err.Error(), "empty.csv:1") {
		t.Errorf("empty file: err = %v", err)
	}
}

// FuzzCSV: whatever the bytes, the CSV reader returns records or a ParseError; it
// never panics and never loops.
func FuzzCSV(f *testing.F) {
	f.Add([]byte("a;b;c\n1;2;3\n"))
	f.Add([]byte("\"Libell\xe9\";x\r\n\"1\"\"2\";3"))
	f.Add([]byte("\xef\xbb\xbfIRIS,COM\n010010000,01001\n"))
	f.Add([]byte("a\tb\n\"unterminated\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := NewCSV("fuzz.csv", bytes.NewReader(data))
		if err != nil {
			if _, ok := AsParseError(err); !ok {
				t.Fatalf("NewCSV error is not a ParseError: %v", err)
			}
			return
		}
		for i := 0; i < len(data)+2; i++ {
			if _, err := c.Read(); err != nil {
				if err != io.EOF {
					if _, ok := AsParseError(err); !ok {
						t.Fatalf("Read error is not a ParseError: %v", err)
					}
				}
				return
			}
		}
		t.Fatal("more records than bytes")
	})
}
