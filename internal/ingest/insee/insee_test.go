package insee

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/realdata"
)

func TestNewCensusReader_Header(t *testing.T) {
	tests := []struct {
		name, file, header string
		opt                CensusOptions
		layout, scope      string
		first              Variable
		n                  int
	}{
		{"2020 population", "base-ic-evol-struct-pop-2020.CSV", "IRIS;COM;TYP_IRIS;LAB_IRIS;P20_POP;C20_POP15P_CS1",
			CensusOptions{}, LayoutCensus, "evol-struct-pop/2020", Variable{"P20_POP", 2020, Extensive, 4}, 2},
		{"2022 PCS columns", "base-ic-evol-struct-pop-2022.csv", "IRIS;COM;TYP_IRIS;LAB_IRIS;P22_POP;C22_POP15P_STAT_GSEC11_21",
			CensusOptions{}, LayoutCensus, "evol-struct-pop/2022", Variable{"P22_POP", 2022, Extensive, 4}, 2},
		{"theme and vintage flags", "export.csv", "IRIS;COM;TYP_IRIS;LAB_IRIS;POP",
			CensusOptions{Theme: "logement", Vintage: 2021}, LayoutCensus, "logement/2021", Variable{"POP", 2021, Extensive, 4}, 1},
		{"vintage from the columns", "pop.csv", "IRIS;COM;TYP_IRIS;LAB_IRIS;P19_POP",
			CensusOptions{Theme: "pop"}, LayoutCensus, "pop/2019", Variable{"P19_POP", 2019, Extensive, 4}, 1},
		{"filosofi", "income_paris_2018.csv", "IRIS;DISP_TP6018;DISP_MED18;DISP_S80S2018",
			CensusOptions{}, LayoutFiloIRIS, "filosofi-disp/2018", Variable{"DISP_TP6018", 2018, Intensive, 1}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewCensusReader(tc.file, strings.NewReader(tc.header+"\n"), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if r.Layout != tc.layout || r.Scope() != tc.scope || len(r.Variables) != tc.n || r.Variables[0] != tc.first {
				t.Fatalf("got %s %s %d %+v", r.Layout, r.Scope(), len(r.Variables), r.Variables[0])
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("Next on an empty body = %v, want io.EOF", err)
			}
		})
	}
	if _, err := NewCensusReader("export.csv", strings.NewReader("IRIS;COM;TYP_IRIS;P20_POP\n"), CensusOptions{}); err == nil || !strings.Contains(err.Error(), "--theme") {
		t.Errorf("no theme: err = %v", err)
	}
}

func TestCensusReader_Filosofi(t *testing.T) {
	path := realdata.Path(t, "national/filosofi_disp_iris_2018_france.csv")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var progress int64
	r, err := NewCensusReader(path, f, CensusOptions{OnRows: func(n int64) { progress += n }})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Variables) != 28 || r.Vintage != 2018 {
		t.Fatalf("%d variables, vintage %d", len(r.Variables), r.Vintage)
	}
	var rows, emptyTP60, prefix92 int
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows++
		if math.IsNaN(row.Values[0]) {
			emptyTP60++
		}
		if strings.HasSuffix(row.IRIS, "0000") {
			t.Errorf("%s: the file has no non-split communes", row.IRIS)
		}
		switch row.IRIS[:5] {
		case "92002", "92014", "92019", "92071":
			prefix92++
		}
	}
	if rows != 12395 || emptyTP60 != 2881 || prefix92 != 57 || progress != 12395 {
		t.Errorf("rows %d, empty DISP_TP6018 %d, 92-13 rows %d, progress %d; want 12395, 2881, 57, 12395", rows, emptyTP60, prefix92, progress)
	}
}

func TestValidIRIS(t *testing.T) {
	for s, want := range map[string]bool{
		"010010000": true, "2A0040101": true, "2B0330000": true, "751010101": true, "974110101": true,
		"01001000": false, "2C0040101": false, "0100100001": false, "01001 000": false, "": false,
	} {
		if got := ValidIRIS(s); got != want {
			t.Errorf("ValidIRIS(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestParseCellID(t *testing.T) {
	tests := []struct {
		id               string
		srid, size, n, e int
		wantErr          bool
	}{
		{"CRS3035RES200mN2875800E3756000", 3035, 200, 2875800, 3756000, false},
		{"CRS3035RES1000mN2875000E3756000", 3035, 1000, 2875000, 3756000, false},
		{"CRS3035RES200mN2875801E3756000", 0, 0, 0, 0, true},
		{"CRS3035RES0mN0E0", 0, 0, 0, 0, true},
		{"CRS3035RES200mN-200E3756000", 0, 0, 0, 0, true},
		{"3035RES200mN2875800E3756000", 0, 0, 0, 0, true},
		{"CRS3035RES200mN2875800", 0, 0, 0, 0, true},
		{"", 0, 0, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			srid, size, n, e, err := ParseCellID(tc.id)
			if (err != nil) != tc.wantErr || srid != tc.srid || size != tc.size || n != tc.n || e != tc.e {
				t.Fatalf("= %d %d %d %d %v", srid, size, n, e, err)
			}
		})
	}
}

func TestGridReader_GeoJSON(t *testing.T) {
	path := realdata.Path(t, "hds9213/filosofi2019_carreaux200m_9213.geojson")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewGridReader(path, f, GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var cells, est, half int
	var ind, men float64
	lcog := map[string]int{}
	for {
		c, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		cells++
		ind += c.Vars[0]
		men += c.Vars[1]
		lcog[c.LcogGeo]++
		if c.IEst200 == 1 {
			est++
		}
		if c.IEst200 == 0 && c.Vars[0]-math.Trunc(c.Vars[0]) == 0.5 {
			half++
		}
		// Identities of data-formats.md §7, true in every fixture cell.
		var ages float64
		for _, v := range c.Vars[17:28] {
			ages += v
		}
		if math.Abs(ages-c.Vars[0]) > 1e-9 || math.Abs(c.Vars[9]+c.Vars[10]-c.Vars[1]) > 1e-9 {
			t.Errorf("%s: age bands or housing types do not sum", c.ID)
		}
	}
	if cells != 318 || est != 32 || math.Round(ind*10) != 1010530 || math.Round(men*10) != 432511 {
		t.Errorf("cells %d, i_est_200 %d, Σ ind %.1f, Σ men %.1f", cells, est, ind, men)
	}
	if lcog["92002"] != 161 || lcog["92019"] != 82 || lcog["92071"] != 46 || lcog["92014"] != 29 {
		t.Errorf("lcog_geo = %v", lcog)
	}
	if half != 129 {
		t.Errorf("cells with ind ending in .5 and not imputed: %d, want 129 (pitfall 17)", half)
	}
}

func TestGridReader_CSVLatin1(t *testing.T) {
	// A 2017-style capitalised header with an extra column whose name is Latin-1.
	data := []byte("Idcar_200m,I_est_200,Ind,Men,lcog_geo,Libell\xe9\nCRS3035RES200mN2875800E3756000,1,0.5,0.4,2A004,Ajaccio\n")
	r, err := NewGridReader("Filosofi2017_carreaux_200m_met.csv", bytes.NewReader(data), GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if c.Vars[0] != 0.5 || c.Vars[1] != 0.4 || c.IEst200 != 1 || c.IEst1km != -1 || c.Communes[0] != "2A004" || c.Extra["libellé"] != "Ajaccio" || !math.IsNaN(c.Vars[2]) {
		t.Fatalf("cell = %+v", c)
	}
	if GridVintage("Filosofi2017_carreaux_200m_met.csv") != 2017 || GridVintage("carreaux.csv") != 0 {
		t.Error("GridVintage")
	}
}

func TestCOGReader_JSON(t *testing.T) {
	path := realdata.Path(t, "national/cog_communes_etalab_decoupage_administratif_6.0.0.json")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewCOGReader(path, f)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for {
		c, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		types[c.Type]++
	}
	want := map[string]int{TypeCommune: 34969, TypeDeleguee: 2105, TypeAssociee: 471, TypeArrondissement: 45}
	for k, v := range want {
		if types[k] != v {
			t.Errorf("%s = %d, want %d", k, types[k], v)
		}
	}
}

func TestAddressReader_DeptOf(t *testing.T) {
	for code, want := range map[string]string{"92002": "92", "2A004": "2A", "97101": "971", "98714": "987", "75106": "75"} {
		if got := DeptOf(code); got != want {
			t.Errorf("DeptOf(%s) = %s, want %s", code, got, want)
		}
	}
}

// FuzzCensusCSV feeds arbitrary bytes to the census reader: it must return rows or a
// ParseError, never panic.
func FuzzCensusCSV(f *testing.F) {
	f.Add([]byte("IRIS;COM;TYP_IRIS;LAB_IRIS;P20_POP;P20_POP0002\n010010000;01001;Z;5;806;31.4843129955518\n"))
	f.Add([]byte("IRIS;DISP_TP6018;DISP_MED18\r\n010040101;20.1;19300\r\n920350102;;\r\n"))
	f.Add([]byte("IRIS;COM;TYP_IRIS;LAB_IRIS;P20_POP\n2A0040000;2A004;Z;5;1e308\n0100;x\n"))
	f.Add([]byte("IRIS;COM;TYP_IRIS;P20_POP;P20_POP\n"))
	f.Add([]byte("Titre,,\n,,\nIRIS,COM,TYP_IRIS,P15_POP\n751010101,75101,H,\"1,5\"\n751010102,75101,A,ns\n"))
	f.Add([]byte("\xef\xbb\xbfIRIS;COM;TYP_IRIS;LAB_IRIS;P20_POP\n\"01001\n0000\";01001;Z;5;\xe9\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewCensusReader("base-ic-evol-struct-pop-2020.CSV", bytes.NewReader(data), CensusOptions{})
		if err != nil {
			if _, ok := ingest.AsParseError(err); !ok {
				t.Fatalf("header error is not a ParseError: %v", err)
			}
			return
		}
		for range 1000 {
			row, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if _, ok := ingest.AsParseError(err); !ok {
					t.Fatalf("row error is not a ParseError: %v", err)
				}
				return
			}
			if !ValidIRIS(row.IRIS) || len(row.Values) != len(r.Variables) {
				t.Fatalf("bad row accepted: %+v", row)
			}
			for _, v := range row.Values {
				if math.IsInf(v, 0) {
					t.Fatalf("infinite value accepted: %+v", row)
				}
			}
		}
	})
}

// FuzzGridCSV: the grid reader never panics either.
func FuzzGridCSV(f *testing.F) {
	f.Add([]byte("idcar_200m,i_est_200,lcog_geo,ind\nCRS3035RES200mN2875800E3756000,1,9200292019,1.5\n"))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"properties":{"idcar_200m":"CRS3035RES200mN2875800E3756000","ind":1,"x":[1]},"geometry":null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewGridReader("g.csv", bytes.NewReader(data), GridOptions{})
		if err != nil {
			return
		}
		for range 1000 {
			if _, err := r.Next(); err != nil {
				return
			}
		}
	})
}
