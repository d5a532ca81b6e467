package server

import (
	"github.com/go-chi/chi/v5"
)

// addRoutes is the entire URL surface of coopol, and nowhere else.
func addRoutes(r chi.Router, d Deps) {
	s := newShell(d.Logger, d.Web)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed)
	r.Get("/healthz", handleHealthz(d.Store))
	r.Get("/api/datasets", s.api(handleDatasets(d.Store)))
	r.Get("/api/datasets/{id}/warnings", s.api(handleDatasetWarnings(d.Store)))
	addPageRoutes(r, d, s) // pages.go: /, /donnees, /connexion, /compte…
	if d.Members != nil {
		r.Group(func(r chi.Router) {
			r.Use(noStore, crossOrigin(d.Logger), authenticate(d.Logger, d.Members))
			r.Post("/api/auth/signup", handleSignUp(d))
			r.Post("/api/auth/login", handleLogin(d))
			r.Post("/api/auth/password-reset", handlePasswordReset(d))
			r.Post("/api/auth/password-reset/confirm", handlePasswordResetConfirm(d))
			r.Group(func(r chi.Router) {
				r.Use(requireMember(d.Logger), csrfToken(d.Logger), tokenScope(d.Logger))
				r.Post("/api/auth/logout", handleLogout(d))
				r.Post("/api/auth/logout-all", handleLogoutAll(d))
				r.Get("/api/me", handleMe(d))
				r.Patch("/api/me", handleMeUpdate(d))
				r.Delete("/api/me", handleMeErase(d))
				r.Get("/api/me/export", handleMeExport(d))
				r.Post("/api/me/consents", handleMeConsents(d))
				r.Get("/api/members", handleMembers(d))
				r.Get("/api/members/export", handleMembersExport(d))
				r.Get("/api/members/{id}", handleMember(d))
				r.Post("/api/members/{id}/contact", handleMemberContact(d))
				r.Get("/api/territories", handleTerritories(d))
				r.Post("/api/territories", handleTerritoryCreate(d))
				r.Get("/api/territories/{id}", handleTerritory(d))
				r.Post("/api/territories/{id}/areas", handleTerritoryAreasAdd(d))
				r.Delete("/api/territories/{id}/areas", handleTerritoryAreaDelete(d))
				r.Get("/api/roles", handleRoles(d))
				r.Get("/api/roles/grants", handleGrants(d))
				r.Post("/api/roles/grants", handleGrantCreate(d))
				r.Delete("/api/roles/grants/{id}", handleGrantDelete(d))
				r.Get("/api/tokens", handleTokens(d))
				r.Post("/api/tokens", handleTokenCreate(d))
				r.Delete("/api/tokens/{id}", handleTokenRevoke(d))
				r.Get("/api/audit", handleAudit(d))
				if d.Cross != nil {
					addCrossRoutes(r, d) // crosstab.go: /api/bureaux, /api/crosstab, /api/targets, /api/exports
				}
			})
		})
	}
	if d.Tiles != nil {
		addTileRoutes(r, d) // tiles.go: /tiles/…, /api/indicators/…, /carte
	}
	if d.Web != nil {
		r.Handle("/static/*", s.serveStatic(d.Web))
	}
}
