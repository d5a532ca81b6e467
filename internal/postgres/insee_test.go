package postgres_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/ingest/insee"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/postgres/pgtest"
	"github.com/coopol/coopol/internal/realdata"
)

// conn opens a plain connection to a test database, for assertions.
func conn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func scan[T any](t *testing.T, c *pgx.Conn, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := c.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func counts(t *testing.T, c *pgx.Conn, sql string, args ...any) map[string]int64 {
	t.Helper()
	rows, err := c.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func wantCounts(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s[%s] = %d, want %d", what, k, got[k], w)
		}
	}
}

func load(file string, sha string) postgres.Load {
	return postgres.Load{File: filepath.Base(file), SHA256: sha}
}

func loadCensus(t *testing.T, db *postgres.DB, name string, data []byte, opt insee.CensusOptions) (*ingest.Report, error) {
	t.Helper()
	r, err := insee.NewCensusReader(name, bytes.NewReader(data), opt)
	if err != nil {
		return nil, err
	}
	kind := "census"
	if r.Layout == insee.LayoutFiloIRIS {
		kind = "filosofi_iris"
	}
	l := load(name, fmt.Sprintf("%x", sha(data)))
	l.Kind, l.Scope = kind, r.Scope()
	return db.LoadCensus(context.Background(), l, r)
}

func sha(b []byte) [8]byte {
	var h [8]byte
	for i, c := range b { // a cheap content hash: tests only need "same bytes, same hash"
		h[i%8] = h[i%8]*31 + c
	}
	return h
}

// censusHeader is the real header of base-ic-evol-struct-pop-2020.CSV (data-formats.md §5).
const censusHeader = "IRIS;COM;TYP_IRIS;LAB_IRIS;P20_POP;P20_POP0002;P20_POP0305;P20_POP0610;P20_POP1117;P20_POP1824;P20_POP2539;P20_POP4054;P20_POP5564;P20_POP6579;P20_POP80P;P20_POP0014;P20_POP1529;P20_POP3044;P20_POP4559;P20_POP6074;P20_POP75P;P20_POP0019;P20_POP2064;P20_POP65P;P20_POPH;P20_H0014;P20_H1529;P20_H3044;P20_H4559;P20_H6074;P20_H75P;P20_H0019;P20_H2064;P20_H65P;P20_POPF;P20_F0014;P20_F1529;P20_F3044;P20_F4559;P20_F6074;P20_F75P;P20_F0019;P20_F2064;P20_F65P;C20_POP15P;C20_POP15P_CS1;C20_POP15P_CS2;C20_POP15P_CS3;C20_POP15P_CS4;C20_POP15P_CS5;C20_POP15P_CS6;C20_POP15P_CS7;C20_POP15P_CS8;C20_H15P;C20_H15P_CS1;C20_H15P_CS2;C20_H15P_CS3;C20_H15P_CS4;C20_H15P_CS5;C20_H15P_CS6;C20_H15P_CS7;C20_H15P_CS8;C20_F15P;C20_F15P_CS1;C20_F15P_CS2;C20_F15P_CS3;C20_F15P_CS4;C20_F15P_CS5;C20_F15P_CS6;C20_F15P_CS7;C20_F15P_CS8;P20_POP_FR;P20_POP_ETR;P20_POP_IMM;P20_PMEN;P20_PHORMEN"

// censusRow builds a row of the 72 variables: value(i) for variable i, "" for empty.
func censusRow(ids string, value func(i int) string) string {
	f := []string{ids}
	for i := range 72 {
		f = append(f, value(i))
	}
	return strings.Join(f, ";")
}

func syntheticCensus(scale float64) []byte {
	var b strings.Builder
	b.WriteString(censusHeader + "\r\n")
	b.WriteString(censusRow("010010000;01001;Z;5", func(i int) string {
		if i == 0 {
			return fmt.Sprint(806 * scale)
		}
		return fmt.Sprintf("%.13f", 26.9117464342402*scale)
	}) + "\r\n")
	b.WriteString(censusRow("751010101;75101;H;1", func(i int) string {
		if i%2 == 1 {
			return "" // no value
		}
		return fmt.Sprint(float64(i) * scale)
	}) + "\r\n")
	b.WriteString(censusRow("2A0040000;2A004;Z;5", func(i int) string { return "1" }) + "\r\n")
	return []byte(b.String())
}

func TestDB_LoadCensus(t *testing.T) {
	t.Parallel()
	db, url := pgtest.New(t)
	c := conn(t, url)
	name := "base-ic-evol-struct-pop-2020.CSV"
	data := syntheticCensus(1)
	rep, err := loadCensus(t, db, name, data, insee.CensusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Kind != "census" || rep.Scope != "evol-struct-pop/2020" || rep.Rows != 3 || rep.Unchanged {
		t.Fatalf("report = %+v", rep)
	}
	if n := scan[int64](t, c, `SELECT count(*) FROM census_variables WHERE theme = 'evol-struct-pop' AND vintage = 2020 AND kind = 'extensive'`); n != 72 {
		t.Errorf("variables = %d, want 72", n)
	}
	// 72 + 36 (every other value empty) + 72
	if n := scan[int64](t, c, `SELECT count(*) FROM census_values`); n != 180 {
		t.Errorf("values = %d, want 180", n)
	}
	if v := scan[float64](t, c, `SELECT value FROM census_values JOIN census_variables v ON v.id = variable_id WHERE v.name = 'P20_POP' AND iris = '010010000'`); v != 806 {
		t.Errorf("P20_POP of 010010000 = %v, want 806", v)
	}
	if v := scan[float64](t, c, `SELECT value FROM census_values JOIN census_variables v ON v.id = variable_id WHERE v.name = 'P20_POP0002' AND iris = '010010000'`); v != 26.9117464342402 {
		t.Errorf("P20_POP0002 = %v, want 26.9117464342402 exactly", v)
	}
	if n := scan[int64](t, c, `SELECT count(*) FROM census_values JOIN census_variables v ON v.id = variable_id WHERE v.name = 'P20_POP0002' AND iris = '751010101'`); n != 0 {
		t.Errorf("an empty field must store no value, got %d rows", n)
	}
	if got := scan[string](t, c, `SELECT com || '/' || typ_iris || '/' || lab_iris FROM iris WHERE code = '751010101'`); got != "75101/H/1" {
		t.Errorf("iris 751010101 = %s, want 75101/H/1 (arrondissement code)", got)
	}
	if got := scan[int32](t, c, `SELECT position FROM census_variables WHERE name = 'C20_POP15P_CS8'`); got != 52 {
		t.Errorf("position of C20_POP15P_CS8 = %d, want 52", got)
	}

	t.Run("Unchanged", func(t *testing.T) {
		again, err := loadCensus(t, db, name, data, insee.CensusOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !again.Unchanged || again.DatasetID != rep.DatasetID || again.Rows != 3 {
			t.Fatalf("second load = %+v, want unchanged dataset %d", again, rep.DatasetID)
		}
	})
	t.Run("Replace", func(t *testing.T) {
		rep2, err := loadCensus(t, db, name, syntheticCensus(2), insee.CensusOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep2.Unchanged || rep2.DatasetID == rep.DatasetID {
			t.Fatalf("replacement = %+v", rep2)
		}
		if n := scan[int64](t, c, `SELECT count(*) FROM census_values`); n != 180 {
			t.Errorf("values after replacement = %d, want 180", n)
		}
		if v := scan[float64](t, c, `SELECT value FROM census_values JOIN census_variables v ON v.id = variable_id WHERE v.name = 'P20_POP' AND iris = '010010000'`); v != 1612 {
			t.Errorf("P20_POP after replacement = %v, want 1612", v)
		}
		if n := scan[int64](t, c, `SELECT count(DISTINCT dataset_id) FROM census_variables`); n != 1 {
			t.Errorf("variables of %d datasets, want only the current one", n)
		}
		if n := scan[int64](t, c, `SELECT count(DISTINCT dataset_id) FROM census_rows`); n != 1 {
			t.Errorf("census rows of %d datasets, want 1: the replaced load's are deleted", n)
		}
	})
	t.Run("OtherScopeKept", func(t *testing.T) {
		// The 2022 layout: a different vintage, PCS columns; loading it keeps 2020.
		h := "IRIS;COM;TYP_IRIS;LAB_IRIS;P22_POP;C22_POP15P_STAT_GSEC11_21;C22_POP15P_STAT_GSEC32\n"
		f := h + "920020101;92002;H;1;2500.5;12.25;\n"
		rep3, err := loadCensus(t, db, "base-ic-evol-struct-pop-2022.csv", []byte(f), insee.CensusOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep3.Scope != "evol-struct-pop/2022" {
			t.Errorf("scope = %s", rep3.Scope)
		}
		got := counts(t, c, `SELECT vintage::text, count(*) FROM census_variables GROUP BY 1`)
		wantCounts(t, "variables by vintage", got, map[string]int64{"2020": 72, "2022": 3})
		if n := scan[int64](t, c, `SELECT count(*) FROM census_values`); n != 182 {
			t.Errorf("values = %d, want 180 + 2", n)
		}
	})
}

func TestDB_LoadCensus_Filosofi(t *testing.T) {
	t.Parallel()
	db, url := pgtest.New(t)
	c := conn(t, url)
	path := realdata.Path(t, "national/filosofi_disp_iris_2018_france.csv")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := loadCensus(t, db, filepath.Base(path), data, insee.CensusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Kind != "filosofi_iris" || rep.Scope != "filosofi-disp/2018" || rep.Rows != 12395 || rep.Layout != insee.LayoutFiloIRIS {
		t.Fatalf("report = %+v", rep)
	}
	if n := scan[int64](t, c, `SELECT count(*) FROM census_variables WHERE theme = 'filosofi-disp' AND vintage = 2018 AND kind = 'intensive'`); n != 28 {
		t.Errorf("intensive 2018 variables = %d, want 28", n)
	}
	byVar := counts(t, c, `SELECT v.name, count(*) FROM census_values JOIN census_variables v ON v.id = variable_id GROUP BY 1`)
	wantCounts(t, "values", byVar, map[string]int64{"DISP_TP6018": 12395 - 2881, "DISP_NOTE18": 12395})
	got := counts(t, c, `SELECT v.name, value::bigint FROM census_values JOIN census_variables v ON v.id = variable_id WHERE iris = '920350102'`)
	if len(got) != 1 || got["DISP_NOTE18"] != 5 {
		t.Errorf("IRIS 920350102 values = %v, want only DISP_NOTE18 = 5", got)
	}
	if n := scan[int64](t, c, `SELECT count(DISTINCT iris) FROM census_values WHERE iris LIKE '38185%'`); n != 67 {
		t.Errorf("Grenoble IRIS = %d, want 67", n)
	}
	if n := scan[int64](t, c, `SELECT count(*) FROM iris`); n != 0 {
		t.Errorf("a Filosofi file has no COM: iris rows = %d, want 0", n)
	}
}

func TestDB_LoadCensus_Errors(t *testing.T) {
	t.Parallel()
	db, url := pgtest.New(t)
	c := conn(t, url)
	good := "IRIS;COM;TYP_IRIS;LAB_IRIS;P20_POP;P20_POPH\n010010000;01001;Z;5;806;400\n"
	tests := []struct {
		name      string
		file      string
		line, col int
		msg       string
	}{
		{"non-numeric value", good + "010020000;01002;Z;5;12;abc\n", 3, 6, "not a number"},
		{"wrong field count", good + "010020000;01002;Z;5;12\n", 3, 6, "5 fields"},   // col: the first missing field
		{"too many fields", good + "010020000;01002;Z;5;12;1;9\n", 3, 7, "7 fields"}, // col: the first extra field
		{"bad IRIS code", good + "01002000;01002;Z;5;12;1\n", 3, 1, "IRIS code"},
		{"letter in IRIS", good + "0100200A0;01002;Z;5;12;1\n", 3, 1, "IRIS code"},
		{"duplicate IRIS", good + "010010000;01001;Z;5;12;1\n", 3, 1, "twice"},
		{"unknown header", "CODE;POP\n010010000;806\n", 1, 0, "unknown header"},
		{"filosofi mixed years", "IRIS;DISP_MED18;DISP_MED19\n", 1, 3, "one vintage"},
		{"census of two vintages", "IRIS;COM;TYP_IRIS;P10_POP;P15_POP\n", 1, 5, "one vintage"},
		{"filosofi bad value", "IRIS;DISP_MED18\n010010000;1.2.3\n", 2, 2, "not a number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadCensus(t, db, "base-ic-evol-struct-pop-2020.CSV", []byte(tc.file), insee.CensusOptions{})
			pe, ok := ingest.AsParseError(err)
			if !ok {
				t.Fatalf("err = %v, want a ParseError", err)
			}
			if !errors.Is(err, errs.ErrInvalid) || pe.File != "base-ic-evol-struct-pop-2020.CSV" || pe.Line != int64(tc.line) || pe.Col != tc.col || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v (line %d col %d), want %d:%d %q", err, pe.Line, pe.Col, tc.line, tc.col, tc.msg)
			}
		})
	}
	for _, table := range []string{"datasets", "census_variables", "census_values", "iris"} {
		if n := scan[int64](t, c, `SELECT count(*) FROM `+table); n != 0 {
			t.Errorf("after bad files, %s has %d rows, want 0", table, n)
		}
	}
}

func loadCOG(t *testing.T, db *postgres.DB, name string, data []byte) (*ingest.Report, error) {
	t.Helper()
	r, err := insee.NewCOGReader(name, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	l := load(name, fmt.Sprintf("%x", sha(data)))
	l.Kind = "communes"
	if r.Departements() {
		l.Scope = "departements"
		return db.LoadDepartements(context.Background(), l, r)
	}
	l.Scope = "cog"
	return db.LoadCommunes(context.Background(), l, r)
}

func TestDB_LoadCommunes(t *testing.T) {
	t.Parallel()
	db, url := pgtest.New(t)
	c := conn(t, url)
	path := realdata.Path(t, "national/cog_communes_etalab_decoupage_administratif_6.0.0.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := loadCOG(t, db, filepath.Base(path), data)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 37590 || rep.Layout != insee.LayoutCOGJSON || rep.Scope != "cog" {
		t.Fatalf("report = %+v", rep)
	}
	wantCounts(t, "communes by type", counts(t, c, `SELECT type, count(*) FROM communes GROUP BY 1`),
		map[string]int64{"COM": 34969, "ARM": 45})
	wantCounts(t, "parts by type", counts(t, c, `SELECT type, count(*) FROM commune_parts GROUP BY 1`),
		map[string]int64{"COMD": 2105, "COMA": 471})
	wantCounts(t, "arrondissements by parent", counts(t, c, `SELECT parent, count(*) FROM communes WHERE type = 'ARM' GROUP BY 1`),
		map[string]int64{"75056": 20, "13055": 16, "69123": 9})
	wantCounts(t, "communes by zone", counts(t, c, `SELECT zone, count(*) FROM communes WHERE type = 'COM' GROUP BY 1`),
		map[string]int64{"metro": 34746, "drom": 129, "com": 94})
	wantCounts(t, "populations", counts(t, c, `SELECT code, population FROM communes WHERE code IN ('92002', '92019', '92014', '92071', '38185')`),
		map[string]int64{"92002": 64263, "92019": 35825, "92014": 21019, "92071": 20884, "38185": 156140})
	if got := scan[string](t, c, `SELECT name || '|' || dept || '|' || array_to_string(former_codes, ',') || '|' || (postcodes @> '{92160}') FROM communes WHERE code = '92002'`); got != "Antony|92|75002|true" {
		t.Errorf("92002 = %s", got)
	}
	if got := scan[string](t, c, `SELECT name || '|' || parent FROM commune_parts WHERE code = '01015' AND type = 'COMD'`); got != "Arbignieu|01015" {
		t.Errorf("delegated 01015 = %s, want Arbignieu|01015", got)
	}
	if n := scan[int64](t, c, `SELECT count(DISTINCT code) FROM (SELECT code FROM communes UNION ALL SELECT code FROM commune_parts) x`); n != 37006 {
		t.Errorf("distinct codes = %d, want 37006", n)
	}

	t.Run("Unchanged", func(t *testing.T) {
		again, err := loadCOG(t, db, filepath.Base(path), data)
		if err != nil || !again.Unchanged || again.DatasetID != rep.DatasetID {
			t.Fatalf("second load = %+v, %v; want unchanged", again, err)
		}
	})
	t.Run("Departements", func(t *testing.T) {
		p := realdata.Path(t, "national/cog_departements_etalab_decoupage_administratif_6.0.0.json")
		d, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := loadCOG(t, db, filepath.Base(p), d)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rows != 109 || rep.Scope != "departements" {
			t.Fatalf("report = %+v", rep)
		}
		wantCounts(t, "départements by zone", counts(t, c, `SELECT zone, count(*) FROM departements GROUP BY 1`),
			map[string]int64{"metro": 96, "drom": 5, "com": 8})
		if got := scan[string](t, c, `SELECT name || '|' || region FROM departements WHERE code = '92'`); got != "Hauts-de-Seine|11" {
			t.Errorf("92 = %s", got)
		}
		if n := scan[int64](t, c, `SELECT count(*) FROM communes`); n != 34969+45 {
			t.Errorf("loading départements touched communes: %d", n)
		}
	})
	t.Run("ReplaceByINSEECSV", func(t *testing.T) {
		// A 2022-style v_commune (no CTCD): a COMD shares its code with its COM.
		csv := "TYPECOM,COM,REG,DEP,ARR,TNCC,NCC,NCCENR,LIBELLE,CAN,COMPARENT\n" +
			"COM,01015,84,01,011,1,ARBOYS EN BUGEY,Arboys en Bugey,Arboys en Bugey,0110,\n" +
			"COMD,01015,84,01,011,0,ARBIGNIEU,Arbignieu,Arbignieu,0110,01015\n" +
			"COM,75056,11,75,751,0,PARIS,Paris,Paris,7599,\n" +
			"ARM,75101,11,75,751,0,PARIS 1ER ARRONDISSEMENT,Paris 1er Arrondissement,Paris 1er Arrondissement,,75056\n" +
			"COM,97101,01,971,971,0,ABYMES,Abymes,Les Abymes,97198,\n" +
			"COMA,01001,84,01,012,5,ABERGEMENT CLEMENCIAT,Abergement-Clémenciat,L'Abergement-Clémenciat,0108,01015\n"
		rep, err := loadCOG(t, db, "v_commune_2022.csv", []byte(csv))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rows != 6 || rep.Layout != insee.LayoutCOGCSV {
			t.Fatalf("report = %+v", rep)
		}
		wantCounts(t, "communes", counts(t, c, `SELECT code, 1 FROM communes`), map[string]int64{"01015": 1, "75056": 1, "75101": 1, "97101": 1})
		if n := scan[int64](t, c, `SELECT count(*) FROM communes`); n != 4 {
			t.Errorf("communes after replacement = %d, want 4", n)
		}
		if got := scan[string](t, c, `SELECT type || parent || zone FROM communes WHERE code = '75101'`); got != "ARM75056metro" {
			t.Errorf("75101 = %s", got)
		}
		if got := scan[string](t, c, `SELECT zone FROM communes WHERE code = '97101'`); got != "drom" {
			t.Errorf("97101 zone = %s", got)
		}
		wantCounts(t, "parts", counts(t, c, `SELECT type, count(*) FROM commune_parts GROUP BY 1`), map[string]int64{"COMD": 1, "COMA": 1})
	})
}

func TestDB_LoadCommunes_Errors(t *testing.T) {
	t.Parallel()
	db, url := pgtest.New(t)
	c := conn(t, url)
	hdr := "TYPECOM,COM,REG,DEP,CTCD,ARR,TNCC,NCC,NCCENR,LIBELLE,CAN,COMPARENT\n"
	ok := "COM,01001,84,01,01D,012,5,ABERGEMENT CLEMENCIAT,Abergement-Clémenciat,L'Abergement-Clémenciat,0108,\n"
	tests := []struct {
		name, file string
		line       int64
		msg        string
	}{
		{"unknown type", hdr + ok + "XXX,01002,84,01,01D,011,5,A,A,A,0108,\n", 3, "TYPECOM"},
		{"bad code", hdr + ok + "COM,1002,84,01,01D,011,5,A,A,A,0108,\n", 3, "commune code"},
		{"field count", hdr + ok + "COM,01002,84\n", 3, "3 fields"},
		{"duplicate", hdr + ok + ok, 3, "already listed"},
		{"arrondissement without parent", hdr + ok + "ARM,75101,11,75,75C,751,0,P,P,P,,\n", 3, "parent"},
		{"unknown header", "a,b\n1,2\n", 1, "unknown header"},
		{"json bad type", `[{"code":"01001","nom":"A","type":"ville"}]`, 1, "unknown type"},
		{"json truncated", `[{"code":"01001","nom":"A","type":"commune-actuelle"},{"code":`, 2, "record 2"},
		{"json unknown layout", `[{"foo":1}]`, 1, "unknown layout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadCOG(t, db, "v_commune_2024.csv", []byte(tc.file))
			pe, ok := ingest.AsParseError(err)
			if !ok || pe.File != "v_commune_2024.csv" || pe.Line != tc.line || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want a ParseError at line %d with %q", err, tc.line, tc.msg)
			}
		})
	}
	for _, table := range []string{"datasets", "communes", "commune_parts"} {
		if n := scan[int64](t, c, `SELECT count(*) FROM `+table); n != 0 {
			t.Errorf("after bad files, %s has %d rows", table, n)
		}
	}
}

func loadGrid(t *testing.T, db *postgres.DB, name string, data []byte, vintage int) (*ingest.Report, error) {
	t.Helper()
	r, err := insee.NewGridReader(name, bytes.NewReader(data), insee.GridOptions{})
	if err != nil {
		return nil, err
	}
	l := load(name, fmt.Sprintf("%x", sha(data)))
	l.Kind, l.Scope = "grid", fmt.Sprint(vintage)
	return db.LoadGrid(context.Background(), l, vintage, r)
}

func TestDB_LoadGrid_GeoJSON(t *testing.T) {
	t.Parallel()
	db, url := pgtest.New(t)
	c := conn(t, url)
	path := realdata.Path(t, "hds9213/filosofi2019_carreaux200m_9213.geojson")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if v := insee.GridVintage(filepath.Base(path)); v != 2019 {
		t.Fatalf("vintage from name = %d, want 2019", v)
	}
	rep, err := loadGrid(t, db, filepath.Base(path), data, 2019)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 318 || rep.Layout != insee.LayoutGridGeoJSON {
		t.Fatalf("report = %+v", rep)
	}
	if got := scan[string](t, c, `SELECT round(sum(ind)::numeric, 1) || '|' || round(sum(men)::numeric, 1) FROM grid_cells`); got != "101053.0|43251.1" {
		t.Errorf("Σ ind | Σ men = %s, want 101053.0|43251.1", got)
	}
	wantCounts(t, "lcog_geo", counts(t, c, `SELECT lcog_geo, count(*) FROM grid_cells GROUP BY 1`),
		map[string]int64{"92002": 161, "92019": 82, "92071": 46, "92014": 29})
	if n := scan[int64](t, c, `SELECT count(*) FROM grid_cells WHERE i_est_200`); n != 32 {
		t.Errorf("i_est_200 cells = %d, want 32", n)
	}
	if n := scan[int64](t, c, `SELECT count(*) FROM grid_cells WHERE i_est_1km`); n != 1 {
		t.Errorf("i_est_1km cells = %d, want 1", n)
	}
	if n := scan[int64](t, c, `SELECT count(*) FROM grid_cells WHERE men < 11 AND NOT i_est_200`); n != 0 {
		t.Errorf("%d cells under 11 households not flagged", n)
	}
	if n := scan[int64](t, c, `SELECT count(*) FROM grid_cells WHERE communes = ARRAY[lcog_geo] AND size = 200 AND srid = 3035 AND extra IS NULL`); n != 318 {
		t.Errorf("cells with one commune, 200 m, EPSG:3035, no extra = %d, want 318", n)
	}
	if got := scan[string](t, c, `SELECT northing || ',' || easting || ',' || id_1km || ',' || men FROM grid_cells WHERE id = 'CRS3035RES200mN2875800E3756000'`); got != "2875800,3756000,CRS3035RES1000mN2875000E3756000,0.4" {
		t.Errorf("first cell = %s", got)
	}

	// The cell rebuilt from its id, reprojected to EPSG:2154, coincides with the polygon
	// INSEE shipped (pitfall 15): compared for every cell in one query.
	var fc struct {
		Features []struct {
			Properties struct {
				ID string `json:"idcar_200m"`
			} `json:"properties"`
			Geometry json.RawMessage `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(data, &fc); err != nil {
		t.Fatal(err)
	}
	ids, geoms := make([]string, len(fc.Features)), make([]string, len(fc.Features))
	for i, f := range fc.Features {
		ids[i], geoms[i] = f.Properties.ID, string(f.Geometry)
	}
	var worst float64
	var bad int64
	err = c.QueryRow(context.Background(), `
		SELECT max(d), count(*) FILTER (WHERE d >= 1 OR d IS NULL) FROM (
			SELECT ST_Area(ST_SymDifference(
				ST_Transform(ST_MakeEnvelope(g.easting, g.northing, g.easting + g.size, g.northing + g.size, g.srid), 2154),
				ST_SetSRID(ST_GeomFromGeoJSON(f.geom), 2154))) AS d
			FROM unnest($1::text[], $2::text[]) AS f(id, geom) LEFT JOIN grid_cells g ON g.id = f.id) x`,
		ids, geoms).Scan(&worst, &bad)
	if err != nil {
		t.Fatal(err)
	}
	if bad != 0 || worst >= 1 {
		t.Errorf("%d cells differ from the shipped polygon by ≥ 1 m² (worst %.4f m²)", bad, worst)
	}
	t.Logf("worst symmetric difference with the shipped EPSG:2154 polygon: %.6f m²", worst)
	// The stored WGS84 polygon is the same square.
	if d := scan[float64](t, c, `SELECT max(ST_Area(ST_SymDifference(ST_Transform(geom, 3035), ST_MakeEnvelope(easting, northing, easting + size, northing + size, 3035)))) FROM grid_cells`); d >= 1 {
		t.Errorf("WGS84 geometry differs from the 3035 square by %.3f m²", d)
	}

	t.Run("Unchanged", func(t *testing.T) {
		again, err := loadGrid(t, db, filepath.Base(path), data, 2019)
		if err != nil || !again.Unchanged {
			t.Fatalf("second load = %+v, %v", again, err)
		}
	})
}

func TestDB_LoadGrid_CSV(t *testing.T) {
	t.Parallel()
	db, url := pgtest.New(t)
	c := conn(t, url)
	// The 2017 header (capitalised, with Groupe), in Latin-1 like the INSEE file.
	h2017 := "Idcar_200m,I_est_200,Idcar_1km,I_est_1km,Idcar_nat,Groupe,Ind,Men_1ind,Men_5ind,Men_prop,Men_fmp,Ind_snv,Men_surf,Men_coll,Men_mais,Log_av45,Log_45_70,Log_70_90,Log_ap90,Log_inc,Log_soc,Ind_0_3,Ind_4_5,Ind_6_10,Ind_11_17,Ind_18_24,Ind_25_39,Ind_40_54,Ind_55_64,Ind_65_79,Ind_80p,Ind_inc,Men_pauv,Men,lcog_geo\n"
	row := func(id, lcog string, ind float64) string {
		f := []string{id, "0", "CRS3035RES1000mN2875000E3756000", "0", "CRS3035RES1000mN2875000E3756000", "12"}
		f = append(f, fmt.Sprint(ind))
		for range 26 {
			f = append(f, "1.5")
		}
		return strings.Join(append(f, "7", lcog), ",") + "\n"
	}
	file := h2017 + row("CRS3035RES200mN2875800E3756000", "9200292019", 10.5) + row("CRS3035RES200mN2876000E3756000", "92002", 20)
	rep, err := loadGrid(t, db, "Filosofi2017_carreaux_200m_met.csv", []byte(file), 2017)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 2 || rep.Layout != insee.LayoutGridCSV {
		t.Fatalf("report = %+v", rep)
	}
	if got := scan[string](t, c, `SELECT array_to_string(communes, ' ') || '|' || ind || '|' || men || '|' || men_pauv || '|' || (extra->>'groupe') FROM grid_cells WHERE northing = 2875800`); got != "92002 92019|10.5|7|1.5|12" {
		t.Errorf("2017 cell = %s", got)
	}
	if n := scan[int64](t, c, `SELECT count(*) FROM grid_cells WHERE communes @> '{92019}'`); n != 1 {
		t.Errorf("cells of 92019 through the split lcog_geo = %d, want 1", n)
	}

	t.Run("Replace", func(t *testing.T) {
		if _, err := loadGrid(t, db, "Filosofi2019.csv", []byte(h2017+row("CRS3035RES200mN2875800E3756200", "92002", 3)), 2019); err != nil {
			t.Fatal(err)
		}
		if _, err := loadGrid(t, db, "Filosofi2017_b.csv", []byte(h2017+row("CRS3035RES200mN2875800E3756400", "92002", 4)), 2017); err != nil {
			t.Fatal(err)
		}
		// 2017 replaced by its new file, 2019 kept.
		wantCounts(t, "cells by vintage", counts(t, c, `SELECT vintage || ':' || easting, count(*) FROM grid_cells GROUP BY 1`),
			map[string]int64{"2017:3756400": 1, "2019:3756200": 1})
		if n := scan[int64](t, c, `SELECT count(*) FROM grid_cells`); n != 2 {
			t.Errorf("cells = %d, want 2", n)
		}
		if n := scan[int64](t, c, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'grid_cells'::regclass`); n != 2 {
			t.Errorf("partitions = %d, want 2", n)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		h := "idcar_200m,i_est_200,lcog_geo,ind,men\n"
		tests := []struct {
			name, file string
			line       int64
			col        int
			msg        string
		}{
			{"bad cell id", h + "CRS3035RES200mN2875801E3756000,0,92002,1,1\n", 2, 1, "not on the grid"},
			{"garbage cell id", h + "N2875800E3756000,0,92002,1,1\n", 2, 1, "cell id"},
			{"bad number", h + "CRS3035RES200mN2875800E3756000,0,92002,x,1\n", 2, 4, "not a number"},
			{"bad flag", h + "CRS3035RES200mN2875800E3756000,2,92002,1,1\n", 2, 2, "flag"},
			{"field count", h + "CRS3035RES200mN2875800E3756000,0,92002,1\n", 2, 5, "4 fields"},
			{"bad lcog_geo", h + "CRS3035RES200mN2875800E3756000,0,9200,1,1\n", 2, 1, "lcog_geo"},
			{"unknown header", "id,ind\nx,1\n", 1, 0, "unknown header"},
			{"duplicate cell", h + "CRS3035RES200mN2875800E3756000,0,92002,1,1\nCRS3035RES200mN2875800E3756000,0,92002,1,1\n", 0, 0, "conflict"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := loadGrid(t, db, "Filosofi2021_carreaux_200m_met.csv", []byte(tc.file), 2021)
				if tc.line == 0 {
					if !errors.Is(err, errs.ErrConflict) {
						t.Fatalf("err = %v, want a conflict", err)
					}
					return
				}
				pe, ok := ingest.AsParseError(err)
				if !ok || pe.Line != tc.line || pe.Col != tc.col || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("err = %v, want a ParseError at %d:%d with %q", err, tc.line, tc.col, tc.msg)
				}
			})
		}
		if n := scan[int64](t, c, `SELECT count(*) FROM grid_cells WHERE vintage = 2021`); n != 0 {
			t.Errorf("bad files loaded %d cells", n)
		}
		if n := scan[int64](t, c, `SELECT count(*) FROM datasets WHERE scope = '2021'`); n != 0 {
			t.Errorf("bad files left %d datasets", n)
		}
	})
	t.Run("GeoJSONBadID", func(t *testing.T) {
		gj := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"idcar_200m":"CRS3035RES200mN2875800E3756000","lcog_geo":"92002","ind":1},"geometry":null},
{"type":"Feature","properties":{"idcar_200m":"CRS3035RES200mNxE3756000","lcog_geo":"92002","ind":1},"geometry":null}]}`
		_, err := loadGrid(t, db, "Filosofi2021.geojson", []byte(gj), 2021)
		pe, ok := ingest.AsParseError(err)
		if !ok || pe.Line != 2 || !strings.Contains(err.Error(), "feature 2") {
			t.Fatalf("err = %v, want a ParseError naming feature 2", err)
		}
	})
}

const banHeader = "id;id_fantoir;numero;rep;nom_voie;code_postal;code_insee;nom_commune;code_insee_ancienne_commune;nom_ancienne_commune;x;y;lon;lat;type_position;alias;nom_ld;libelle_acheminement;nom_afnor;source_position;source_nom_voie;certification_commune;cad_parcelles\n"

func banRow(id, numero, rep, voie, cp, insee, lon, lat, cert string) string {
	return strings.Join([]string{id, "", numero, rep, voie, cp, insee, "Commune", "", "", "1.0", "2.0", lon, lat, "entrée", "", "", "X", "X", "commune", "commune", cert, ""}, ";") + "\n"
}

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func loadBAN(t *testing.T, db *postgres.DB, name string, data []byte) (*ingest.Report, error) {
	t.Helper()
	r, err := insee.NewAddressReader(name, bytes.NewReader(data), nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	l := load(name, fmt.Sprintf("%x", sha(data)))
	l.Kind, l.Scope = "addresses", r.Dept
	return db.LoadAddresses(context.Background(), l, r)
}

func TestDB_LoadAddresses(t *testing.T) {
	t.Parallel()
	db, url := pgtest.New(t)
	c := conn(t, url)
	f92 := banHeader +
		banRow("92002_0100_00006", "6", "bis", "Rue Auguste Mounié", "92160", "92002", "2.298", "48.754", "1") +
		banRow("92019_0200_00010", "10", "", "Avenue de la Division Leclerc", "92290", "92019", "2.265", "48.766", "0") +
		banRow("92071_0300_99999", "", "", "Lieu-dit", "92330", "92071", "", "", "")
	f75 := banHeader + banRow("75106_8888_00001", "1", "", "Rue de Rennes", "75006", "75106", "2.33", "48.85", "1")
	rep, err := loadBAN(t, db, "adresses-92.csv.gz", gz(t, f92))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 3 || rep.Scope != "92" {
		t.Fatalf("report = %+v", rep)
	}
	rep75, err := loadBAN(t, db, "adresses-75.csv", []byte(f75))
	if err != nil {
		t.Fatal(err)
	}
	if rep75.Scope != "75" {
		t.Fatalf("report = %+v", rep75)
	}
	wantCounts(t, "addresses by dept", counts(t, c, `SELECT dept, count(*) FROM addresses GROUP BY 1`), map[string]int64{"92": 3, "75": 1})
	if got := scan[string](t, c, `SELECT numero || rep || '|' || nom_voie || '|' || certification || '|' || ST_AsText(geom) FROM addresses WHERE id = '92002_0100_00006'`); got != "6bis|Rue Auguste Mounié|true|POINT(2.298 48.754)" {
		t.Errorf("address = %s", got)
	}
	if got := scan[string](t, c, `SELECT coalesce(numero::text, 'null') || coalesce(ST_AsText(geom), 'nogeom') || coalesce(certification::text, 'null') FROM addresses WHERE id = '92071_0300_99999'`); got != "nullnogeomnull" {
		t.Errorf("empty fields = %s", got)
	}
	if got := scan[string](t, c, `SELECT code_insee FROM addresses WHERE dept = '75'`); got != "75106" {
		t.Errorf("Paris address commune = %s, want the arrondissement 75106", got)
	}

	t.Run("ReplaceOneDept", func(t *testing.T) {
		f := banHeader + banRow("92002_0100_00008", "8", "", "Rue Auguste Mounié", "92160", "92002", "2.298", "48.754", "1")
		if _, err := loadBAN(t, db, "adresses-92.csv", []byte(f)); err != nil {
			t.Fatal(err)
		}
		wantCounts(t, "addresses by dept", counts(t, c, `SELECT dept, count(*) FROM addresses GROUP BY 1`), map[string]int64{"92": 1, "75": 1})
	})
	t.Run("Unchanged", func(t *testing.T) {
		again, err := loadBAN(t, db, "adresses-75.csv", []byte(f75))
		if err != nil || !again.Unchanged {
			t.Fatalf("second load = %+v, %v", again, err)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		ok := banRow("93001_0100_00006", "6", "", "Rue", "93300", "93001", "2.3", "48.9", "1")
		tests := []struct {
			name, file string
			line       int64
			col        int
			msg        string
		}{
			{"other dept", ok + banRow("94001_0100_00006", "6", "", "Rue", "94000", "94001", "2.3", "48.9", "1"), 3, 7, "département"},
			{"bad lon", ok + banRow("93001_0100_00007", "6", "", "Rue", "93300", "93001", "2,3x", "48.9", "1"), 3, 13, "lon"},
			{"bad numero", ok + banRow("93001_0100_00007", "six", "", "Rue", "93300", "93001", "2.3", "48.9", "1"), 3, 3, "numero"},
			{"bad code", ok + banRow("93001_0100_00007", "6", "", "Rue", "93300", "9300", "2.3", "48.9", "1"), 3, 7, "code_insee"},
			{"field count", ok + "93001_0100_00007;;6\n", 3, 4, "3 fields"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := loadBAN(t, db, "adresses-93.csv.gz", gz(t, banHeader+tc.file))
				pe, ok := ingest.AsParseError(err)
				if !ok || pe.File != "adresses-93.csv.gz" || pe.Line != tc.line || pe.Col != tc.col || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("err = %v, want a ParseError at %d:%d with %q", err, tc.line, tc.col, tc.msg)
				}
			})
		}
		if _, err := loadBAN(t, db, "adresses-94.csv", []byte(banHeader+ok)); err == nil || !strings.Contains(err.Error(), "département 94") {
			t.Errorf("adresses-94 holding 93: err = %v", err)
		}
		if n := scan[int64](t, c, `SELECT count(*) FROM addresses WHERE dept IN ('93', '94')`); n != 0 {
			t.Errorf("bad files loaded %d addresses", n)
		}
	})
}

// loadCensusFile loads a census file from disk, as coopol ingest census does.
func loadCensusFile(b *testing.B, db *postgres.DB, path, sum string) *ingest.Report {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r, err := insee.NewCensusReader(path, f, insee.CensusOptions{})
	if err != nil {
		b.Fatal(err)
	}
	rep, err := db.LoadCensus(context.Background(), postgres.Load{Kind: "census", Scope: r.Scope(), File: filepath.Base(path), SHA256: sum}, r)
	if err != nil {
		b.Fatal(err)
	}
	return rep
}

// BenchmarkLoadCensus loads a national-size census file: 48,000 IRIS × 72 variables
// (76 columns), 3.5 M values. Every iteration after the first also deletes the values
// of the load it replaces.
func BenchmarkLoadCensus(b *testing.B) {
	db, _ := pgtest.New(b)
	path := filepath.Join(b.TempDir(), "base-ic-evol-struct-pop-2020.CSV")
	w, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString(censusHeader + "\r\n")
	const nIRIS = 48000
	for i := range nIRIS {
		dep := 1 + i/500
		fmt.Fprintf(bw, "%02d%03d%04d;%02d%03d;H;1", dep, i%500, i%10000, dep, i%500)
		for j := range 72 {
			fmt.Fprintf(bw, ";%.13f", float64(i*72+j)/7)
		}
		bw.WriteString("\r\n")
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	w.Close()
	var rep *ingest.Report
	n := 0
	for b.Loop() {
		n++
		rep = loadCensusFile(b, db, path, fmt.Sprint("bench-", n))
	}
	if rep.Rows != nIRIS {
		b.Fatalf("rows = %d", rep.Rows)
	}
	sec := b.Elapsed().Seconds() / float64(n)
	b.ReportMetric(float64(nIRIS)/sec, "iris/s")
	b.ReportMetric(float64(nIRIS*72)/sec, "values/s")
}

// BenchmarkLoadGrid loads a Filosofi 2019 CSV of national size, 2.3 M cells, written
// once per run.
func BenchmarkLoadGrid(b *testing.B) {
	db, _ := pgtest.New(b)
	path := filepath.Join(b.TempDir(), "Filosofi2019_carreaux_200m_met.csv")
	w, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString("idcar_200m,idcar_1km,idcar_nat,i_est_200,i_est_1km,lcog_geo,ind,men,men_pauv,men_1ind,men_5ind,men_prop,men_fmp,ind_snv,men_surf,men_coll,men_mais,log_av45,log_45_70,log_70_90,log_ap90,log_inc,log_soc,ind_0_3,ind_4_5,ind_6_10,ind_11_17,ind_18_24,ind_25_39,ind_40_54,ind_55_64,ind_65_79,ind_80p,ind_inc\n")
	const nCells = 2_300_000
	// Metropolitan France spans about 1,000 km × 1,000 km in EPSG:3035: cells on a
	// 5,000 × 460 lattice of 200 m steps cover a band of it.
	for i := range nCells {
		n, e := 2_100_000+(i/5000)*200, 3_200_000+(i%5000)*200
		fmt.Fprintf(bw, "CRS3035RES200mN%dE%d,CRS3035RES1000mN%dE%d,CRS3035RES1000mN%dE%d,%d,0,%05d", n, e, n/1000*1000, e/1000*1000, n/1000*1000, e/1000*1000, i%7/6, 1000+i%90000)
		for j := range 28 {
			fmt.Fprintf(bw, ",%.1f", float64((i+j)%500)/2)
		}
		bw.WriteString("\n")
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	w.Close()
	var rep *ingest.Report
	k := 0
	for b.Loop() {
		k++
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r, err := insee.NewGridReader(path, f, insee.GridOptions{})
		if err != nil {
			b.Fatal(err)
		}
		rep, err = db.LoadGrid(context.Background(), postgres.Load{Kind: "grid", Scope: "2019", File: filepath.Base(path), SHA256: fmt.Sprint("bench-", k)}, 2019, r)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	if rep.Rows != nCells {
		b.Fatalf("rows = %d", rep.Rows)
	}
	b.ReportMetric(float64(nCells)/(b.Elapsed().Seconds()/float64(k)), "cells/s")
}
