package mail_test

import (
	"context"
	"os"
	"testing"

	"github.com/coopol/coopol/internal/mail"
)

// TestPurgeFiles: erasure removes every .eml file naming the member, in any case, and
// only those.
func TestPurgeFiles(t *testing.T) {
	dir := t.TempDir()
	s := mail.FileSender{Dir: dir, From: "coopol <noreply@coopol.invalid>"}
	ctx := context.Background()
	for _, m := range []mail.Message{
		{To: "Lea@Example.org", Subject: "Réinitialisation", Body: "lien : http://coopol.test/reinitialiser#secret"},
		{To: "sec@example.org", Subject: "Inscription", Body: "lea@example.org s'est inscrite"},
		{To: "other@example.org", Subject: "Bonjour", Body: "rien sur elle"},
	} {
		if err := s.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	n, err := mail.PurgeFiles(dir, "lea@example.org")
	if err != nil || n != 2 {
		t.Fatalf("PurgeFiles = %d, %v; want 2", n, err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 1 {
		t.Fatalf("%d files left, want 1", len(left))
	}
	if n, err := mail.PurgeFiles(dir+"/absent", "lea@example.org"); n != 0 || err != nil {
		t.Errorf("missing dir: %d, %v", n, err)
	}
}
