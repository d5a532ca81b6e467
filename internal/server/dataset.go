package server

import (
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/coopol/coopol/internal/errs"
)

func handleDatasets(log *slog.Logger, store Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ds, err := store.Datasets(r.Context(), r.URL.Query().Get("history") == "1")
		if err != nil {
			respondError(w, r, log, err)
			return
		}
		respondJSON(w, http.StatusOK, ds)
	}
}

func handleDatasetWarnings(log *slog.Logger, store Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			respondError(w, r, log, fmt.Errorf("dataset id %q: %w", r.PathValue("id"), errs.ErrInvalid))
			return
		}
		ws, err := store.DatasetWarnings(r.Context(), id)
		if err != nil {
			respondError(w, r, log, err)
			return
		}
		respondJSON(w, http.StatusOK, ws)
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

var datasetsPage = template.Must(template.New("datasets").Funcs(template.FuncMap{
	"label": func(kind string) string {
		if l, ok := kindLabels[kind]; ok {
			return l
		}
		return kind
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
}).Parse(`<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>coopol — données chargées</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1rem; color: #222; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: .8rem; }
.empty { color: #777; }
</style>
</head>
<body>
<h1>coopol</h1>
<p><a href="/carte">Carte électorale</a></p>
<h2>Données chargées</h2>
{{if .}}
<table>
<thead><tr><th>Type</th><th>Portée</th><th>Fichier</th><th>Format</th><th class="num">Lignes</th><th class="num">Avertissements</th><th>SHA-256</th><th>Chargé le</th></tr></thead>
<tbody>
{{range .}}<tr>
<td>{{label .Kind}}</td><td>{{.Scope}}</td><td>{{.FileName}}</td><td>{{.Layout}}</td>
<td class="num">{{.Rows}}</td>
<td class="num">{{if .Warnings}}<a href="/api/datasets/{{.ID}}/warnings">{{.Warnings}}</a>{{else}}0{{end}}</td>
<td><code title="{{.SHA256}}">{{short .SHA256}}</code></td>
<td>{{.LoadedAt.Format "2006-01-02 15:04"}}</td>
</tr>
{{end}}</tbody>
</table>
{{else}}
<p class="empty">Aucune donnée chargée. Chargez un fichier avec <code>coopol ingest</code>.</p>
{{end}}
<p><a href="/api/datasets">JSON</a> · <a href="/api/datasets?history=1">historique des chargements</a></p>
</body>
</html>
`))

func handleDatasetsPage(log *slog.Logger, store Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ds, err := store.Datasets(r.Context(), false)
		if err != nil {
			respondError(w, r, log, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := datasetsPage.Execute(w, ds); err != nil {
			log.ErrorContext(r.Context(), "render datasets page", "err", err)
		}
	}
}
