// Package mail sends the messages coopol queues in its outbox table: SMTP in
// production, files in a directory for development. Queuing in PostgreSQL first means
// a request never waits on a mail server and a crash loses nothing.
package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Message is one e-mail, plain text.
type Message struct {
	To      string
	Subject string
	Body    string
}

// Queued is a message waiting in the outbox.
type Queued struct {
	ID int64
	Message
}

// Sender delivers one message.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Outbox is where messages wait; *postgres.DB implements it.
type Outbox interface {
	PendingMail(ctx context.Context, limit int) ([]Queued, error)
	MarkMailSent(ctx context.Context, id int64) error
	MarkMailFailed(ctx context.Context, id int64, reason string) error
}

// Relay moves messages from an outbox to a sender every interval until ctx ends.
func Relay(ctx context.Context, log *slog.Logger, box Outbox, s Sender, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := Flush(ctx, box, s); err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "mail relay", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Flush sends what is pending once and returns how many messages were sent. A message
// that fails stays queued, with its error, for the next round.
func Flush(ctx context.Context, box Outbox, s Sender) (int, error) {
	pending, err := box.PendingMail(ctx, 50)
	if err != nil {
		return 0, err
	}
	sent := 0
	var errs []error
	for _, q := range pending {
		if err := s.Send(ctx, q.Message); err != nil {
			errs = append(errs, fmt.Errorf("mail %d: %w", q.ID, err))
			if err := box.MarkMailFailed(ctx, q.ID, err.Error()); err != nil {
				return sent, err
			}
			continue
		}
		if err := box.MarkMailSent(ctx, q.ID); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, errors.Join(errs...)
}

// validHeader refuses CR and LF, which would let a value inject headers.
func validHeader(s string) bool { return !strings.ContainsAny(s, "\r\n") }

// FileSender writes each message to Dir as an .eml file, for development: the reset
// link of a local account is read there.
type FileSender struct {
	Dir  string
	From string
}

// Send writes m to a new file in s.Dir.
func (s FileSender) Send(ctx context.Context, m Message) error {
	if !validHeader(m.To) || !validHeader(m.Subject) {
		return errors.New("mail: header with a line break")
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	name := time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b) + ".eml"
	// 0600: the file may hold a password-reset link.
	return os.WriteFile(filepath.Join(s.Dir, name), format(s.From, m), 0o600)
}

// SMTPSender sends through an SMTP server with net/smtp; net/smtp refuses PLAIN auth
// over an unencrypted connection except to localhost, and upgrades with STARTTLS when
// the server offers it.
type SMTPSender struct {
	Addr     string // host:port
	From     string
	Username string
	Password string
}

// Send delivers m.
func (s SMTPSender) Send(ctx context.Context, m Message) error {
	if !validHeader(m.To) || !validHeader(m.Subject) || !validHeader(s.From) {
		return errors.New("mail: header with a line break")
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("mail: smtp address: %w", err)
	}
	var a smtp.Auth
	if s.Username != "" {
		a = smtp.PlainAuth("", s.Username, s.Password, host)
	}
	done := make(chan error, 1)
	// net/smtp takes no context; the goroutine lets a shutdown stop waiting for it.
	go func() { done <- smtp.SendMail(s.Addr, a, s.From, []string{m.To}, format(s.From, m)) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("mail: smtp: %w", err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func format(from string, m Message) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n", from, m.To, mime.QEncoding.Encode("utf-8", m.Subject),
		time.Now().Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(m.Body, "\n", "\r\n"))
	return []byte(b.String())
}

// PurgeFiles deletes the .eml files in dir that mention addr (in a header or the body,
// case-insensitively) and returns how many it deleted: an erased member's address and
// reset links must not outlive the erasure in the development sender's directory. A
// missing dir holds nothing.
func PurgeFiles(dir, addr string) (int, error) {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if dir == "" || addr == "" {
		return 0, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mail: purge: %w", err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".eml") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return n, fmt.Errorf("mail: purge: %w", err)
		}
		if !strings.Contains(strings.ToLower(string(b)), addr) {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("mail: purge: %w", err)
		}
		n++
	}
	return n, nil
}
