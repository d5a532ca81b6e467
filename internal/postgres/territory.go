package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/territory"
)

const territoryColumns = `id, kind, code, name, parent_id, ancestors`

func scanTerritory(row pgx.Row) (territory.Territory, error) {
	var t territory.Territory
	err := row.Scan(&t.ID, &t.Kind, &t.Code, &t.Name, &t.ParentID, &t.Ancestors)
	return t, err
}

// Territory returns the territory with id.
func (db *DB) Territory(ctx context.Context, id int64) (territory.Territory, error) {
	t, err := scanTerritory(db.pool.QueryRow(ctx, `SELECT `+territoryColumns+` FROM territories WHERE id = $1`, id))
	if err != nil {
		return t, fmt.Errorf("postgres: territory %d: %w", id, translate(err))
	}
	return t, nil
}

// TerritoryByCode returns the territory with code ("FR", "92", a section's code).
func (db *DB) TerritoryByCode(ctx context.Context, code string) (territory.Territory, error) {
	t, err := scanTerritory(db.pool.QueryRow(ctx, `SELECT `+territoryColumns+` FROM territories WHERE code = $1`, code))
	if err != nil {
		return t, fmt.Errorf("postgres: territory %q: %w", code, translate(err))
	}
	return t, nil
}

// NationalTerritory returns the root of the tree.
func (db *DB) NationalTerritory(ctx context.Context) (territory.Territory, error) {
	t, err := scanTerritory(db.pool.QueryRow(ctx, `SELECT `+territoryColumns+` FROM territories WHERE kind = 'national'`))
	if err != nil {
		return t, fmt.Errorf("postgres: national territory: %w", translate(err))
	}
	return t, nil
}

const territoriesSQL = `SELECT ` + territoryColumns + ` FROM territories
WHERE ($1::bigint IS NULL OR $1 = ANY (ancestors))
  AND ($2::bigint IS NULL OR parent_id = $2)
  AND ($3::text IS NULL OR kind = $3)
ORDER BY cardinality(ancestors), code`

// Territories returns the territories matching f, top levels first.
func (db *DB) Territories(ctx context.Context, f territory.Filter) ([]territory.Territory, error) {
	rows, err := db.pool.Query(ctx, territoriesSQL, f.Under, f.ParentID, f.Kind)
	if err != nil {
		return nil, fmt.Errorf("postgres: territories: %w", err)
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (territory.Territory, error) { return scanTerritory(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: territories: %w", err)
	}
	return ts, nil
}

// CreateTerritory adds a fédération or a section under t.ParentID.
func (db *DB) CreateTerritory(ctx context.Context, actorID *int64, t territory.Territory) (territory.Territory, error) {
	if t.ParentID == nil {
		return t, fmt.Errorf("territory %q needs a parent: %w", t.Code, errs.ErrInvalid)
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return t, fmt.Errorf("postgres: create territory: %w", err)
	}
	defer tx.Rollback(ctx)
	parent, err := scanTerritory(tx.QueryRow(ctx, `SELECT `+territoryColumns+` FROM territories WHERE id = $1`, *t.ParentID))
	if err != nil {
		return t, fmt.Errorf("postgres: territory parent %d: %w", *t.ParentID, translate(err))
	}
	if err := territory.Validate(t, &parent); err != nil {
		return t, err
	}
	created, err := scanTerritory(tx.QueryRow(ctx, `INSERT INTO territories (kind, code, name, parent_id)
		VALUES ($1, $2, $3, $4) RETURNING `+territoryColumns, t.Kind, t.Code, t.Name, t.ParentID))
	if err != nil {
		return t, fmt.Errorf("postgres: create territory %q: %w", t.Code, translate(err))
	}
	if err := insertAudit(ctx, tx, auditRow{actor: actorID, action: "territory.write", territory: &created.ID,
		details: map[string]any{"op": "create", "code": created.Code, "kind": created.Kind}}); err != nil {
		return t, err
	}
	if err := tx.Commit(ctx); err != nil {
		return t, fmt.Errorf("postgres: create territory: %w", err)
	}
	return created, nil
}

// TerritoryAreas returns the communes and bureaux a section covers.
func (db *DB) TerritoryAreas(ctx context.Context, id int64) ([]territory.Area, error) {
	rows, err := db.pool.Query(ctx, `SELECT commune, coalesce(bureau, '') FROM territory_areas
		WHERE territory_id = $1 ORDER BY commune, bureau NULLS FIRST`, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: territory areas: %w", err)
	}
	as, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (territory.Area, error) {
		var a territory.Area
		return a, r.Scan(&a.Commune, &a.Bureau)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: territory areas: %w", err)
	}
	return as, nil
}

// AddTerritoryAreas makes section id cover areas; a commune or bureau already covered by
// a section is ErrConflict, and nothing is added.
func (db *DB) AddTerritoryAreas(ctx context.Context, actorID *int64, id int64, areas []territory.Area) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: add areas: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := addAreas(ctx, tx, id, areas); err != nil {
		return err
	}
	if err := insertAudit(ctx, tx, auditRow{actor: actorID, action: "territory.write", territory: &id,
		details: map[string]any{"op": "add_areas", "areas": areas}}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: add areas: %w", err)
	}
	return nil
}

func addAreas(ctx context.Context, tx pgx.Tx, id int64, areas []territory.Area) error {
	for _, a := range areas {
		var bureau *string
		if a.Bureau != "" {
			bureau = &a.Bureau
		}
		if _, err := tx.Exec(ctx, `INSERT INTO territory_areas (territory_id, commune, bureau) VALUES ($1, $2, $3)`,
			id, a.Commune, bureau); err != nil {
			return fmt.Errorf("postgres: add area %s %s to territory %d: %w", a.Commune, a.Bureau, id, translateArea(err))
		}
	}
	return nil
}

// translateArea also maps the triggers' check violations (a fédération given a
// commune) and foreign-key errors to input errors.
func translateArea(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "23514" || pe.Code == "23503") {
		return fmt.Errorf("%s: %w", pe.Message, errs.ErrInvalid)
	}
	return translate(err)
}

// RemoveTerritoryArea stops section id covering a.
func (db *DB) RemoveTerritoryArea(ctx context.Context, actorID *int64, id int64, a territory.Area) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: remove area: %w", err)
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `DELETE FROM territory_areas WHERE territory_id = $1 AND commune = $2
		AND bureau IS NOT DISTINCT FROM NULLIF($3, '')`, id, a.Commune, a.Bureau)
	if err != nil {
		return fmt.Errorf("postgres: remove area: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: area %s %s of territory %d: %w", a.Commune, a.Bureau, id, errs.ErrNotFound)
	}
	if err := insertAudit(ctx, tx, auditRow{actor: actorID, action: "territory.write", territory: &id,
		details: map[string]any{"op": "remove_area", "area": a}}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// SectionFor returns the section covering a bureau (when given) or a whole commune:
// where a new member living there belongs.
func (db *DB) SectionFor(ctx context.Context, a territory.Area) (territory.Territory, error) {
	t, err := scanTerritory(db.pool.QueryRow(ctx, `SELECT `+prefixed("t.", territoryColumns)+`
		FROM territory_areas a JOIN territories t ON t.id = a.territory_id
		WHERE a.commune = $1 AND (a.bureau IS NULL OR a.bureau = NULLIF($2, ''))
		ORDER BY a.bureau NULLS LAST LIMIT 1`, a.Commune, a.Bureau))
	if err != nil {
		return t, fmt.Errorf("postgres: section of %s %s: %w", a.Commune, a.Bureau, translate(err))
	}
	return t, nil
}

// SeedDemoTerritory builds the demo tree: a fédération per département of communes, a
// section per commune, and the commune with the most known bureaux split into two
// sections by bureaux (north: first half of its bureaux, south: the rest). With no
// communes given it uses every commune of the results, contours and COG tables. It is
// idempotent: existing codes are kept.
func (db *DB) SeedDemoTerritory(ctx context.Context, communes []string) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: seed territory: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7326007)`); err != nil {
		return fmt.Errorf("postgres: seed territory: %w", err)
	}
	if len(communes) == 0 {
		if communes, err = knownCommunes(ctx, tx); err != nil {
			return err
		}
	}
	slices.Sort(communes)
	communes = slices.Compact(communes)
	bureaux := map[string][]string{}
	names := map[string]string{}
	for _, c := range communes {
		if _, err := territory.ParseArea(c, ""); err != nil {
			return err
		}
		if bureaux[c], err = knownBureaux(ctx, tx, c); err != nil {
			return err
		}
		names[c] = communeName(ctx, tx, c)
	}
	split := ""
	for _, c := range communes {
		if len(bureaux[c]) >= 2 && (split == "" || len(bureaux[c]) > len(bureaux[split])) {
			split = c
		}
	}
	var national int64
	if err := tx.QueryRow(ctx, `SELECT id FROM territories WHERE kind = 'national'`).Scan(&national); err != nil {
		return fmt.Errorf("postgres: seed territory: %w", err)
	}
	for _, c := range communes {
		dept := territory.Dept(c)
		fed, err := ensureTerritory(ctx, tx, territory.Federation, dept, "Fédération "+dept, national)
		if err != nil {
			return err
		}
		if c != split {
			sec, err := ensureTerritory(ctx, tx, territory.Section, c, "Section "+names[c], fed)
			if err != nil {
				return err
			}
			if err := ensureArea(ctx, tx, sec, territory.Area{Commune: c}); err != nil {
				return err
			}
			continue
		}
		half := len(bureaux[c]) / 2
		for i, part := range [][]string{bureaux[c][:half], bureaux[c][half:]} {
			suffix, label := "-nord", " nord"
			if i == 1 {
				suffix, label = "-sud", " sud"
			}
			sec, err := ensureTerritory(ctx, tx, territory.Section, c+suffix, "Section "+names[c]+label, fed)
			if err != nil {
				return err
			}
			for _, b := range part {
				if err := ensureArea(ctx, tx, sec, territory.Area{Commune: c, Bureau: b}); err != nil {
					return err
				}
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: seed territory: %w", err)
	}
	return nil
}

// knownCommunes lists communes of the tables other modules load; a missing table (an
// older schema) counts as empty.
func knownCommunes(ctx context.Context, tx pgx.Tx) ([]string, error) {
	var out []string
	for _, q := range []string{
		`SELECT DISTINCT commune FROM bureau_results`,
		`SELECT DISTINCT commune FROM bureau_contours`,
	} {
		cs, err := optionalStrings(ctx, tx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	if len(out) == 0 {
		cs, err := optionalStrings(ctx, tx, `SELECT code FROM communes`)
		if err != nil {
			return nil, err
		}
		out = cs
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no commune to seed: load data first or name communes: %w", errs.ErrInvalid)
	}
	return out, nil
}

func knownBureaux(ctx context.Context, tx pgx.Tx, commune string) ([]string, error) {
	var all []string
	for _, q := range []string{
		`SELECT DISTINCT bureau FROM bureau_results WHERE commune = $1`,
		`SELECT DISTINCT code FROM bureau_contours WHERE commune = $1`,
	} {
		bs, err := optionalStrings(ctx, tx, q, commune)
		if err != nil {
			return nil, err
		}
		all = append(all, bs...)
	}
	sort.Strings(all)
	return slices.Compact(all), nil
}

func communeName(ctx context.Context, tx pgx.Tx, code string) string {
	ns, err := optionalStrings(ctx, tx, `SELECT name FROM communes WHERE code = $1`, code)
	if err != nil || len(ns) == 0 {
		return code
	}
	return ns[0]
}

// optionalStrings runs q under a savepoint, so a table another module has not created
// yet reads as empty instead of aborting the transaction.
func optionalStrings(ctx context.Context, tx pgx.Tx, q string, args ...any) ([]string, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	rows, err := sp.Query(ctx, q, args...)
	if err == nil {
		var out []string
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err == nil {
			return out, sp.Commit(ctx)
		}
	}
	sp.Rollback(ctx)
	if c := pgErrCode(err); c == "42P01" || c == "42703" { // undefined table or column
		return nil, nil
	}
	return nil, fmt.Errorf("postgres: %w", err)
}

func ensureTerritory(ctx context.Context, tx pgx.Tx, kind territory.Kind, code, name string, parent int64) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM territories WHERE code = $1`, code).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("postgres: territory %s: %w", code, err)
	}
	if err := tx.QueryRow(ctx, `INSERT INTO territories (kind, code, name, parent_id) VALUES ($1, $2, $3, $4) RETURNING id`,
		kind, code, name, parent).Scan(&id); err != nil {
		return 0, fmt.Errorf("postgres: create territory %s: %w", code, translate(err))
	}
	return id, nil
}

func ensureArea(ctx context.Context, tx pgx.Tx, id int64, a territory.Area) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM territory_areas WHERE commune = $1
		AND bureau IS NOT DISTINCT FROM NULLIF($2, ''))`, a.Commune, a.Bureau).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: area: %w", err)
	}
	if exists {
		return nil
	}
	return addAreas(ctx, tx, id, []territory.Area{a})
}

// ScopeTerritories returns the territories a set of areas and départements falls in,
// each once: for an area the section covering the bureau or the whole commune, else
// the fédération of its département, else the national territory; for a département
// its fédération, else the national territory. A request touching them is authorised
// on each.
func (db *DB) ScopeTerritories(ctx context.Context, areas []territory.Area, depts []string) ([]territory.Territory, error) {
	communes, bureaux := make([]string, 0, len(areas)), make([]string, 0, len(areas))
	for _, a := range areas {
		communes, bureaux = append(communes, a.Commune), append(bureaux, a.Bureau)
	}
	rows, err := db.pool.Query(ctx, `WITH resolved AS (
		SELECT coalesce(
			(SELECT a.territory_id FROM territory_areas a WHERE a.commune = i.commune
				AND (a.bureau IS NULL OR a.bureau = NULLIF(i.bureau, '')) ORDER BY a.bureau NULLS LAST LIMIT 1),
			(SELECT t.id FROM territories t WHERE t.kind = 'federation' AND t.code = coopol_commune_dept(i.commune)),
			(SELECT t.id FROM territories t WHERE t.kind = 'national')) AS id
		FROM unnest($1::text[], $2::text[]) AS i (commune, bureau)
		UNION
		SELECT coalesce(
			(SELECT t.id FROM territories t WHERE t.kind = 'federation' AND t.code = d.dept),
			(SELECT t.id FROM territories t WHERE t.kind = 'national'))
		FROM unnest($3::text[]) AS d (dept))
	SELECT `+territoryColumns+` FROM territories WHERE id IN (SELECT id FROM resolved) ORDER BY id`, communes, bureaux, depts)
	if err != nil {
		return nil, fmt.Errorf("postgres: scope territories: %w", err)
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (territory.Territory, error) { return scanTerritory(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: scope territories: %w", err)
	}
	return ts, nil
}
