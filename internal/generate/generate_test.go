package generate

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/coopol/coopol/internal/projection"
)

func run(t *testing.T, scale string, seed uint64) (Manifest, string) {
	t.Helper()
	dir := t.TempDir()
	m, err := Run(t.Context(), Options{Scale: scale, Seed: seed, Dir: dir})
	if err != nil {
		t.Fatalf("Run(%s, %d): %v", scale, seed, err)
	}
	return m, dir
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestRun_Deterministic(t *testing.T) {
	m1, dir1 := run(t, "demo", 1)
	m2, dir2 := run(t, "demo", 1)
	m3, _ := run(t, "demo", 2)
	if len(m1.Files) != len(m2.Files) {
		t.Fatalf("%d files, then %d", len(m1.Files), len(m2.Files))
	}
	for k, f := range m1.Files {
		if got := fileSHA(t, filepath.Join(dir1, f.Path)); got != f.SHA256 {
			t.Errorf("%s: manifest sha256 %s, file %s", f.Path, f.SHA256, got)
		}
		if got := fileSHA(t, filepath.Join(dir2, f.Path)); got != f.SHA256 {
			t.Errorf("%s differs between two runs with seed 1", f.Path)
		}
		if m3.Files[k].Path == f.Path && m3.Files[k].SHA256 == f.SHA256 && f.Kind != "communes" {
			t.Errorf("%s is the same with seeds 1 and 2", f.Path)
		}
	}
	b1, _ := os.ReadFile(filepath.Join(dir1, "manifest.json"))
	b2, _ := os.ReadFile(filepath.Join(dir2, "manifest.json"))
	if !bytes.Equal(b1, b2) {
		t.Error("manifest.json differs between two runs with seed 1")
	}
}

// readLegacy reads a Ministry 2017–2022 file: Windows-1252, CRLF, ';', no quoting.
func readLegacy(t *testing.T, path string) [][]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := charmap.Windows1252.NewDecoder().Bytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	s := string(dec)
	if !strings.HasSuffix(s, "\r\n") || strings.Count(s, "\n") != strings.Count(s, "\r\n") {
		t.Errorf("%s: not CRLF", path)
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		rows = append(rows, strings.Split(line, ";"))
	}
	return rows
}

func read2024(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = ';'
	rows, err := r.ReadAll() // also checks that every row has the header's width
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("not an integer: %q", s)
	}
	return n
}

// checkResults checks the accounting identities of every row of every results file.
func checkResults(t *testing.T, m Manifest, dir string) {
	nfiles := 0
	for _, f := range m.Files {
		if f.Kind != "results" {
			continue
		}
		nfiles++
		t.Run(f.Path, func(t *testing.T) {
			path := filepath.Join(dir, f.Path)
			var rows [][]string
			// Field positions: inscrits, abstentions, votants, blancs, nuls, exprimés,
			// first block, block width, voix offset in a block.
			var ins, abs, vot, bla, nul, exp, first, width, voix int
			if strings.HasSuffix(f.Path, ".txt") {
				rows = readLegacy(t, path)
				ins, abs, vot, bla, nul, exp, first = 7, 8, 10, 12, 15, 18, 21
				width, voix = 7, 4
				if strings.HasPrefix(f.Election, "lg") {
					width, voix = 8, 5
				}
				raw, _ := os.ReadFile(path)
				if utf8.Valid(raw) && strings.HasPrefix(f.Election, "pres") {
					t.Error("legacy file is valid UTF-8: not Windows-1252")
				}
				if strings.HasPrefix(f.Election, "pres") && f.Round == 1 && !bytes.Contains(raw, []byte{'M', 0xC9, 'L'}) {
					t.Error("no MÉLENCHON in Windows-1252 (byte 0xC9)")
				}
			} else {
				rows = read2024(t, path)
				ins, vot, abs, exp, bla, nul, first = 5, 6, 8, 10, 13, 16, 19
				width, voix = 9, 5
			}
			var sumIns int64
			for k, r := range rows[1:] {
				if (len(r)-first)%width != 0 {
					t.Fatalf("row %d: %d fields", k+1, len(r))
				}
				i, a, v, b, n, e := atoi(t, r[ins]), atoi(t, r[abs]), atoi(t, r[vot]), atoi(t, r[bla]), atoi(t, r[nul]), atoi(t, r[exp])
				sumIns += int64(i)
				if i != a+v || v != b+n+e {
					t.Errorf("row %d: inscrits %d abstentions %d votants %d blancs %d nuls %d exprimés %d", k+1, i, a, v, b, n, e)
				}
				var sv int
				for p := first; p+width <= len(r); p += width {
					if r[p] == "" {
						break
					}
					sv += atoi(t, r[p+voix])
				}
				if sv != e {
					t.Errorf("row %d: Σ voix %d, exprimés %d", k+1, sv, e)
				}
			}
			if sumIns != f.Inscrits {
				t.Errorf("Σ inscrits %d, manifest %d", sumIns, f.Inscrits)
			}
			if len(rows)-1 != f.Rows {
				t.Errorf("%d rows, manifest %d", len(rows)-1, f.Rows)
			}
		})
	}
	if nfiles != 8 {
		t.Errorf("%d results files, want 8", nfiles)
	}
}

func TestRun_Department(t *testing.T) {
	m, dir := run(t, "department", 7)
	t.Run("results", func(t *testing.T) { checkResults(t, m, dir) })
	t.Run("totals", func(t *testing.T) {
		if m.Totals.Bureaux < 900 || m.Totals.Bureaux > 1100 || m.Totals.IRIS < 600 || m.Totals.IRIS > 800 || m.Totals.Communes < 250 {
			t.Errorf("totals %+v", m.Totals)
		}
		if m.Totals.Arrondissements != 20 {
			t.Errorf("%d arrondissements, want 20", m.Totals.Arrondissements)
		}
	})
	t.Run("grid and census", func(t *testing.T) {
		gridInd := checkGrid(t, filepath.Join(dir, "carreaux_200m_met.csv"))
		pop := checkCensus(t, filepath.Join(dir, "base-ic-evol-struct-pop-2020.CSV"))
		if math.Abs(gridInd-pop) > 0.01*pop {
			t.Errorf("grid Σ ind %v, census Σ P20_POP %v", gridInd, pop)
		}
		if math.Abs(pop-m.Totals.P20Pop) > 1 || math.Abs(gridInd-m.Totals.GridInd) > 1 {
			t.Errorf("grid %v census %v, manifest %+v", gridInd, pop, m.Totals)
		}
	})
	t.Run("paris", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, "contours.geojson"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(`"codeBureauVote": "75056_0101"`)) {
			t.Error("no bureau 75056_0101 in the contours")
		}
		b, _ = os.ReadFile(filepath.Join(dir, "communes.json"))
		if !bytes.Contains(b, []byte(`"code":"75101"`)) || !bytes.Contains(b, []byte(`"type":"arrondissement-municipal","commune":"75056"`)) {
			t.Error("no arrondissement-municipal 75101 in communes.json")
		}
		b, _ = os.ReadFile(filepath.Join(dir, "LG22_BVot_T1_FE.txt"))
		if !bytes.Contains(b, []byte("\r\nZA;")) || !bytes.Contains(b, []byte("\r\nZD;")) {
			t.Error("no ZA/ZD département in the legacy legislative file")
		}
	})
}

// checkGrid checks the Filosofi invariants of every row and returns Σ ind.
func checkGrid(t *testing.T, path string) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	col := map[string]int{}
	for k, h := range strings.Split(sc.Text(), ",") {
		col[h] = k
	}
	var sum float64
	imputed := 0
	for sc.Scan() {
		r := strings.Split(sc.Text(), ",")
		v := func(name string) float64 {
			x, err := strconv.ParseFloat(r[col[name]], 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return x
		}
		if len(r[0]) != 30 || !strings.HasPrefix(r[0], "CRS3035RES200mN") {
			t.Fatalf("idcar_200m %q", r[0])
		}
		ind, men := v("ind"), v("men")
		sum += ind
		var ages float64
		for _, a := range []string{"ind_0_3", "ind_4_5", "ind_6_10", "ind_11_17", "ind_18_24", "ind_25_39", "ind_40_54", "ind_55_64", "ind_65_79", "ind_80p", "ind_inc"} {
			ages += v(a)
		}
		logs := v("log_av45") + v("log_45_70") + v("log_70_90") + v("log_ap90") + v("log_inc")
		if math.Abs(ages-ind) > 1e-9 || math.Abs(v("men_coll")+v("men_mais")-men) > 1e-9 || math.Abs(logs-men) > 1e-9 {
			t.Fatalf("%s: invariants broken: ind %v ages %v men %v logs %v", r[0], ind, ages, men, logs)
		}
		if men < 11 && v("i_est_200") != 1 {
			t.Fatalf("%s: men %v but i_est_200 = 0", r[0], men)
		}
		if v("i_est_200") == 1 {
			imputed++
		}
	}
	if imputed == 0 {
		t.Error("no imputed cell")
	}
	return sum
}

// checkCensus checks the identities of the census rows and returns Σ P20_POP.
func checkCensus(t *testing.T, path string) float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if lines[0] != censusHeader || len(strings.Split(lines[0], ";")) != 76 {
		t.Fatalf("header %q", lines[0])
	}
	col := map[string]int{}
	for k, h := range strings.Split(lines[0], ";") {
		col[h] = k
	}
	var total float64
	for _, line := range lines[1:] {
		r := strings.Split(line, ";")
		v := func(name string) float64 {
			x, err := strconv.ParseFloat(r[col[name]], 64)
			if err != nil {
				t.Fatalf("%s %s: %v", r[0], name, err)
			}
			return x
		}
		sum := func(names ...string) float64 {
			var s float64
			for _, n := range names {
				s += v(n)
			}
			return s
		}
		pop := v("P20_POP")
		total += pop
		tol := 1e-6 * math.Max(1, pop)
		checks := map[string]float64{
			"age bands": sum("P20_POP0002", "P20_POP0305", "P20_POP0610", "P20_POP1117", "P20_POP1824", "P20_POP2539", "P20_POP4054", "P20_POP5564", "P20_POP6579", "P20_POP80P") - pop,
			"H + F":     v("P20_POPH") + v("P20_POPF") - pop,
			"CS":        sum("C20_POP15P_CS1", "C20_POP15P_CS2", "C20_POP15P_CS3", "C20_POP15P_CS4", "C20_POP15P_CS5", "C20_POP15P_CS6", "C20_POP15P_CS7", "C20_POP15P_CS8") - v("C20_POP15P"),
		}
		for name, d := range checks {
			if math.Abs(d) > tol {
				t.Errorf("%s: %s off by %v", r[0], name, d)
			}
		}
	}
	return total
}

// TestTerritory checks the geometry before reprojection: bureaux and IRIS tile their
// commune exactly, and IRIS do not follow bureau borders.
func TestTerritory(t *testing.T) {
	for _, scale := range []string{"demo", "department"} {
		t.Run(scale, func(t *testing.T) {
			sc, err := scaleParams(scale)
			if err != nil {
				t.Fatal(err)
			}
			g := &generator{scale: sc, seed: 3, laea: projection.NewLAEA3035(), l93: projection.NewLambert93()}
			if err := g.buildTerritory(); err != nil {
				t.Fatal(err)
			}
			tr := g.t
			bCells := groupCells(tr.bureauOf, len(tr.bureaux))
			iCells := groupCells(tr.irisOf, len(tr.iris))
			crossing := 0
			for ci := range tr.communes {
				cm := &tr.communes[ci]
				var cells []int32
				inCommune := map[int32]bool{}
				for _, ui := range cm.units {
					for _, c := range tr.units[ui].cells {
						cells = append(cells, c)
						inCommune[c] = true
					}
				}
				p := tr.cellPatch(int(cells[0]))
				cpolys := trace(p, cells, func(c int32) bool { return inCommune[c] })
				area := g.projectedArea(p, cpolys)
				cVerts := map[int32]bool{}
				for _, poly := range cpolys {
					for _, r := range poly {
						for _, v := range r {
							cVerts[v] = true
						}
					}
				}
				w1 := int32(p.w + 1)
				var bArea, iArea float64
				for _, ui := range cm.units {
					u := &tr.units[ui]
					for bi := u.firstB; bi < u.firstB+u.nBureaux; bi++ {
						b32 := int32(bi)
						polys := trace(p, bCells[bi], func(c int32) bool { return tr.bureauOf[c] == b32 })
						bArea += g.projectedArea(p, polys)
						// Every vertex of the bureau is on the commune's boundary or inside it.
						for _, poly := range polys {
							for _, v := range poly[0] {
								if cVerts[v] {
									continue
								}
								inside := false
								for _, cp := range cpolys {
									if pointInRing(float64(v%w1), float64(v/w1), cp[0], w1) {
										inside = true
									}
								}
								if !inside {
									t.Fatalf("bureau %s: vertex %d outside commune %s", tr.bureaux[bi].key, v, cm.code)
								}
							}
						}
					}
					for ii := u.firstI; ii < u.firstI+u.nIRIS; ii++ {
						i32 := int32(ii)
						iArea += g.projectedArea(p, trace(p, iCells[ii], func(c int32) bool { return tr.irisOf[c] == i32 }))
						seen := map[int32]bool{}
						for _, c := range iCells[ii] {
							seen[tr.bureauOf[c]] = true
						}
						if len(seen) >= 2 {
							crossing++
						}
					}
				}
				if math.Abs(bArea-area) > 1e-9*area || math.Abs(iArea-area) > 1e-9*area {
					t.Errorf("commune %s: area %v, Σ bureaux %v, Σ IRIS %v", cm.code, area, bArea, iArea)
				}
			}
			if crossing == 0 {
				t.Error("every IRIS lies inside a single bureau: IRIS follow bureau borders")
			}
		})
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name        string
		total, gran int64
		w           []float64
	}{
		{"tenths", 4495, 1, []float64{1, 2, 3}},
		{"halves", 4495, 5, []float64{0.2, 0.3, 0.5, 0}},
		{"integers", 1740, 10, []float64{1, 1}},
		{"remainder", 1745, 10, []float64{1, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s int64
			for _, v := range split(tc.total, tc.gran, tc.w) {
				s += v
			}
			if s != tc.total {
				t.Errorf("Σ = %d, want %d", s, tc.total)
			}
		})
	}
}
