package dashboard

import (
	"io/fs"
	"strings"
	"testing"
)

// TestSearchExamplesComeFromTheList: the dashboard's scripts hold no search
// example of their own (each would escape the search tests, which run
// SearchExamples); they show what config.json serves.
func TestSearchExamplesComeFromTheList(t *testing.T) {
	if len(SearchExamples) == 0 {
		t.Fatal("no search examples")
	}
	// Fragments every example shown so far has used: field prefixes with
	// a value, as typed into the search box.
	patterns := []string{"*@example.com", "email.domain:", "app_metadata.plan:", "name:jo", `name:\"`, "identities.connection:", "_exists_:"}
	err := fs.WalkDir(assetsFS, "assets/js", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetsFS.ReadFile(p)
		if err != nil {
			return err
		}
		for _, pat := range patterns {
			if strings.Contains(string(b), pat) {
				t.Errorf("%s holds a search example (%q): take it from SearchExamples (config.json)", p, pat)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
