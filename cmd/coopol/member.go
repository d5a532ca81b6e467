package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/mail"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/territory"
)

const memberUsage = `usage: coopol member <demo|grant> [flags]

  demo    create (or reset the password of) a national administrator and a section
          secretary, and print their logins
  grant   -email E -role ROLE -territory CODE   give a role (e.g. the first administrator)`

func runMember(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(memberUsage)
	}
	fs := flag.NewFlagSet("member "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := dbFlag(fs, getenv)
	email := fs.String("email", "", "grant: the member's e-mail")
	role := fs.String("role", "", "grant: one of sympathisant, adherent, analyste, secretaire_section, secretaire_federal, admin_national")
	code := fs.String("territory", "FR", "grant: territory code")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	db, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	h := auth.NewHasher(auth.DefaultParams(), 1)
	switch args[0] {
	case "demo":
		return memberDemo(ctx, db, h, stdout)
	case "grant":
		id, _, err := db.Credentials(ctx, auth.NormalizeEmail(*email))
		if err != nil {
			return fmt.Errorf("member %s: %w", *email, err)
		}
		t, err := db.TerritoryByCode(ctx, *code)
		if err != nil {
			return err
		}
		g, err := db.CreateGrant(ctx, auth.Grant{MemberID: id, TerritoryID: t.ID, Role: auth.Role(*role)}, "cli")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "granted %s on %s to %s (grant %d)\n", g.Role, t.Code, *email, g.ID)
		return nil
	}
	return fmt.Errorf("unknown member command %q\n%s", args[0], memberUsage)
}

// memberDemo makes the two demo accounts of make run, with fresh random passwords each
// time, so no fixed password ever ships.
func memberDemo(ctx context.Context, db *postgres.DB, h *auth.Hasher, stdout io.Writer) error {
	national, err := db.NationalTerritory(ctx)
	if err != nil {
		return err
	}
	k := territory.Section
	sections, err := db.Territories(ctx, territory.Filter{Kind: &k})
	if err != nil {
		return err
	}
	if len(sections) == 0 {
		return errors.New("no section yet: run coopol territory demo first")
	}
	accounts := []struct {
		email, first, last string
		role               auth.Role
		t                  territory.Territory
	}{
		{"admin@coopol.test", "Camille", "Administratrice", auth.RoleAdmin, national},
		{"secretaire@coopol.test", "Dominique", "Secrétaire", auth.RoleSectionSecretary, sections[0]},
	}
	for _, a := range accounts {
		pw := rand.Text()[:20]
		hash, err := h.Hash(ctx, pw)
		if err != nil {
			return err
		}
		id, _, err := db.Credentials(ctx, a.email)
		switch {
		case errors.Is(err, errs.ErrNotFound):
			id, err = db.SignUp(ctx, auth.SignUp{Email: a.email, PasswordHash: hash, FirstName: a.first, LastName: a.last, TerritoryID: a.t.ID})
			if err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if err := db.SetPassword(ctx, id, hash); err != nil {
				return err
			}
		}
		if _, err := db.CreateGrant(ctx, auth.Grant{MemberID: id, TerritoryID: a.t.ID, Role: a.role}, "cli"); err != nil && !errors.Is(err, errs.ErrConflict) {
			return err
		}
		fmt.Fprintf(stdout, "%-20s %-26s mot de passe: %s  (%s)\n", a.role, a.email, pw, a.t.Name)
	}
	return nil
}

// mailSender is SMTP when COOPOL_SMTP_ADDR is set, else .eml files in COOPOL_MAIL_DIR
// (default .data/mail) for development.
func mailSender(getenv func(string) string) mail.Sender {
	from := getenv("COOPOL_MAIL_FROM")
	if from == "" {
		from = "coopol <noreply@coopol.invalid>"
	}
	if addr := getenv("COOPOL_SMTP_ADDR"); addr != "" {
		return mail.SMTPSender{Addr: addr, From: from, Username: getenv("COOPOL_SMTP_USER"), Password: getenv("COOPOL_SMTP_PASSWORD")}
	}
	return mail.FileSender{Dir: mailDir(getenv), From: from}
}

// mailDir is where the development sender writes, "" when mail goes by SMTP: erasure
// deletes a member's files there.
func mailDir(getenv func(string) string) string {
	if getenv("COOPOL_SMTP_ADDR") != "" {
		return ""
	}
	if dir := getenv("COOPOL_MAIL_DIR"); dir != "" {
		return dir
	}
	return ".data/mail"
}
