package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/ingest/geo"
	"github.com/coopol/coopol/internal/postgres"
)

func contoursKind() kindSpec {
	return kindSpec{
		summary: "bureau de vote contours: data.gouv GeoJSON, city files (--code-field, --commune-field/--bureau-field, --commune), Shapefile/GeoPackage via ogr2ogr",
		setup: func(fs *flag.FlagSet) loadFunc {
			vintage := fs.String("vintage", "2022", "vintage of the contours (the register year); a load replaces the contours of its vintage")
			var fields geo.ContourFields
			fs.StringVar(&fields.Code, "code-field", "", "property holding the whole bureau key, 92002_1 or 92002_0001 (default: data.gouv's codeBureauVote)")
			fs.StringVar(&fields.Commune, "commune-field", "", "property holding the commune INSEE code (with --bureau-field)")
			fs.StringVar(&fields.Bureau, "bureau-field", "", "property holding the bureau number, padded to 4 characters")
			fs.StringVar(&fields.CommuneCode, "commune", "", "commune INSEE code of every feature, for files without one (Toulouse: --commune 31555 --bureau-field uniq_bdv)")
			fs.StringVar(&fields.Arrondissement, "arrondissement-field", "", "Paris-style files: property holding the arrondissement (19 or 75119), with --bureau-field num_bv; --commune 69123 or 13055 for Lyon, Marseille")
			fs.StringVar(&fields.Circonscription, "circo-field", "", "property holding the circonscription code (default codeCirconscription)")
			fs.StringVar(&fields.Name, "name-field", "", "property holding the bureau name (default nomBureauVote)")
			fs.StringVar(&fields.CommuneName, "commune-name-field", "", "property holding the commune name (default nomCommune)")
			gf := geoFlags(fs)
			return func(ctx context.Context, db *postgres.DB, f *ingestFile) (*ingest.Report, error) {
				if *vintage == "" {
					return nil, fmt.Errorf("ingest contours: --vintage must not be empty")
				}
				rc, r, err := gf.open(ctx, f)
				if err != nil {
					return nil, fmt.Errorf("ingest contours: %w", err)
				}
				defer rc.Close()
				cr, err := geo.NewContourReader(r, fields)
				if err != nil {
					return nil, fmt.Errorf("ingest contours: %w", err)
				}
				params := gf.params()
				params["vintage"] = *vintage
				params["layout"] = cr.Layout()
				for k, v := range map[string]string{"circo_field": fields.Circonscription, "name_field": fields.Name, "commune_name_field": fields.CommuneName} {
					if v != "" {
						params[k] = v
					}
				}
				return db.LoadContours(ctx, f.Load("contours", *vintage, params), *vintage, cr)
			}
		},
	}
}

// geoInput holds the flags every polygon kind shares.
type geoInput struct {
	layer *string
	srid  *int
}

func geoFlags(fs *flag.FlagSet) *geoInput {
	return &geoInput{
		layer: fs.String("layer", "", "layer to read from a GeoPackage or other multi-layer file (converted with ogr2ogr)"),
		srid:  fs.Int("srid", 0, "EPSG code of the coordinates when the file declares no CRS (default: WGS84 longitude/latitude)"),
	}
}

func (g *geoInput) params() map[string]string {
	p := map[string]string{}
	if *g.layer != "" {
		p["layer"] = *g.layer
	}
	if *g.srid != 0 {
		p["srid"] = strconv.Itoa(*g.srid)
	}
	return p
}

// open returns the file as a GeoJSON stream and a reader over it. GeoJSON is read
// through f.Open, which drives the byte progress; other formats go through ogr2ogr,
// so only the feature count moves.
func (g *geoInput) open(ctx context.Context, f *ingestFile) (io.Closer, *geo.Reader, error) {
	var (
		rc  io.ReadCloser
		err error
	)
	if geo.IsGeoJSON(f.Path) && *g.layer == "" {
		rc, err = f.Open()
	} else {
		rc, err = geo.Open(ctx, f.Path, *g.layer)
	}
	if err != nil {
		return nil, nil, err
	}
	r := geo.NewReader(f.Name, rc)
	r.DefaultSRID = *g.srid
	r.OnFeature = func() { f.Progress.AddRows(1) }
	return rc, r, nil
}
