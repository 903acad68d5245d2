package controllers

import (
	"fmt"
	"strings"
	"testing"

	"github.com/runguard/runguard/internal/iampolicy"
)

var everyWriteKind = []writeKind{writeGrantInvoker, writeBindAccess, writeRevokeAccess, writeEnableIAP, writeDisableIAP,
	writeRevokePublicAccess, writeEnableInvokerCheck, writeRemoveAccess, writeApplySettings}

// events.k8s.io/v1 refuses an action longer than 128 characters: even a pass that made every
// kind of write at once stays within it.
func TestWritesAction_EveryKindTogetherFitsTheEventsAPI(t *testing.T) {
	var writes []googleWrite
	for _, k := range everyWriteKind {
		writes = append(writes, googleWrite{kind: k}, googleWrite{kind: k})
	}
	a := writesAction(writes)
	if len(a) > 128 {
		t.Errorf("action %q is %d characters, the events API allows 128", a, len(a))
	}
	if strings.Count(a, string(writeBindAccess)) != 1 {
		t.Errorf("action %q repeats a kind", a)
	}
	if got := writesAction([]googleWrite{{kind: writeGrantInvoker}, {kind: writeBindAccess}, {kind: writeEnableIAP}}); got != "GrantInvoker,BindAccess,EnableIAP" {
		t.Errorf("action = %q, want the kinds in the order written", got)
	}
}

func TestWritesNote_ListsEveryWriteInOrder(t *testing.T) {
	writes := []googleWrite{
		{kind: writeGrantInvoker, resource: "projects/p/locations/l/services/s", added: []iampolicy.Tuple{{Role: iampolicy.InvokerRole, Member: "serviceAccount:agent"}}},
		{kind: writeBindAccess, resource: "projects/1/iap_web/cloud_run-l/services/s", added: []iampolicy.Tuple{{Role: iampolicy.AccessorRole, Member: "user:alice@acme.com"}}},
		{kind: writeEnableIAP, resource: "projects/p/locations/l/services/s"},
	}
	note := writesNote("Updated Google Cloud for p/l/s", writes)
	at := 0
	for _, want := range []string{"Updated Google Cloud for p/l/s: ", "(1) Granted roles/run.invoker", "(2) Updated IAP access", "+user:alice@acme.com", "(3) Switching IAP on"} {
		j := strings.Index(note[at:], want)
		if j < 0 {
			t.Fatalf("note %q does not say %q after byte %d", note, want, at)
		}
		at += j + len(want)
	}
	if one := writesNote("Corrected drift of iap_enabled on p/l/s", writes[2:]); one != "Corrected drift of iap_enabled on p/l/s: Switching IAP on for Cloud Run service projects/p/locations/l/services/s." {
		t.Errorf("a single write's note = %q", one)
	}
}

// A note never exceeds what the events API accepts (1,024 bytes): the writes that do not fit are
// counted, and a single write too long for it is cut.
func TestWritesNote_StaysWithinTheEventsAPILimit(t *testing.T) {
	long := func(n int, title string) []iampolicy.Tuple {
		var out []iampolicy.Tuple
		for i := range n {
			out = append(out, iampolicy.Tuple{Role: iampolicy.AccessorRole, Member: fmt.Sprintf("user:someone-with-a-long-name-%d@acme.com", i), ConditionTitle: title})
		}
		return out
	}
	var writes []googleWrite
	for range 5 {
		writes = append(writes, googleWrite{kind: writeBindAccess, resource: "projects/1/iap_web/cloud_run-l/services/s", added: long(6, "runguard:devs")})
	}
	note := writesNote("Updated Google Cloud for p/l/s", writes)
	if len(note) > maxNote {
		t.Errorf("note is %d bytes, over %d", len(note), maxNote)
	}
	if !strings.Contains(note, "(1) ") || !strings.HasSuffix(note, " more writes.") {
		t.Errorf("note %q: want the first writes shown and the rest counted", note)
	}
	if !strings.Contains(note, "… and 3 more writes.") && !strings.Contains(note, "… and 2 more writes.") {
		t.Errorf("note %q: the count of writes left out is missing or wrong", note)
	}

	one := writesNote("Updated Google Cloud for p/l/s", []googleWrite{{kind: writeBindAccess, resource: "r", added: long(40, "runguard:dévs")}})
	if len(one) > maxNote || !strings.HasSuffix(one, "…") {
		t.Errorf("a single write too long: %d bytes, ends %q", len(one), one[len(one)-10:])
	}
	two := writesNote("h", []googleWrite{{kind: writeBindAccess, resource: "r", added: long(40, "runguard:devs")}, {kind: writeEnableIAP, resource: "s"}})
	if len(two) > maxNote || !strings.HasSuffix(two, "… and 1 more write.") {
		t.Errorf("a first write too long, then another: %d bytes, ends %q", len(two), two[max(0, len(two)-30):])
	}
}
