package hierarchy

import (
	"fmt"
	"slices"
	"testing"
)

func TestTree_ChainsGoUpToTheOrganization(t *testing.T) {
	tr := New()
	for _, f := range []Folder{{Name: "folders/1", Parent: "organizations/9"}, {Name: "folders/2", Parent: "folders/1"}} {
		if err := tr.AddFolder(f); err != nil {
			t.Fatal(err)
		}
	}
	if got := tr.Chain("folders/2"); !slices.Equal(got, []string{"folders/2", "folders/1", "organizations/9"}) {
		t.Errorf("Chain = %v", got)
	}
	if org, ok := tr.OrganizationOf("folders/2"); !ok || org != "organizations/9" {
		t.Errorf("OrganizationOf = %s, %v", org, ok)
	}
	if got := tr.Chain("folders/3"); len(got) != 0 {
		t.Errorf("Chain of an unknown folder = %v", got)
	}
}

func TestTree_RefusesUnknownParentsAndDuplicates(t *testing.T) {
	tr := New()
	for _, f := range []Folder{{Name: "folders/1", Parent: "folders/2"}, {Name: "folders/x", Parent: "organizations/9"}, {Name: "folders/1", Parent: "projects/p"}} {
		if err := tr.AddFolder(f); err == nil {
			t.Errorf("AddFolder(%+v) accepted", f)
		}
	}
	if err := tr.AddFolder(Folder{Name: "folders/1", Parent: "organizations/9"}); err != nil {
		t.Fatal(err)
	}
	if err := tr.AddFolder(Folder{Name: "folders/1", Parent: "organizations/9"}); err == nil {
		t.Error("a folder was added twice")
	}
	if err := tr.CheckParent("folders/7"); err == nil {
		t.Error("an unknown folder was accepted as a project's parent")
	}
}

func TestTree_AtMostTenFoldersDeep(t *testing.T) {
	tr := New()
	parent := "organizations/9"
	for i := range MaxHeight {
		name := fmt.Sprintf("folders/%d", i+1)
		if err := tr.AddFolder(Folder{Name: name, Parent: parent}); err != nil {
			t.Fatalf("folder %d: %v", i+1, err)
		}
		parent = name
	}
	if err := tr.AddFolder(Folder{Name: "folders/11", Parent: parent}); err == nil {
		t.Error("an eleventh level was accepted")
	}
}
