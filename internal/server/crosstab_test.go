package server

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/postgres/pgtest"
)

// seedCross stores two bureaux of Antony with contours, results of lg2024 round 1 and
// apportioned profiles, once per fixture.
func (f *fixture) seedCross() {
	f.t.Helper()
	if pgtest.QueryFloat(f.t, f.url, `SELECT count(*)::float8 FROM bureau_results`) > 0 {
		return
	}
	pgtest.QueryFloat(f.t, f.url, `WITH d AS (INSERT INTO datasets (kind, scope, file_name, sha256) VALUES ('contours', 'seed', 'seed', 'x') RETURNING id),
	c AS (INSERT INTO bureau_contours (dataset_id, vintage, code, commune, bureau, circonscription, geom)
		SELECT d.id, '2022', '92002_000' || n, '92002', '000' || n, '9213',
		  ST_Multi(ST_MakeEnvelope(2.29 + n * 0.01, 48.75, 2.30 + n * 0.01, 48.76, 4326)) FROM d, generate_series(1, 2) n RETURNING 1),
	k AS (INSERT INTO candidates (dataset_id, election, round, candidate, panel, nuance, name)
		SELECT d.id, 'lg2024', 1, n, n, (ARRAY['UG', 'ENS'])[n], 'Nom' || n FROM d, generate_series(1, 2) n RETURNING 1),
	r AS (INSERT INTO bureau_results (dataset_id, election, round, bureau, commune, bureau_code, circonscription,
		inscrits, abstentions, votants, blancs, nuls, exprimes, candidates, votes)
		SELECT d.id, 'lg2024', 1, '92002_000' || n, '92002', '000' || n, '9213', 1000, 400, 600, 10, 5, 585,
		  ARRAY[1, 2], ARRAY[300 + n, 285 - n] FROM d, generate_series(1, 2) n RETURNING 1)
	SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM k) + (SELECT count(*) FROM r)`)
	if _, err := f.db.Apportion(f.t.Context()); err != nil {
		f.t.Fatal(err)
	}
}

func seeded(path string) func(*fixture, int64) (string, string) {
	return func(f *fixture, _ int64) (string, string) {
		f.seedCross()
		return path, ""
	}
}

func TestServer_Cross(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	f.seedCross()
	member := f.session(f.member(auth.RoleAdherent, "92002"))
	analyst := f.session(f.member(auth.RoleAnalyst, "FR"))

	w := f.do("GET", "/api/bureaux/92002_0001", "", member)
	var p struct {
		Code    string
		Results []struct {
			Election string
			Inscrits int64
		}
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Code != "92002_0001" || len(p.Results) != 1 || p.Results[0].Inscrits != 1000 {
		t.Errorf("profile: %d %s", w.Code, w.Body)
	}
	if w := f.do("GET", "/api/bureaux/92002_9999", "", member); w.Code != http.StatusNotFound {
		t.Errorf("unknown bureau: %d", w.Code)
	}
	for _, bad := range []string{"/api/crosstab?election=lg2024&indicator=nope", "/api/crosstab?election=x&indicator=share_60p",
		"/api/crosstab?election=lg2024&indicator=share_60p&commune=1'--", "/api/targets?election=lg2024", "/api/exports/bureaux?format=xls"} {
		tok := member
		if strings.Contains(bad, "exports") {
			tok = analyst
		}
		if w := f.do("GET", bad, "", tok); w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, w.Code)
		}
	}
	w = f.do("GET", "/api/targets?election=lg2024&round=1&favourable=UG&limit=1", "", member)
	var tg struct {
		Scores []struct {
			Bureau  string
			Reserve float64
		}
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &tg) != nil || len(tg.Scores) != 1 || tg.Scores[0].Bureau != "92002_0002" {
		t.Errorf("targets: %d %s", w.Code, w.Body)
	}
	// 1000 × 0.4 × 302/585
	if len(tg.Scores) == 1 && (tg.Scores[0].Reserve < 206.4 || tg.Scores[0].Reserve > 206.5) {
		t.Errorf("reserve = %v, want 206.5", tg.Scores[0].Reserve)
	}
	w = f.do("GET", "/api/exports/bureaux?election=lg2024&round=1&format=csv&sep=%3B", "", analyst)
	r := csv.NewReader(strings.NewReader(w.Body.String()))
	r.Comma = ';'
	if recs, err := r.ReadAll(); w.Code != http.StatusOK || err != nil || len(recs) != 3 || recs[0][0] != "bureau" {
		t.Errorf("export: %d %v %q", w.Code, err, w.Body.String())
	}
	if n := pgtest.QueryFloat(t, f.url, `SELECT count(*)::float8 FROM audit_log WHERE action = 'data.export'`); n != 1 {
		t.Errorf("%v exports audited, want 1", n)
	}
}
