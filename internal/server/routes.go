package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// addRoutes is the entire URL surface of coopol, and nowhere else.
func addRoutes(r chi.Router, d Deps) {
	r.Get("/healthz", handleHealthz(d.Store))
	r.Get("/", handleDatasetsPage(d.Logger, d.Store))
	r.Get("/api/datasets", handleDatasets(d.Logger, d.Store))
	r.Get("/api/datasets/{id}/warnings", handleDatasetWarnings(d.Logger, d.Store))
	if d.Web != nil {
		r.Handle("/static/*", http.StripPrefix("/static/", http.FileServerFS(d.Web)))
	}
}
