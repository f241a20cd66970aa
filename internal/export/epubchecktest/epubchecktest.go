// Package epubchecktest runs epubcheck, the EPUB validator (Debian's
// epubcheck package), on books that tests write.
package epubchecktest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Check writes epub to a temporary file and runs epubcheck on it, failing
// t on any error or warning.
func Check(t testing.TB, epub []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "book.epub")
	if err := os.WriteFile(path, epub, 0o644); err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("epubcheck")
	if err != nil {
		t.Fatalf("epubcheck is needed (apt-get install epubcheck): %v", err)
	}
	cmd := exec.Command(bin, "--failonwarnings", path)
	// Debian's /usr/bin/epubcheck is the jar itself, which runs directly
	// only where binfmt_misc knows jars.
	if real, err := filepath.EvalSymlinks(bin); err == nil && strings.HasSuffix(real, ".jar") {
		cmd = exec.Command("java", "-jar", real, "--failonwarnings", path)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("epubcheck: %v\n%s", err, out)
	}
}
