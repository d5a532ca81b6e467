package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/coopol/coopol/internal/territory"
)

const territoryUsage = `usage: coopol territory <list|create|add-area|demo> [flags]

  list      [-under CODE]                                   print the tree
  create    -kind federation|section -code C -name N -parent CODE
  add-area  -section CODE COMMUNE|BUREAU...                 e.g. 92002 or 92050_0003
  demo      [COMMUNE...]   a fédération per département, a section per commune, the
                           commune with most bureaux split in two (default: every loaded commune)`

func runTerritory(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(territoryUsage)
	}
	fs := flag.NewFlagSet("territory "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := dbFlag(fs, getenv)
	under := fs.String("under", "", "list: only this territory and below (code)")
	kind := fs.String("kind", "", "create: federation or section")
	code := fs.String("code", "", "create: code of the new territory (a fédération's is its département)")
	name := fs.String("name", "", "create: name")
	parent := fs.String("parent", "", "create: code of the parent territory")
	section := fs.String("section", "", "add-area: code of the section")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	db, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	switch args[0] {
	case "list":
		var f territory.Filter
		if *under != "" {
			t, err := db.TerritoryByCode(ctx, *under)
			if err != nil {
				return err
			}
			f.Under = &t.ID
		}
		ts, err := db.Territories(ctx, f)
		if err != nil {
			return err
		}
		for _, t := range ts {
			areas, err := db.TerritoryAreas(ctx, t.ID)
			if err != nil {
				return err
			}
			var as []string
			for _, a := range areas {
				as = append(as, a.Commune+map[bool]string{true: "", false: " " + a.Bureau}[a.Bureau == ""])
			}
			fmt.Fprintf(stdout, "%s%-4d %-10s %-12s %s  %s\n", strings.Repeat("  ", len(t.Ancestors)-1), t.ID, t.Kind, t.Code, t.Name, strings.Join(as, ", "))
		}
		return nil
	case "create":
		p, err := db.TerritoryByCode(ctx, *parent)
		if err != nil {
			return err
		}
		t, err := db.CreateTerritory(ctx, nil, territory.Territory{Kind: territory.Kind(*kind), Code: *code, Name: *name, ParentID: &p.ID})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s %s (id %d)\n", t.Kind, t.Code, t.ID)
		return nil
	case "add-area":
		t, err := db.TerritoryByCode(ctx, *section)
		if err != nil {
			return err
		}
		var areas []territory.Area
		for _, p := range pos {
			var a territory.Area
			if strings.Contains(p, "_") {
				a, err = territory.ParseArea("", p)
			} else {
				a, err = territory.ParseArea(p, "")
			}
			if err != nil {
				return err
			}
			areas = append(areas, a)
		}
		if err := db.AddTerritoryAreas(ctx, nil, t.ID, areas); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "section %s: %d areas added\n", t.Code, len(areas))
		return nil
	case "demo":
		if err := db.SeedDemoTerritory(ctx, pos); err != nil {
			return err
		}
		ts, err := db.Territories(ctx, territory.Filter{})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "demo territory: %d territories\n", len(ts))
		return nil
	}
	return fmt.Errorf("unknown territory command %q\n%s", args[0], territoryUsage)
}
