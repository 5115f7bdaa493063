package e2e

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDashboardImportInBrowser uploads a small Auth0 bulk-import file from
// the Import page (a multipart GraphQL request) and follows the job to its
// end: the new user is inserted, the row without an identifier is listed
// among the refused rows. The file is gzipped.
func TestDashboardImportInBrowser(t *testing.T) {
	f := setupDashboard(t)
	s := f.s
	c := newChrome(t, s)

	// Gzipped, as exports and large files often are: the page unpacks it.
	file := filepath.Join(t.TempDir(), "users.ndjson.gz")
	rows := `{"email": "erin@example.com", "email_verified": true, "name": "Erin"}` + "\n" +
		`{"name": "Nobody", "app_metadata": {"plan": "gold"}}` + "\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(rows))
	zw.Close()
	if err := os.WriteFile(file, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	c.signIn(s, "ada@example.com", "Analytical-Engine-1843")
	c.waitJS(`!!document.querySelector("#result-count")`)
	c.run(chromedp.Click(chromedp.CSS(`#nav a[data-section=import]`)))
	c.waitJS(`!!document.querySelector("form.import select[name=connection] option")`)
	if got := c.eval(`document.querySelector("form.import select[name=connection]").value`); got != "Username-Password-Authentication" {
		t.Fatalf("connection choice: %q", got)
	}
	c.run(chromedp.SetUploadFiles(chromedp.CSS(`form.import input[type=file]`), []string{file}))
	c.run(chromedp.Click(chromedp.CSS(`form.import button[type=submit]`)))

	// The page follows the job until it completes.
	c.waitJS(`(document.querySelector("#job-status") || {}).textContent === "completed"`)
	if got := c.text("#job-summary"); got != "1 inserted, 0 updated, 1 failed, 2 total" {
		t.Fatalf("summary: %q", got)
	}
	errs := c.text("#job-errors tbody")
	if !strings.Contains(errs, "1") || !strings.Contains(errs, "ANY_OF_MISSING") {
		t.Fatalf("refused rows: %q", errs)
	}
	c.shot("import")

	var out struct{ UsersByEmail []struct{ Name string } }
	s.MustGraphQL(t, f.admin, `{ usersByEmail(email: "erin@example.com") { name } }`, nil, &out)
	if len(out.UsersByEmail) != 1 || out.UsersByEmail[0].Name != "Erin" {
		t.Fatalf("the imported user: %+v", out.UsersByEmail)
	}
}
