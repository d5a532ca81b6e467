package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/ingest/results"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/postgres/pgtest"
	"github.com/coopol/coopol/internal/realdata"
)

// loadResults parses data as file name and loads it as election e.
func loadResults(ctx context.Context, db *postgres.DB, e electoral.Election, name string, data []byte) (*ingest.Report, error) {
	rd, err := results.NewReader(name, bytes.NewReader(data), results.Options{Election: e})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	l := postgres.Load{File: name, SHA256: hex.EncodeToString(sum[:]),
		Params: map[string]string{"election": e.ID, "round": strconv.Itoa(e.Round)}}
	return db.LoadResults(ctx, l, e, rd)
}

func readReal(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(realdata.Path(t, "hds9213/"+name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadContours stores the real 92-13 contours straight in SQL: the contours loader is
// not under test here, only the match against its table.
func loadContours(t testing.TB, url string) {
	t.Helper()
	geojson := readReal(t, "bv_contours_reu_circo9213.geojson")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `WITH d AS (INSERT INTO datasets (kind, scope, file_name, sha256)
		VALUES ('contours', 'test', 'bv_contours_reu_circo9213.geojson', 'x') RETURNING id)
	INSERT INTO bureau_contours (dataset_id, vintage, code, commune, bureau, geom)
	SELECT d.id, '2022', f->'properties'->>'codeBureauVote', split_part(f->'properties'->>'codeBureauVote', '_', 1),
		split_part(f->'properties'->>'codeBureauVote', '_', 2),
		ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(f->>'geometry'), 4326))
	FROM d, jsonb_array_elements($1::jsonb->'features') f`, string(geojson))
	if err != nil {
		t.Fatal(err)
	}
}

// query runs a test-only query and returns its rows as strings, one line per row,
// fields joined with "|".
func query(t testing.TB, url, sql string, args ...any) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func one(t testing.TB, url, sql string, args ...any) string {
	t.Helper()
	r := query(t, url, sql, args...)
	if len(r) != 1 {
		t.Fatalf("%s: %d rows, want 1", sql, len(r))
	}
	return r[0]
}

func election(t testing.TB, id string, round int) electoral.Election {
	e, err := electoral.ParseElection(id, round)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestDB_LoadResults_Real loads every real results fixture into the database and checks
// the known truths of data-formats.md §14.4.
func TestDB_LoadResults_Real(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file     string
		election electoral.Election
		layout   string
		totals   postgres.ResultsTotals // Blancs/Nuls checked only when non-zero
		cands    int64                  // candidate_results rows
		votes    map[string]string      // SQL condition → "Σ votes|bureaux"
		onlyHere []string
		extra    map[string]string // SQL → expected single row
	}{
		{
			file: "lg2024_t1_9213.csv", election: election(t, "lg2024", 1), layout: "2024-blocks",
			totals: postgres.ResultsTotals{Bureaux: 92, Inscrits: 89338, Votants: 66990, Exprimes: 65652, Blancs: 1251, Nuls: 87},
			cands:  92 * 7,
			votes: map[string]string{
				"name = 'BREGEON' AND nuance = 'ENS'": "25721|92", "name = 'GAILLARD' AND nuance = 'UG'": "24798|92",
				"name = 'YVARS' AND nuance = 'RN'": "9629|92", "name = 'ISNARD' AND nuance = 'LR'": "3613|92",
				"name = 'PRETO' AND nuance = 'REC'": "770|92", "name = 'TOUNSI' AND nuance = 'DVC'": "736|92",
				"name = 'MARTIN' AND nuance = 'EXG'": "385|92", "elected": "0|0", "NOT elected": "65652|644",
			},
			onlyHere: []string{"92019_0020"},
			extra: map[string]string{
				`SELECT string_agg(commune || ':' || s, ',' ORDER BY commune) FROM (SELECT commune, sum(inscrits) s FROM bureau_results WHERE election = 'lg2024' AND round = 1 GROUP BY commune) x`: "92002:40957,92014:13273,92019:20762,92071:14346",
				`SELECT count(*) FROM bureau_results WHERE election = 'lg2024' AND commune = '92019'`:                                                                                                "20",
			},
		},
		{
			file: "lg2024_t2_9213.csv", election: election(t, "lg2024", 2), layout: "2024-blocks",
			totals: postgres.ResultsTotals{Bureaux: 92, Inscrits: 89348, Votants: 62934, Exprimes: 59354},
			cands:  92 * 2,
			votes: map[string]string{
				"name = 'BREGEON' AND nuance = 'ENS' AND panel = 4 AND elected":     "33310|92",
				"name = 'GAILLARD' AND nuance = 'UG' AND panel = 2 AND NOT elected": "26044|92",
			},
			onlyHere: []string{"92019_0020"},
		},
		{
			file: "eu2024_9213.csv", election: election(t, "eu2024", 1), layout: "2024-blocks",
			totals: postgres.ResultsTotals{Bureaux: 92, Inscrits: 89932, Votants: 55171, Exprimes: 54376},
			cands:  92 * 38,
			votes: map[string]string{
				"nuance = 'LENS'": "11359|92", "nuance = 'LUG'": "9993|92", "nuance = 'LFI'": "7438|92", "nuance = 'LRN'": "6842|92",
				"elected IS NULL AND name IS NULL AND list_short IS NOT NULL":                                  "54376|3496",
				`list_label = '"POUR LE PAIN, LA PAIX, LA LIBERTÉ !" PRÉSENTÉE PAR LE PARTI DES TRAVAILLEURS'`: "",
			},
			onlyHere: []string{"92019_0020"},
			extra: map[string]string{
				`SELECT count(DISTINCT nuance) FROM candidate_results WHERE election = 'eu2024'`: "14",
			},
		},
		{
			file: "dep2021_t1_9213.csv", election: election(t, "dep2021", 1), layout: "dep2021",
			totals: postgres.ResultsTotals{Bureaux: 91, Inscrits: 88744},
			cands:  44*7 + 14*6 + 33*4,
			votes: map[string]string{
				"name = 'M. DOUMONT Luc et Mme LEMOINE Laetitia' AND nuance = 'BC-RN' AND bureau = '92002_0001'": "24|1",
			},
			extra: map[string]string{
				`SELECT string_agg(DISTINCT canton, ',') FROM bureau_results WHERE election = 'dep2021'`:                                                                                                             "9201,9203,9206",
				`SELECT string_agg(n::text || ':' || c::text, ',' ORDER BY n) FROM (SELECT n, count(*) c FROM (SELECT count(*) n FROM candidate_results WHERE election = 'dep2021' GROUP BY bureau) x GROUP BY n) y`: "4:33,6:14,7:44",
			},
		},
		{
			file: "mun2020_t1_antony.csv", election: election(t, "mun2020", 1), layout: "mun2020",
			totals: postgres.ResultsTotals{Bureaux: 44, Inscrits: 41529},
			cands:  44 * 4,
			votes: map[string]string{
				"name = 'SENANT' AND list_label = 'ANTONY POUR TOUS AVEC JEAN-YVES SENANT' AND nuance = 'LDVD'": "",
			},
		},
		{
			file: "mun2014_t1_antony.csv", election: election(t, "mun2014", 1), layout: "long-mun2014",
			totals: postgres.ResultsTotals{Bureaux: 44, Inscrits: 41242},
			cands:  44 * 4,
			extra: map[string]string{
				`SELECT count(*) FROM bureau_results WHERE election = 'mun2014' AND blancs IS NULL AND nuls IS NULL AND abstentions = inscrits - votants`: "44",
			},
		},
		{
			file: "lg2022_t2_9213_ods.csv", election: election(t, "lg2022", 2), layout: "long-ods",
			totals: postgres.ResultsTotals{Bureaux: 91, Inscrits: 90066},
			cands:  182,
			votes: map[string]string{
				"name = 'BREGEON' AND nuance = 'ENS'": "", "name = 'GAILLARD' AND nuance = 'NUP'": "",
			},
			extra: map[string]string{
				`SELECT string_agg(DISTINCT circonscription, ',') FROM bureau_results WHERE election = 'lg2022'`: "9213",
				`SELECT bureau_code FROM bureau_results WHERE election = 'lg2022' AND bureau = '92002_0019'`:     "0019",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, url := pgtest.New(t)
			loadContours(t, url)
			rep, err := loadResults(ctx, db, tc.election, tc.file, readReal(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Layout != tc.layout || rep.Rows != tc.totals.Bureaux || rep.Scope != tc.election.Scope() || rep.Unchanged {
				t.Errorf("report: layout %s rows %d scope %s unchanged %v", rep.Layout, rep.Rows, rep.Scope, rep.Unchanged)
			}
			got, err := db.ResultsTotals(ctx, tc.election)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.totals
			if want.Votants == 0 {
				want.Votants, want.Exprimes = got.Votants, got.Exprimes
			}
			if want.Blancs == 0 {
				want.Blancs, want.Nuls = got.Blancs, got.Nuls
			}
			if got != want {
				t.Errorf("totals = %+v, want %+v", got, want)
			}
			if n := one(t, url, `SELECT count(*) FROM candidate_results WHERE election = $1 AND round = $2`, tc.election.ID, tc.election.Round); n != fmt.Sprint(tc.cands) {
				t.Errorf("candidate rows = %s, want %d", n, tc.cands)
			}
			// Σ votes = exprimés in every bureau (§3.6): no votes_sum warning, checked in SQL too.
			if n := one(t, url, `SELECT count(*) FROM bureau_results b WHERE election = $1 AND round = $2 AND exprimes IS DISTINCT FROM
				(SELECT sum(votes) FROM candidate_results c WHERE c.election = b.election AND c.round = b.round AND c.bureau = b.bureau)`,
				tc.election.ID, tc.election.Round); n != "0" {
				t.Errorf("%s bureaux where Σ votes ≠ exprimés", n)
			}
			for cond, w := range tc.votes {
				got := one(t, url, `SELECT coalesce(sum(votes), 0) || '|' || count(*) FROM candidate_results WHERE election = $1 AND round = $2 AND `+cond, tc.election.ID, tc.election.Round)
				if w == "" { // present in every bureau
					w = "|" + fmt.Sprint(tc.totals.Bureaux)
					if !strings.HasSuffix(got, w) {
						t.Errorf("%s: %s, want one row per bureau", cond, got)
					}
					continue
				}
				if got != w {
					t.Errorf("%s: Σ votes|rows = %s, want %s", cond, got, w)
				}
			}
			for sql, w := range tc.extra {
				if got := one(t, url, sql); got != w {
					t.Errorf("%s = %s, want %s", sql, got, w)
				}
			}
			m := rep.Match
			if m == nil || m.Against != "contours" || int64(m.Matched) != tc.totals.Bureaux-int64(len(tc.onlyHere)) ||
				!slices.Equal(m.OnlyHere, tc.onlyHere) || len(m.OnlyOther) != 0 {
				t.Errorf("match = %+v, want %d matched, only here %v", m, tc.totals.Bureaux-int64(len(tc.onlyHere)), tc.onlyHere)
			}
			var wantWarn []string
			for _, k := range tc.onlyHere {
				wantWarn = append(wantWarn, "no_contour "+k)
			}
			var gotWarn []string
			for _, w := range rep.Warnings {
				gotWarn = append(gotWarn, w.Code+" "+w.Key)
			}
			if !slices.Equal(gotWarn, wantWarn) {
				t.Errorf("warnings = %v, want %v", rep.Warnings, wantWarn)
			}
			stored, err := db.DatasetWarnings(ctx, rep.DatasetID)
			if err != nil || len(stored) != len(wantWarn) {
				t.Errorf("stored warnings = %v, %v", stored, err)
			}
			if len(tc.onlyHere) > 0 && (len(stored) == 0 || stored[0].Line <= 1) {
				t.Errorf("no_contour warning without a line: %+v", stored)
			}
		})
	}
}

func TestDB_NuanceShares(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := pgtest.New(t)
	e := election(t, "lg2024", 2)
	if _, err := loadResults(ctx, db, e, "lg2024_t2_9213.csv", readReal(t, "lg2024_t2_9213.csv")); err != nil {
		t.Fatal(err)
	}
	shares, err := db.NuanceShares(ctx, e, "ENS")
	if err != nil {
		t.Fatal(err)
	}
	// Bureau 92002_0001: BREGEON 458 of 694 exprimés (the file's rounded 65,99 %).
	if len(shares) != 92 || fmt.Sprintf("%.4f", shares["92002_0001"]) != "0.6599" {
		t.Errorf("%d shares, 92002_0001 = %v", len(shares), shares["92002_0001"])
	}
	tot, err := db.CandidateTotals(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	want := []postgres.NuanceVotes{{"ENS", "BREGEON", 4, 33310, 92}, {"UG", "GAILLARD", 2, 26044, 92}}
	if !slices.Equal(tot, want) {
		t.Errorf("candidate totals = %+v, want %+v", tot, want)
	}
}

// TestDB_LoadResults_Idempotent: the same file twice changes nothing; a corrected file
// replaces the load of its election and round, and only that one.
func TestDB_LoadResults_Idempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, url := pgtest.New(t)
	e1, e2 := election(t, "lg2024", 1), election(t, "lg2024", 2)
	t1 := readReal(t, "lg2024_t1_9213.csv")
	first, err := loadResults(ctx, db, e1, "lg2024_t1_9213.csv", t1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loadResults(ctx, db, e2, "lg2024_t2_9213.csv", readReal(t, "lg2024_t2_9213.csv")); err != nil {
		t.Fatal(err)
	}
	counts := func() string {
		return one(t, url, `SELECT (SELECT count(*) FROM bureau_results) || '/' || (SELECT count(*) FROM candidate_results) || '/' || (SELECT count(*) FROM datasets)`)
	}
	before := counts()
	again, err := loadResults(ctx, db, e1, "lg2024_t1_9213.csv", t1)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Unchanged || again.DatasetID != first.DatasetID || again.Rows != 92 || counts() != before {
		t.Errorf("second load: unchanged %v dataset %d rows %d, counts %s → %s", again.Unchanged, again.DatasetID, again.Rows, before, counts())
	}
	// Correct bureau 92002_0001: BREGEON 378 → 379 and exprimés 789 → 790.
	fixed := bytes.Replace(t1, []byte("92;Hauts-de-Seine;92002;Antony;0001;965;797;82,59%;168;17,41%;789;"), []byte("92;Hauts-de-Seine;92002;Antony;0001;965;798;82,59%;167;17,41%;790;"), 1)
	fixed = bytes.Replace(fixed, []byte("BREGEON;Maud;FEMININ;378;"), []byte("BREGEON;Maud;FEMININ;379;"), 1)
	if bytes.Equal(fixed, t1) {
		t.Fatal("correction did not apply: fixture changed?")
	}
	rep, err := loadResults(ctx, db, e1, "lg2024_t1_9213.csv", fixed)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unchanged || rep.DatasetID == first.DatasetID || counts() != strings.TrimSuffix(before, "/2")+"/3" {
		t.Errorf("corrected load: unchanged %v dataset %d, counts %s → %s", rep.Unchanged, rep.DatasetID, before, counts())
	}
	if got := one(t, url, `SELECT exprimes || '|' || dataset_id FROM bureau_results WHERE election = 'lg2024' AND round = 1 AND bureau = '92002_0001'`); got != fmt.Sprintf("790|%d", rep.DatasetID) {
		t.Errorf("corrected bureau = %s", got)
	}
	if got := one(t, url, `SELECT sum(votes) FROM candidate_results WHERE election = 'lg2024' AND round = 1 AND name = 'BREGEON'`); got != "25722" {
		t.Errorf("BREGEON after correction = %s, want 25722", got)
	}
	if got := one(t, url, `SELECT count(*) FROM datasets WHERE kind = 'results' AND scope = 'lg2024/1' AND superseded_at IS NOT NULL`); got != "1" {
		t.Errorf("superseded loads = %s, want 1", got)
	}
	if tot, _ := db.ResultsTotals(ctx, e2); tot.Bureaux != 92 || tot.Exprimes != 59354 {
		t.Errorf("round 2 touched by round 1's correction: %+v", tot)
	}
}

// TestDB_LoadResults_Warnings loads a synthetic file breaking every accounting rule and
// checks each problem is loaded and reported with its line and bureau.
func TestDB_LoadResults_Warnings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, url := pgtest.New(t)
	loadContours(t, url)
	const h = "Code département;Libellé département;Code commune;Libellé commune;Code BV;Inscrits;Votants;% Votants;Abstentions;% Abstentions;Exprimés;% Exprimés/inscrits;% Exprimés/votants;Blancs;% Blancs/inscrits;% Blancs/votants;Nuls;% Nuls/inscrits;% Nuls/votants;Numéro de panneau 1;Nuance candidat 1;Nom candidat 1;Prénom candidat 1;Sexe candidat 1;Voix 1;% Voix/inscrits 1;% Voix/exprimés 1;Elu 1;Numéro de panneau 2;Nuance candidat 2;Nom candidat 2;Prénom candidat 2;Sexe candidat 2;Voix 2;% Voix/inscrits 2;% Voix/exprimés 2;Elu 2\n"
	in := h +
		"92;H;92002;Antony;0001;100;80;;20;;78;;;1;;;1;;;1;ENS;A;B;F;50;;;;2;UG;C;D;M;28;;;\n" + // line 2: clean
		"92;H;92002;Antony;0002;100;80;;25;;78;;;1;;;1;;;1;ENS;A;B;F;50;;;;2;UG;C;D;M;27;;;\n" + // line 3: inscrits, votes
		"92;H;92002;Antony;0003;100;80;;20;;78;;;5;;;1;;;1;ENS;A;B;F;50;;;;1;UG;C;D;M;28;;;\n" + // line 4: votants, dup panel
		"92;H;92002;Antony;0001;100;80;;20;;78;;;1;;;1;;;1;ENS;A;B;F;50;;;;2;UG;C;D;M;28;;;\n" + // line 5: duplicate bureau
		"92;H;92002;Antony;0099;10;8;;2;;8;;;0;;;0;;;1;ENS;A;B;F;8;;;;;;;;;;;;\n" // line 6: no contour
	rep, err := loadResults(ctx, db, election(t, "lg2024", 1), "bad-sums.csv", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range rep.Warnings {
		got = append(got, fmt.Sprintf("%d %s %s", w.Line, w.Code, w.Key))
	}
	slices.Sort(got)
	want := []string{
		"3 inscrits_identity 92002_0002", "3 votes_sum 92002_0002",
		"4 duplicate_candidate 92002_0003", "4 votants_identity 92002_0003", "4 votes_sum 92002_0003",
		"5 duplicate_bureau 92002_0001", "6 no_contour 92002_0099",
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings:\n%v\nwant\n%v", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rep.Rows != 4 || one(t, url, `SELECT count(*) FROM bureau_results`) != "4" || one(t, url, `SELECT count(*) FROM candidate_results`) != "6" {
		t.Errorf("rows %d; stored %v", rep.Rows, query(t, url, `SELECT bureau, panel, votes FROM candidate_results ORDER BY 1, 2`))
	}
	// 44 Antony contours; 3 of them have results here, 41 have none.
	if m := rep.Match; m.Matched != 3 || len(m.OnlyOther) != 41 || !slices.Equal(m.OnlyHere, []string{"92002_0099"}) {
		t.Errorf("match = %d matched, %d only contours, only here %v", m.Matched, len(m.OnlyOther), m.OnlyHere)
	}
}

// TestDB_LoadResults_Long checks the merge of long layouts: rows of one bureau apart
// in the file, totals that disagree, a candidate repeated.
func TestDB_LoadResults_Long(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, url := pgtest.New(t)
	in := "No tour;Code département;Code commune;Nom commune;No bureau vote;Inscrits;Votants;Exprimés;No liste;Nom;Prénom;Nuance;Voix\n" +
		"1;92;2;Antony;1;100;60;50;2;B;b;LDVG;20\n" +
		"1;92;2;Antony;2;10;6;6;1;A;a;LDVD;6\n" +
		"2;92;2;Antony;1;100;70;70;1;A;a;LDVD;70\n" + // round 2: skipped
		"1;92;2;Antony;1;100;60;50;1;A;a;LDVD;30\n" +
		"1;92;2;Antony;2;10;7;6;2;B;b;LDVG;0\n" + // line 6: totals differ
		"1;92;2;Antony;2;10;6;6;2;B;b;LDVG;0\n" // line 7: panel 2 again
	rep, err := loadResults(ctx, db, election(t, "mun2014", 1), "long.csv", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range rep.Warnings {
		got = append(got, fmt.Sprintf("%d %s %s", w.Line, w.Code, w.Key))
	}
	want := []string{"6 totals_differ 92002_0002", "6 duplicate_candidate 92002_0002", "0 no_contours "}
	if strings.Join(got, ",") != strings.Join(want, ",") || rep.Match != nil {
		t.Errorf("warnings = %v, match %v; want %v", got, rep.Match, want)
	}
	rows := query(t, url, `SELECT b.bureau, b.votants, b.abstentions, string_agg(c.panel || ':' || c.votes, ' ' ORDER BY c.panel)
		FROM bureau_results b JOIN candidate_results c USING (election, round, bureau) GROUP BY 1, 2, 3 ORDER BY 1`)
	if strings.Join(rows, ",") != "92002_0001|60|40|1:30 2:20,92002_0002|6|4|1:6 2:0" {
		t.Errorf("merged = %v", rows)
	}
}

// TestDB_LoadResults_DataGouvSplit loads data.gouv's two tables of one election: each
// replaces its own half, filtered on id_election.
func TestDB_LoadResults_DataGouvSplit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, url := pgtest.New(t)
	e := election(t, "pres2022", 1)
	general := "id_election;id_brut_miom;code_departement;libelle_departement;code_commune;libelle_commune;code_bv;inscrits;abstentions;votants;blancs;nuls;exprimes\n" +
		"2022_pres_t1;92002_0001;92;Hauts-de-Seine;92002;Antony;0001;100;20;80;1;1;78\n" +
		"2022_pres_t2;92002_0001;92;Hauts-de-Seine;92002;Antony;0001;100;30;70;1;1;68\n"
	cands := "id_election;id_brut_miom;code_departement;code_commune;code_bv;no_panneau;voix;ratio_voix_inscrits;ratio_voix_exprimes;nuance;sexe;nom;prenom;liste;libelle_abrege_liste;libelle_etendu_liste;nom_tete_liste;binome\n" +
		"2022_pres_t1;92002_0001;92;92002;0001;3;50;;;;F;LE PEN;Marine;;;;;\n" +
		"2022_legi_t1;92002_0001;92;92002;0001;3;99;;;RN;F;X;Y;;;;;\n" +
		"2022_pres_t1;92002_0001;92;92002;0001;7;28;;;;M;MÉLENCHON;Jean-Luc;;;;;\n"
	rc, err := loadResults(ctx, db, e, "candidats_results.csv", []byte(cands))
	if err != nil {
		t.Fatal(err)
	}
	rg, err := loadResults(ctx, db, e, "general_results.csv", []byte(general))
	if err != nil {
		t.Fatal(err)
	}
	if rc.Scope != "pres2022/1/votes" || rg.Scope != "pres2022/1/totals" || rc.Layout != "datagouv-candidats" || rg.Layout != "datagouv-general" {
		t.Errorf("scopes %s %s layouts %s %s", rc.Scope, rg.Scope, rc.Layout, rg.Layout)
	}
	if got := one(t, url, `SELECT b.exprimes || '|' || sum(c.votes) || '|' || count(*) FROM bureau_results b JOIN candidate_results c USING (election, round, bureau) GROUP BY b.exprimes`); got != "78|78|2" {
		t.Errorf("merged halves = %s", got)
	}
	// Reloading the votes keeps the totals loaded by the other half.
	cands2 := strings.Replace(cands, ";28;", ";27;", 1)
	rc2, err := loadResults(ctx, db, e, "candidats_results.csv", []byte(cands2))
	if err != nil {
		t.Fatal(err)
	}
	if got := one(t, url, `SELECT b.exprimes || '|' || sum(c.votes) FROM bureau_results b JOIN candidate_results c USING (election, round, bureau) GROUP BY b.exprimes`); got != "78|77" {
		t.Errorf("after reloading votes = %s", got)
	}
	if len(rc2.Warnings) < 1 || rc2.Warnings[0].Code != "votes_sum" || rc2.Warnings[0].Line != 2 {
		t.Errorf("warnings = %+v, want votes_sum at line 2", rc2.Warnings)
	}
}

// TestDB_LoadResults_BadFile: a file that fails to parse loads nothing, not even the
// rows before the error, and the error names file, line and column.
func TestDB_LoadResults_BadFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, url := pgtest.New(t)
	good := readReal(t, "lg2024_t2_9213.csv")
	e := election(t, "lg2024", 2)
	if _, err := loadResults(ctx, db, e, "lg2024_t2_9213.csv", good); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(good), "\n")
	withLine := func(n int, repl func(string) string) []byte {
		l := slices.Clone(lines)
		l[n-1] = repl(l[n-1])
		return []byte(strings.Join(l, ""))
	}
	tests := []struct {
		name string
		data []byte
		line int64
		col  int
	}{
		{"unknown layout", []byte("id_bv;names\n92002_1;x\n"), 1, 1},
		{"non-numeric count at the last row", withLine(93, func(s string) string { f := strings.Split(s, ";"); f[5] = "1O27"; return strings.Join(f, ";") }), 93, 6},
		{"fixed part too short", withLine(50, func(s string) string { return s[:20] + "\n" }), 50, 4},
		{"non-numeric votes", withLine(10, func(s string) string { return strings.Replace(s, "MASCULIN;", "MASCULIN;x", 1) }), 10, 25},
		{"truncated block", withLine(40, func(s string) string { return strings.TrimSuffix(s, ";;;;;;;;;;;;;;;;;;\n") + ";3;RN;X\n" }), 40, 41},
	}
	before := one(t, url, `SELECT (SELECT count(*) FROM bureau_results) || '/' || (SELECT count(*) FROM candidate_results) || '/' || (SELECT count(*) FROM datasets) || '/' || (SELECT max(dataset_id) FROM bureau_results)`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadResults(ctx, db, e, "bad.csv", tc.data)
			pe, ok := ingest.AsParseError(err)
			if !ok || !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("err = %v, want a ParseError", err)
			}
			if pe.File != "bad.csv" || pe.Line != tc.line || pe.Col != tc.col {
				t.Errorf("err = %v, want bad.csv:%d:%d", err, tc.line, tc.col)
			}
			after := one(t, url, `SELECT (SELECT count(*) FROM bureau_results) || '/' || (SELECT count(*) FROM candidate_results) || '/' || (SELECT count(*) FROM datasets) || '/' || (SELECT max(dataset_id) FROM bureau_results)`)
			if after != before {
				t.Errorf("tables changed: %s → %s", before, after)
			}
		})
	}
	// Into an empty database too: nothing at all.
	db2, url2 := pgtest.New(t)
	if _, err := loadResults(ctx, db2, e, "bad.csv", tests[1].data); err == nil {
		t.Fatal("want an error")
	}
	if got := one(t, url2, `SELECT (SELECT count(*) FROM bureau_results) + (SELECT count(*) FROM candidate_results) + (SELECT count(*) FROM datasets) + (SELECT count(*) FROM dataset_warnings)`); got != "0" {
		t.Errorf("rows after a failed load = %s", got)
	}
}
