package insee

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/realdata"
)

// readAll reads every row of a census file, keeping the values by IRIS and variable.
func readAll(t *testing.T, r *CensusReader) map[string]map[string]float64 {
	t.Helper()
	out := map[string]map[string]float64{}
	for {
		row, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]float64{}
		for i, v := range r.Variables {
			m[v.Name] = row.Values[i]
		}
		out[row.IRIS] = m
	}
}

// The pre-2017 identification columns (LIBCOM, LIBIRIS, …) are text: the reader used to
// take all but four of them for variables and refused the file at LIBCOM, line 2.
func TestCensusReader_ParisPre2017(t *testing.T) {
	tests := []struct {
		file    string
		vintage int
		nvars   int
		sums    map[string]float64
	}{
		{"paris/diplomes-2010_paris.csv", 2010, 38, map[string]float64{"P10_NSCOL15P": 1615019, "P10_NSCOL15P_DIPL0": 210207, "P10_POP0205": 89094}},
		{"paris/diplomes-2015_paris.csv", 2015, 29, map[string]float64{"P15_NSCOL15P": 1595026, "P15_NSCOL15P_DIPLMIN": 301219, "P15_POP0205": 85092}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := realdata.Path(t, tc.file)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := NewCensusReader(path, f, CensusOptions{Theme: "diplomes-formation"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Layout != LayoutCensus || r.Vintage != tc.vintage || len(r.Variables) != tc.nvars {
				t.Fatalf("layout %s, vintage %d, %d variables; want %s, %d, %d", r.Layout, r.Vintage, len(r.Variables), LayoutCensus, tc.vintage, tc.nvars)
			}
			if r.Variables[0].Col != 12 {
				t.Errorf("first variable at column %d, want 12 (after the 12 identification columns)", r.Variables[0].Col)
			}
			rows := readAll(t, r)
			if len(rows) != 992 {
				t.Fatalf("%d IRIS, want 992", len(rows))
			}
			for name, want := range tc.sums {
				got := 0.0
				for _, m := range rows {
					got += m[name]
				}
				if got != want {
					t.Errorf("Σ %s = %v, want %v", name, got, want)
				}
			}
		})
	}
}

// A census file re-saved with ',' (and French decimal commas, quoted) reads as the
// original with ';' and decimal points.
func TestCensusReader_ResavedWithCommas(t *testing.T) {
	original := "IRIS;COM;TYP_IRIS;LAB_IRIS;P20_POP;P20_POP0014\n" +
		"751010101;75101;H;1;1234.56789;12.5\n" +
		"751010102;75101;A;3;0;\n" +
		"010010000;01001;Z;5;806;31.4843129955518\n"
	resaved := "IRIS,COM,TYP_IRIS,LAB_IRIS,P20_POP,P20_POP0014\r\n" +
		"751010101,75101,H,1,\"1234,56789\",\"12,5\"\r\n" +
		"751010102,75101,A,3,0,\r\n" +
		"010010000,01001,Z,5,806,\"31,4843129955518\"\r\n"
	read := func(name, body string) map[string]map[string]float64 {
		r, err := NewCensusReader(name, strings.NewReader(body), CensusOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Scope() != "evol-struct-pop/2020" || len(r.Variables) != 2 {
			t.Fatalf("%s: scope %s, %d variables", name, r.Scope(), len(r.Variables))
		}
		return readAll(t, r)
	}
	a := read("base-ic-evol-struct-pop-2020.CSV", original)
	b := read("base-ic-evol-struct-pop-2020.csv", resaved)
	if len(a) != 3 || len(b) != 3 {
		t.Fatalf("%d and %d rows, want 3", len(a), len(b))
	}
	for iris, m := range a {
		for name, v := range m {
			w := b[iris][name]
			if v != w && !(math.IsNaN(v) && math.IsNaN(w)) {
				t.Errorf("%s %s: %v in the original, %v re-saved", iris, name, v, w)
			}
		}
	}
	if a["751010101"]["P20_POP"] != 1234.56789 || !math.IsNaN(b["751010102"]["P20_POP0014"]) {
		t.Errorf("values: %v", b)
	}

	// The real Paris file (comma-separated) and its ';' re-save read the same.
	path := realdata.Path(t, "paris/diplomes-2015_paris.csv")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var semi bytes.Buffer
	w := csv.NewWriter(&semi)
	w.Comma = ';'
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	open := func(body []byte) map[string]map[string]float64 {
		r, err := NewCensusReader("diplomes-2015_paris.csv", bytes.NewReader(body), CensusOptions{Theme: "diplomes-formation"})
		if err != nil {
			t.Fatal(err)
		}
		return readAll(t, r)
	}
	c, s := open(data), open(semi.Bytes())
	if len(c) != 992 || len(s) != 992 || c["751010101"]["P15_NSCOL15P"] != 739 || s["751010101"]["P15_NSCOL15P"] != 739 {
		t.Fatalf("%d and %d rows; first IRIS %v / %v", len(c), len(s), c["751010101"]["P15_NSCOL15P"], s["751010101"]["P15_NSCOL15P"])
	}
	for iris, m := range c {
		for name, v := range m {
			if s[iris][name] != v {
				t.Fatalf("%s %s: %v with ',', %v with ';'", iris, name, v, s[iris][name])
			}
		}
	}
}

func TestCensusReader_Refusals(t *testing.T) {
	tests := []struct {
		name, file, body string
		opt              CensusOptions
		pos, cause       string
	}{
		{"two vintages", "base-ic-diplomes-formation-2015.csv",
			"IRIS,COM,TYP_IRIS,LAB_IRIS,P15_NSCOL15P,P10_NSCOL15P\n", CensusOptions{},
			":1:6:", `column "P10_NSCOL15P" is 2010, but column "P15_NSCOL15P" is 2015: a file holds one vintage`},
		{"vintage flag against the prefixes", "x.csv",
			"IRIS;COM;TYP_IRIS;P15_POP\n", CensusOptions{Theme: "pop", Vintage: 2016},
			":1:4:", "--vintage says 2016"},
		{"filosofi of two years", "f.csv",
			"IRIS;DISP_MED15;DISP_MED16\n", CensusOptions{},
			":1:3:", "a file holds one vintage"},
		{"census column among filosofi ones", "f.csv",
			"IRIS;DISP_MED15;P15_POP\n", CensusOptions{},
			":1:3:", "want DISP_"},
		{"no IRIS", "base-ic-x-2015.csv", "CODE;P15_POP\n", CensusOptions{}, ":1:", "no IRIS column"},
		{"mixed decimal marks", "base-ic-x-2015.csv",
			"IRIS;COM;TYP_IRIS;P15_POP\n751010101;75101;H;1,5\n751010102;75101;H;2.5\n", CensusOptions{},
			":3:4:", `"2.5" has a decimal '.'`},
		{"text in a value column", "base-ic-x-2015.csv",
			"IRIS;COM;TYP_IRIS;P15_POP\n751010101;75101;H;Paris\n", CensusOptions{},
			":2:4:", `P15_POP: not a number: "Paris"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewCensusReader(tc.file, strings.NewReader(tc.body), tc.opt)
			if err == nil {
				for err == nil {
					_, err = r.Next()
				}
				if err == io.EOF {
					t.Fatal("accepted")
				}
			}
			if _, ok := ingest.AsParseError(err); !ok || !strings.Contains(err.Error(), tc.file+tc.pos) || !strings.Contains(err.Error(), tc.cause) {
				t.Fatalf("err = %v, want %s%s … %s", err, tc.file, tc.pos, tc.cause)
			}
		})
	}
}

// A census spreadsheet of INSEE saved as CSV starts with title rows (title, source,
// notes, long labels) before the header: they are skipped, and errors still name the
// file's own lines.
func TestCensusReader_TitleRows(t *testing.T) {
	data, err := os.ReadFile(realdata.Path(t, "paris/diplomes-2015_paris.csv"))
	if err != nil {
		t.Fatal(err)
	}
	titles := "Diplômes - Formation en 2015,,,,\n" +
		"\"Recensement de la population - Base infracommunale (IRIS)\",,,,\n" +
		",,,,\n" +
		"Zone géographique : France,,,,\n" +
		"Code géographique IRIS,Région,Département,Unité urbaine,Commune\n"
	file := titles + string(data)
	r, err := NewCensusReader("base-ic-diplomes-formation-2015.csv", strings.NewReader(file), CensusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rows := readAll(t, r)
	sum := 0.0
	for _, m := range rows {
		sum += m["P15_NSCOL15P"]
	}
	if len(rows) != 992 || sum != 1595026 || r.Vintage != 2015 {
		t.Fatalf("%d rows, Σ P15_NSCOL15P = %v, vintage %d", len(rows), sum, r.Vintage)
	}
	lines := strings.SplitAfter(file, "\n")
	fields := strings.Split(lines[8], ",") // the third IRIS, line 9 of the file
	fields[12] = "x"
	lines[8] = strings.Join(fields, ",")
	r, err = NewCensusReader("base-ic-diplomes-formation-2015.csv", strings.NewReader(strings.Join(lines, "")), CensusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		var row *CensusRow
		if row, err = r.Next(); err == nil && row.IRIS == "751010102" && row.Line != 8 {
			t.Errorf("IRIS 751010102 at line %d, want 8", row.Line)
		}
	}
	if !strings.Contains(err.Error(), "base-ic-diplomes-formation-2015.csv:9:13: P15_POP0205: not a number") {
		t.Errorf("err = %v, want line 9 column 13", err)
	}
}

// A spreadsheet reads codes as numbers and drops the leading zero of départements 01–09:
// it is put back, and reported once per column.
func TestCensusReader_LostLeadingZeros(t *testing.T) {
	body := "IRIS;COM;TYP_IRIS;LAB_IRIS;P20_POP\n" +
		"10010000;1001;Z;5;806\n" +
		"10040101;1004;H;1;2000\n" +
		"751010101;75101;H;1;1634\n"
	r, err := NewCensusReader("base-ic-evol-struct-pop-2020.csv", strings.NewReader(body), CensusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, row.IRIS+"/"+row.COM)
	}
	if strings.Join(got, " ") != "010010000/01001 010040101/01004 751010101/75101" {
		t.Errorf("codes %v", got)
	}
	if len(r.Warnings) != 2 || r.Warnings[0].Code != "code_zero_restored" || r.Warnings[0].Line != 2 || r.Warnings[1].Code != "code_zero_restored" {
		t.Errorf("warnings %+v, want one per column at line 2", r.Warnings)
	}
	// Seven digits, or eight starting with a zero, are truncated codes, not lost zeros.
	for _, code := range []string{"1001000", "01002000"} {
		r, err = NewCensusReader("base-ic-evol-struct-pop-2020.csv", strings.NewReader("IRIS;COM;TYP_IRIS;P20_POP\n"+code+";01001;Z;806\n"), CensusOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), ":2:1: IRIS code") {
			t.Errorf("%s: err = %v", code, err)
		}
	}
}

// An identification column of a set the reader does not list (LIBARR here) is text: it
// is left out and reported, not refused at line 2 as "not a number".
func TestCensusReader_UnknownIdentificationColumn(t *testing.T) {
	body := "IRIS;COM;LIBARR;TYP_IRIS;P15_POP;P15_POP0014\n751010101;75101;Paris 1er;H;1634;120\n"
	r, err := NewCensusReader("base-ic-evol-struct-pop-2015.csv", strings.NewReader(body), CensusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Variables) != 2 || r.Variables[0].Name != "P15_POP" {
		t.Fatalf("variables %+v", r.Variables)
	}
	rows := readAll(t, r)
	if rows["751010101"]["P15_POP"] != 1634 {
		t.Errorf("rows %v", rows)
	}
	if len(r.Warnings) != 1 || r.Warnings[0].Code != "column_ignored" || r.Warnings[0].Key != "LIBARR" || r.Warnings[0].Line != 1 {
		t.Errorf("warnings %+v, want one column_ignored for LIBARR on line 1", r.Warnings)
	}
	// With --vintage, unprefixed columns are variables: LIBARR is then refused as text.
	r, err = NewCensusReader("base-ic-evol-struct-pop-2015.csv", strings.NewReader(body), CensusOptions{Vintage: 2015})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), ":2:3: LIBARR: not a number") {
		t.Errorf("err = %v", err)
	}
}

// Filosofi by IRIS before 2018: IRIS, LIBIRIS, COM, LIBCOM first, year suffix 15, and
// in a French re-save decimal commas inside quoted fields. Withheld figures (ns, nd, s)
// are not available, never zero.
func TestCensusReader_Filosofi2015Layout(t *testing.T) {
	body := "IRIS,LIBIRIS,COM,LIBCOM,DISP_TP6015,DISP_Q115,DISP_MED15,DISP_S80S2015,DISP_NOTE15\r\n" +
		"751010101,\"Saint-Germain l'Auxerrois 1\",75101,Paris 1er Arrondissement,\"9,8\",\"21 345,6\",\"35123,4\",\"4,1\",0\r\n" +
		"751010102,Saint-Germain l'Auxerrois 2,75101,Paris 1er Arrondissement,ns,ns,\"30000\",nd,1\r\n" +
		"751010103,Saint-Germain l'Auxerrois 3,75101,Paris 1er Arrondissement,s,,\"28 000,5\",ND,2\r\n"
	r, err := NewCensusReader("BASE_TD_FILO_DISP_IRIS_2015.csv", strings.NewReader(body), CensusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Layout != LayoutFiloIRIS || r.Scope() != "filosofi-disp/2015" || len(r.Variables) != 5 ||
		r.Variables[0] != (Variable{"DISP_TP6015", 2015, Intensive, 4}) {
		t.Fatalf("layout %s, scope %s, variables %+v", r.Layout, r.Scope(), r.Variables)
	}
	rows := readAll(t, r)
	want := map[string]map[string]float64{
		"751010101": {"DISP_TP6015": 9.8, "DISP_Q115": 21345.6, "DISP_MED15": 35123.4, "DISP_S80S2015": 4.1, "DISP_NOTE15": 0},
		"751010102": {"DISP_TP6015": math.NaN(), "DISP_Q115": math.NaN(), "DISP_MED15": 30000, "DISP_S80S2015": math.NaN(), "DISP_NOTE15": 1},
		"751010103": {"DISP_TP6015": math.NaN(), "DISP_Q115": math.NaN(), "DISP_MED15": 28000.5, "DISP_S80S2015": math.NaN(), "DISP_NOTE15": 2},
	}
	for iris, m := range want {
		for name, w := range m {
			g := rows[iris][name]
			if g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
				t.Errorf("%s %s = %v, want %v", iris, name, g, w)
			}
		}
	}
}

// censusHeaders are real headers: the seeds of the header fuzzer.
var censusHeaders = []string{
	"IRIS,REG,DEP,UU2010,COM,LIBCOM,TRIRIS,GRD_QUART,LIBIRIS,TYP_IRIS,MODIF_IRIS,LAB_IRIS,P10_POP0205,P10_POP0610,P10_NSCOL15P,P10_NSCOL15P_DIPL0",
	"IRIS,REG,DEP,UU2010,COM,LIBCOM,TRIRIS,GRD_QUART,LIBIRIS,TYP_IRIS,MODIF_IRIS,LAB_IRIS,P15_POP0205,P15_NSCOL15P,P15_NSCOL15P_DIPLMIN",
	"IRIS;COM;TYP_IRIS;LAB_IRIS;P20_POP;P20_POP0002;C20_POP15P;C20_POP15P_CS1",
	"IRIS;COM;TYP_IRIS;LAB_IRIS;P22_POP;C22_POP15P_STAT_GSEC11_21",
	"IRIS;DISP_TP6018;DISP_Q118;DISP_MED18;DISP_S80S2018;DISP_NOTE18",
	"IRIS;LIBIRIS;COM;LIBCOM;DISP_TP6015;DISP_Q115;DISP_MED15;DISP_S80S2015",
}

// FuzzCensusHeader: whatever the header, the reader refuses it with a position or
// accepts it with variables that are no identification column and share one vintage.
func FuzzCensusHeader(f *testing.F) {
	for _, h := range censusHeaders {
		f.Add(h, "")
		f.Add(h, "diplomes")
	}
	f.Fuzz(func(t *testing.T, header, theme string) {
		r, err := NewCensusReader("base-ic-x-2015.csv", strings.NewReader(header+"\n"), CensusOptions{Theme: theme})
		if err != nil {
			if _, ok := ingest.AsParseError(err); !ok {
				t.Fatalf("header error is not a ParseError: %v", err)
			}
			return
		}
		if len(r.Variables) == 0 || r.Vintage == 0 || r.Theme == "" {
			t.Fatalf("accepted without variables, vintage or theme: %+v", r)
		}
		for _, v := range r.Variables {
			if isIDColumn(v.Name) || v.Vintage != r.Vintage || v.Col == r.iris || v.Col == r.com || v.Col == r.typ {
				t.Fatalf("variable %+v beside vintage %d", v, r.Vintage)
			}
		}
		if _, err := r.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("Next on an empty body = %v", err)
		}
	})
}

// BenchmarkCensusReader_Paris2010 reads the real 2010 file (12 identification columns,
// 38 variables): the cost of recognising identification columns and sniffing decimals.
func BenchmarkCensusReader_Paris2010(b *testing.B) {
	data, err := os.ReadFile(realdata.Path(b, "paris/diplomes-2010_paris.csv"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := NewCensusReader("diplomes-2010_paris.csv", bytes.NewReader(data), CensusOptions{Theme: "diplomes-formation"})
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
