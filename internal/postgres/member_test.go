package postgres_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/mail"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/postgres/pgtest"
	"github.com/coopol/coopol/internal/territory"
)

// world is a small tree: FR → fédérations 92 and 75 → sections 92002 (Antony) and
// 75056 (Paris), with one member in each section.
type world struct {
	db            *postgres.DB
	url           string
	fed92, fed75  territory.Territory
	antony, paris territory.Territory
	alice, bob    int64 // members of Antony and Paris
	secAntony     int64 // secrétaire de section of Antony
}

func newWorld(t *testing.T) world {
	t.Helper()
	ctx := context.Background()
	db, url := pgtest.New(t)
	w := world{db: db, url: url}
	if err := db.SeedDemoTerritory(ctx, []string{"92002", "75056"}); err != nil {
		t.Fatal(err)
	}
	get := func(code string) territory.Territory {
		tt, err := db.TerritoryByCode(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		return tt
	}
	w.fed92, w.fed75, w.antony, w.paris = get("92"), get("75"), get("92002"), get("75056")
	add := func(email string, terr int64) int64 {
		id, err := db.SignUp(ctx, auth.SignUp{Email: email, PasswordHash: "x", FirstName: "Prénom", LastName: email,
			Phone: "0600000000", Address: "1 rue de la Paix", TerritoryID: terr,
			Consents: []auth.Consent{{Purpose: "newsletter", Granted: true}, {Purpose: auth.PurposeSectionContact, Granted: true}}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	w.alice, w.bob = add("alice@example.org", w.antony.ID), add("bob@example.org", w.paris.ID)
	w.secAntony = add("sec@example.org", w.antony.ID)
	if _, err := db.CreateGrant(ctx, auth.Grant{MemberID: w.secAntony, TerritoryID: w.antony.ID, Role: auth.RoleSectionSecretary}, ""); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestDB_SeedDemoTerritory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, url := pgtest.New(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Bureaux known from results make 92050 the commune to split. The results table
	// belongs to another module, so the test only feeds it when it has the columns used.
	if _, err := conn.Exec(ctx, `INSERT INTO datasets (kind, scope, file_name, sha256) VALUES ('results', 't', 'f', 's')`); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"92050_0001", "92050_0002", "92050_0003", "92050_0004", "92002_0001"} {
		if _, err := conn.Exec(ctx, `INSERT INTO bureau_results (dataset_id, election, round, bureau, commune, bureau_code)
			SELECT id, 'pres2022', 1, $1, left($1, 5), right($1, 4) FROM datasets`, b); err != nil {
			t.Skipf("bureau_results changed shape: %v", err)
		}
	}
	for range 2 { // idempotent
		if err := db.SeedDemoTerritory(ctx, []string{"92002", "92050", "2A004", "97101"}); err != nil {
			t.Fatal(err)
		}
	}
	ts, err := db.Territories(ctx, territory.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, tt := range ts {
		codes = append(codes, string(tt.Kind)+":"+tt.Code)
	}
	sort.Strings(codes)
	want := []string{"federation:2A", "federation:92", "federation:971", "national:FR",
		"section:2A004", "section:92002", "section:92050-nord", "section:92050-sud", "section:97101"}
	if !slices.Equal(want, codes) {
		t.Fatalf("territories = %v, want %v", codes, want)
	}
	sud, err := db.SectionFor(ctx, territory.Area{Commune: "92050", Bureau: "92050_0004"})
	if err != nil || sud.Code != "92050-sud" {
		t.Fatalf("SectionFor(92050_0004) = %v, %v; want 92050-sud", sud.Code, err)
	}
	whole, err := db.SectionFor(ctx, territory.Area{Commune: "92002", Bureau: "92002_0001"})
	if err != nil || whole.Code != "92002" {
		t.Fatalf("SectionFor(92002_0001) = %v, %v; want 92002", whole.Code, err)
	}
	// A commune split by bureaux cannot also be given whole, and a bureau taken is taken.
	for _, a := range []territory.Area{{Commune: "92050"}, {Commune: "92050", Bureau: "92050_0001"}} {
		if err := db.AddTerritoryAreas(ctx, nil, whole.ID, []territory.Area{a}); !errors.Is(err, errs.ErrConflict) {
			t.Errorf("AddTerritoryAreas(%v) = %v, want ErrConflict", a, err)
		}
	}
	fed, _ := db.TerritoryByCode(ctx, "92")
	if err := db.AddTerritoryAreas(ctx, nil, fed.ID, []territory.Area{{Commune: "92071"}}); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("area on a fédération = %v, want ErrInvalid", err)
	}
	if _, err := db.CreateTerritory(ctx, nil, territory.Territory{Kind: territory.Section, Code: "bad", Name: "x", ParentID: &ts[0].ID}); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("section under national = %v, want ErrInvalid", err)
	}
}

// TestDB_RowLevelSecurity checks the second line of defence on its own: queries as
// coopol_app see only what row-level security allows, whatever their WHERE clause.
func TestDB_RowLevelSecurity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	conn, err := pgx.Connect(ctx, w.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func(setup ...string) (n int) {
		t.Helper()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		for _, s := range setup {
			if _, err := tx.Exec(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM members`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	set := func(id int64) string { return `SELECT set_config('coopol.member_id', '` + itoa(id) + `', true)` }
	cases := []struct {
		name  string
		setup []string
		want  int
	}{
		{"superuser bypasses (why the app switches role)", nil, 3},
		{"coopol_app without member", []string{`SET LOCAL ROLE coopol_app`}, 0},
		{"coopol_app, unknown member", []string{`SET LOCAL ROLE coopol_app`, set(999999)}, 0},
		{"plain member sees only self", []string{`SET LOCAL ROLE coopol_app`, set(w.alice)}, 1},
		{"secretary sees own section", []string{`SET LOCAL ROLE coopol_app`, set(w.secAntony)}, 2},
		{"coopol_system sees all", []string{`SET LOCAL ROLE coopol_system`}, 3},
	}
	for _, tc := range cases {
		if got := count(tc.setup...); got != tc.want {
			t.Errorf("%s: %d rows, want %d", tc.name, got, tc.want)
		}
	}
	// A setting left over from an earlier transaction on the same connection reads ''.
	if got := count(`SET LOCAL ROLE coopol_app`); got != 0 {
		t.Errorf("after a finished SET LOCAL: %d rows, want 0", got)
	}
	// coopol_app cannot write other members nor read the audit log's protected columns away.
	tx, _ := conn.Begin(ctx)
	tx.Exec(ctx, `SET LOCAL ROLE coopol_app`)
	tx.Exec(ctx, set(w.secAntony))
	tag, err := tx.Exec(ctx, `UPDATE members SET first_name = 'pwned' WHERE id = $1`, w.alice)
	if err == nil && tag.RowsAffected() != 0 {
		t.Errorf("a secretary updated another member's row")
	}
	tx.Rollback(ctx)

	// Through the store: Paris is invisible to Antony's secretary even when asked directly.
	if _, err := w.db.Member(ctx, w.secAntony, w.bob); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("Member(secAntony, bob) = %v, want ErrNotFound from RLS", err)
	}
	got, err := w.db.Members(ctx, w.secAntony, postgres.MemberFilter{Under: w.paris.ID})
	if err != nil || len(got) != 0 {
		t.Errorf("Members(secAntony, under Paris) = %v, %v; want none", got, err)
	}
	if _, err := w.db.RevealContact(ctx, w.secAntony, w.bob, ""); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("RevealContact(outside) = %v, want ErrNotFound", err)
	}
	c, err := w.db.RevealContact(ctx, w.secAntony, w.alice, "192.0.2.1")
	if err != nil || c.Email != "alice@example.org" {
		t.Fatalf("RevealContact(inside) = %v, %v", c, err)
	}
	es, err := w.db.AuditEntries(ctx, postgres.AuditFilter{Action: ptr(auth.AuditContactReveal)})
	if err != nil || len(es) != 1 || *es[0].ActorID != w.secAntony || *es[0].TargetID != w.alice {
		t.Fatalf("audit of the reveal = %+v, %v", es, err)
	}
}

// TestDB_ContactFollowsConsent: contact details of a member who withdrew (or never gave)
// consent to being contacted are refused and left out of member exports.
func TestDB_ContactFollowsConsent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	if err := w.db.AddConsents(ctx, w.alice, []auth.Consent{{Purpose: auth.PurposeSectionContact, Granted: false}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.RevealContact(ctx, w.secAntony, w.alice, ""); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("reveal after withdrawal = %v, want ErrForbidden", err)
	}
	none, err := w.db.SignUp(ctx, auth.SignUp{Email: "muet@example.org", PasswordHash: "x", FirstName: "M", LastName: "Z",
		Phone: "0611111111", TerritoryID: w.antony.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.RevealContact(ctx, w.secAntony, none, ""); !errors.Is(err, errs.ErrForbidden) {
		t.Errorf("reveal without any answer = %v, want ErrForbidden", err)
	}
	if n := pgtest.QueryFloat(t, w.url, `SELECT count(*)::float8 FROM audit_log WHERE action = 'member.contact_reveal'`); n != 0 {
		t.Errorf("%v refused reveals audited as reveals", n)
	}
	// An export with contact permission carries contact details of those who consented only.
	admin, err := w.db.SignUp(ctx, auth.SignUp{Email: "adm@example.org", PasswordHash: "x", FirstName: "A", LastName: "D", TerritoryID: w.antony.ID})
	if err != nil {
		t.Fatal(err)
	}
	fr, _ := w.db.NationalTerritory(ctx)
	if _, err := w.db.CreateGrant(ctx, auth.Grant{MemberID: admin, TerritoryID: fr.ID, Role: auth.RoleAdmin}, ""); err != nil {
		t.Fatal(err)
	}
	ps, err := w.db.ExportMembers(ctx, admin, w.antony.ID, true, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		withContact := p.Email != "" || p.Phone != ""
		if consented := p.ID == w.secAntony; withContact != consented {
			t.Errorf("member %d exported with contact %v, want %v", p.ID, withContact, consented)
		}
	}
	if err := w.db.AddConsents(ctx, w.alice, []auth.Consent{{Purpose: auth.PurposeSectionContact, Granted: true}}); err != nil {
		t.Fatal(err)
	}
	if c, err := w.db.RevealContact(ctx, w.secAntony, w.alice, ""); err != nil || c.Email != "alice@example.org" {
		t.Errorf("reveal after consent = %+v, %v", c, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func ptr[T any](v T) *T { return &v }

func TestRolePermissionsMatchDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url := pgtest.New(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT role || ' ' || permission FROM role_permissions ORDER BY 1`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for r, ps := range auth.RolePermissions() {
		for _, p := range ps {
			want = append(want, string(r)+" "+string(p))
		}
	}
	slices.Sort(want)
	if !slices.Equal(want, got) {
		t.Fatalf("role_permissions differs from auth.RolePermissions:\ngo: %v\ndb: %v", want, got)
	}
}

func TestDB_AuditAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	if err := w.db.Audit(ctx, auth.AuditEntry{Action: "test", ActorID: &w.alice}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, w.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Refused even to the superuser the tests connect as.
	for _, q := range []string{`UPDATE audit_log SET action = 'x'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`} {
		if _, err := conn.Exec(ctx, q); err == nil {
			t.Errorf("%s: accepted, want refused", q)
		}
	}
}

func TestDB_Sessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	tok, hash := auth.NewToken()
	_, planted := auth.NewToken()
	if err := w.db.CreateSession(ctx, postgres.Session{MemberID: w.alice, TokenHash: planted, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := w.db.CreateSession(ctx, postgres.Session{MemberID: w.alice, TokenHash: hash, ExpiresAt: time.Now().Add(time.Hour), Replaces: planted}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.SessionMember(ctx, planted); !errors.Is(err, errs.ErrUnauthorized) {
		t.Errorf("replaced session still valid: %v", err)
	}
	m, err := w.db.SessionMember(ctx, auth.HashToken(tok))
	if err != nil || m.ID != w.alice || len(m.Grants) != 1 {
		t.Fatalf("SessionMember = %+v, %v", m, err)
	}
	_, expired := auth.NewToken()
	w.db.CreateSession(ctx, postgres.Session{MemberID: w.alice, TokenHash: expired, ExpiresAt: time.Now().Add(-time.Second)})
	if _, err := w.db.SessionMember(ctx, expired); !errors.Is(err, errs.ErrUnauthorized) {
		t.Errorf("expired session valid: %v", err)
	}
	if err := w.db.DeleteSessions(ctx, w.alice, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.SessionMember(ctx, hash); !errors.Is(err, errs.ErrUnauthorized) {
		t.Errorf("session valid after logout everywhere: %v", err)
	}
}

func TestDB_PasswordReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	tok, hash := auth.NewToken()
	compose := func(p auth.Profile) mail.Message { return mail.Message{To: p.Email, Subject: "reset", Body: tok} }
	if err := w.db.RequestPasswordReset(ctx, "ALICE@example.org", hash, time.Now().Add(time.Hour), "", compose); err != nil {
		t.Fatal(err)
	}
	if err := w.db.RequestPasswordReset(ctx, "nobody@example.org", hash, time.Now().Add(time.Hour), "", compose); err != nil {
		t.Fatalf("unknown e-mail: %v, want nil (no account enumeration)", err)
	}
	q, err := w.db.PendingMail(ctx, 10)
	if err != nil || len(q) != 1 || q[0].To != "alice@example.org" {
		t.Fatalf("outbox = %+v, %v", q, err)
	}
	if err := w.db.ConfirmPasswordReset(ctx, hash, "newhash", ""); err != nil {
		t.Fatal(err)
	}
	if err := w.db.ConfirmPasswordReset(ctx, hash, "again", ""); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("second use of a reset token = %v, want ErrInvalid", err)
	}
	if _, h, _ := w.db.Credentials(ctx, "alice@example.org"); h != "newhash" {
		t.Errorf("password hash = %q", h)
	}
	if err := w.db.MarkMailSent(ctx, q[0].ID); err != nil {
		t.Fatal(err)
	}
	if q, _ := w.db.PendingMail(ctx, 10); len(q) != 0 {
		t.Errorf("sent mail still pending")
	}
}

func TestDB_ExportAndErase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	if _, err := w.db.RevealContact(ctx, w.secAntony, w.alice, "198.51.100.77"); err != nil {
		t.Fatal(err)
	}
	x, err := w.db.ExportMemberData(ctx, w.alice, "")
	if err != nil {
		t.Fatal(err)
	}
	if x.Profile.Email != "alice@example.org" || len(x.Consents) != 2 || len(x.Grants) != 1 || len(x.Audit) != 1 {
		t.Fatalf("export = %+v", x)
	}
	// Who looked at her shows as a role, not as the secretary's IP address.
	if a := x.Audit[0]; a.IP != "" || a.ActorRole != "secrétaire de section" {
		t.Errorf("reveal in the export: ip %q, role %q; want no IP and the secretary's role", a.IP, a.ActorRole)
	}
	// Mail to her, and mail about her, goes with her.
	compose := func(p auth.Profile) mail.Message {
		return mail.Message{To: p.Email, Subject: "Réinitialisation", Body: "lien secret"}
	}
	_, hash := auth.NewToken()
	if err := w.db.RequestPasswordReset(ctx, "alice@example.org", hash, time.Now().Add(time.Hour), "", compose); err != nil {
		t.Fatal(err)
	}
	if err := w.db.NotifyAccountHolder(ctx, "sec@example.org", func(p auth.Profile) mail.Message {
		return mail.Message{To: p.Email, Subject: "Nouvelle inscription", Body: "alice@example.org s'est inscrite"}
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.db.EraseMember(ctx, w.alice, ""); err != nil {
		t.Fatal(err)
	}
	if n := pgtest.QueryFloat(t, w.url, `SELECT count(*)::float8 FROM outbox WHERE strpos(to_addr || body, 'alice@example.org') > 0`); n != 0 {
		t.Errorf("%v outbox rows still name the erased member", n)
	}
	if _, _, err := w.db.Credentials(ctx, "alice@example.org"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("erased member can still log in: %v", err)
	}
	if _, err := w.db.MemberTerritory(ctx, w.alice); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("erased member still addressable: %v", err)
	}
	// The audit keeps the pseudonymous id; no personal data is left on the row.
	es, err := w.db.AuditEntries(ctx, postgres.AuditFilter{MemberID: &w.alice})
	if err != nil || len(es) < 2 {
		t.Fatalf("audit after erasure = %v, %v", es, err)
	}
	conn, _ := pgx.Connect(ctx, w.url)
	defer conn.Close(ctx)
	var left string
	conn.QueryRow(ctx, `SELECT concat_ws('|', email, first_name, last_name, phone, address, password_hash) FROM members WHERE id = $1`, w.alice).Scan(&left)
	if left != "|" {
		t.Errorf("erased row keeps %q", left)
	}
	if err := w.db.EraseMember(ctx, w.alice, ""); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("erasing twice = %v, want ErrNotFound", err)
	}
	// The e-mail is free again.
	if _, err := w.db.SignUp(ctx, auth.SignUp{Email: "alice@example.org", PasswordHash: "x", FirstName: "A", LastName: "B", TerritoryID: w.antony.ID}); err != nil {
		t.Errorf("sign-up with an erased member's e-mail: %v", err)
	}
}

func TestDB_Grants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	if _, err := w.db.CreateGrant(ctx, auth.Grant{MemberID: w.secAntony, TerritoryID: w.antony.ID, Role: auth.RoleSectionSecretary}, ""); !errors.Is(err, errs.ErrConflict) {
		t.Errorf("duplicate grant = %v, want ErrConflict", err)
	}
	if _, err := w.db.CreateGrant(ctx, auth.Grant{MemberID: 999999, TerritoryID: w.antony.ID, Role: auth.RoleAdherent}, ""); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("grant to unknown member = %v, want ErrNotFound", err)
	}
	g, err := w.db.CreateGrant(ctx, auth.Grant{MemberID: w.alice, TerritoryID: w.antony.ID, Permission: auth.PermMemberExport}, "")
	if err != nil {
		t.Fatal(err)
	}
	gs, err := w.db.Grants(ctx, postgres.GrantFilter{Under: &w.fed92.ID})
	if err != nil || len(gs) != 4 { // two sympathisants, the secretary's two grants
		t.Fatalf("grants under 92 = %d, %v", len(gs), err)
	}
	if err := w.db.DeleteGrant(ctx, g.ID, nil, ""); err != nil {
		t.Fatal(err)
	}
	if err := w.db.DeleteGrant(ctx, g.ID, nil, ""); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("delete twice = %v", err)
	}
}
