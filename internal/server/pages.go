package server

import (
	"github.com/go-chi/chi/v5"
)

// compressedTypes are the answers gzip shrinks; tiles and Parquet are compressed
// already.
var compressedTypes = []string{"text/html", "text/css", "text/plain", "text/csv", "text/javascript",
	"application/javascript", "application/json", "application/geo+json", "image/svg+xml"}

// addPageRoutes mounts the server-rendered pages of the web app (docs/web.md).
func addPageRoutes(r chi.Router, d Deps, s *shell) {
	r.Group(func(r chi.Router) {
		r.Use(noStore)
		if d.Members != nil {
			r.Use(crossOrigin(d.Logger), authenticate(d.Logger, d.Members))
		}
		r.Get("/", s.page(s.handleHome))
		r.Get("/donnees", s.page(s.handleDatasetsPage(d.Store)))
		if d.Members == nil {
			return
		}
		r.Get("/connexion", s.page(s.loginForm))
		r.Post("/connexion", s.page(s.handleLoginPost(d)))
		r.Get("/inscription", s.page(s.signUpForm))
		r.Post("/inscription", s.page(s.handleSignUpPost(d)))
		r.Get("/mot-de-passe-oublie", s.page(s.forgotForm))
		r.Post("/mot-de-passe-oublie", s.page(s.handleForgotPost(d)))
		r.Get("/reinitialiser", s.page(s.resetForm))
		r.Post("/reinitialiser", s.page(s.handleResetPost(d)))
		r.Post("/deconnexion", s.page(s.handleLogoutPost(d)))
		r.Get("/compte", s.page(s.handleAccount(d)))
		r.Post("/compte/profil", s.page(s.handleProfilePost(d)))
		r.Post("/compte/consentements", s.page(s.handleConsentsPost(d)))
		r.Post("/compte/export", s.page(s.handleExportPost(d)))
		r.Get("/compte/supprimer", s.page(s.eraseForm))
		r.Post("/compte/supprimer", s.page(s.handleErasePost(d)))
	})
}
