package server

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/postgres"
)

func handleDatasets(store Store) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ds, err := store.Datasets(r.Context(), r.URL.Query().Get("history") == "1")
		if err != nil {
			return err
		}
		respondJSON(w, http.StatusOK, ds)
		return nil
	}
}

func handleDatasetWarnings(store Store) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			return fmt.Errorf("dataset id %q: %w", r.PathValue("id"), errs.ErrInvalid)
		}
		ws, err := store.DatasetWarnings(r.Context(), id)
		if err != nil {
			return err
		}
		respondJSON(w, http.StatusOK, ws)
		return nil
	}
}

var kindLabels = map[string]string{
	"results":       "Résultats par bureau de vote",
	"contours":      "Contours des bureaux de vote",
	"iris":          "Contours IRIS",
	"census":        "Recensement par IRIS",
	"grid":          "Carroyage Filosofi",
	"filosofi_iris": "Revenus Filosofi par IRIS",
	"communes":      "Communes (COG)",
	"addresses":     "Adresses (BAN)",
}

// datasetRow is a loaded dataset as the page shows it.
type datasetRow struct {
	postgres.Dataset
	Label, ShortSHA string
}

// handleDatasetsPage lists the loaded datasets with their provenance.
func (s *shell) handleDatasetsPage(store Store) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ds, err := store.Datasets(r.Context(), false)
		if err != nil {
			return err
		}
		rows := make([]datasetRow, 0, len(ds))
		for _, d := range ds {
			row := datasetRow{Dataset: d, Label: d.Kind, ShortSHA: d.SHA256}
			if l, ok := kindLabels[d.Kind]; ok {
				row.Label = l
			}
			if len(row.ShortSHA) > 12 {
				row.ShortSHA = row.ShortSHA[:12]
			}
			rows = append(rows, row)
		}
		return s.render(w, r, http.StatusOK, "donnees", "Données chargées", nil, rows)
	}
}
