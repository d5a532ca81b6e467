package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"time"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/mail"
	"github.com/coopol/coopol/internal/server"
	"github.com/coopol/coopol/internal/tiles"
	"github.com/coopol/coopol/web"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	fset.SetOutput(stderr)
	dbURL := dbFlag(fset, getenv)
	defAddr := getenv("COOPOL_ADDR")
	if defAddr == "" {
		defAddr = "127.0.0.1:8080"
	}
	addr := fset.String("addr", defAddr, "listen address (default $COOPOL_ADDR or 127.0.0.1:8080)")
	trustProxy := fset.Bool("trust-proxy", getenv("COOPOL_TRUST_PROXY") == "1", "client IP from X-Forwarded-For (default $COOPOL_TRUST_PROXY=1)")
	baseURL := fset.String("base-url", getenv("COOPOL_BASE_URL"), "public URL, for links in e-mails (default $COOPOL_BASE_URL or http://ADDR)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	log := newLogger(getenv, stderr)
	db, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	static, err := fs.Sub(web.FS, "static")
	if err != nil {
		return err
	}
	if *baseURL == "" {
		*baseURL = "http://" + *addr
	}
	go mail.Relay(ctx, log, db, mailSender(getenv), 10*time.Second)
	handler := server.New(server.Deps{Logger: log, Store: db, Web: static, Members: db,
		Hasher: auth.NewHasher(auth.DefaultParams(), 4), TrustProxy: *trustProxy, BaseURL: *baseURL, MailDir: mailDir(getenv),
		Tiles: tiles.NewEngine(db, tiles.Options{Logger: log}), Cross: db})
	// Listen here: errors surface now, and tests can pass 127.0.0.1:0.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	log.Info("serving", "addr", "http://"+ln.Addr().String())
	fmt.Fprintf(stdout, "coopol serving on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	return nil
}
