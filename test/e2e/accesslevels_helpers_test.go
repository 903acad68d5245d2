package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	acmpb "cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/runguard/runguard/internal/accesslevel"
	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// accessPolicy is the organization's access policy hack/demo/seed.yaml holds; every manager the
// tests start names it with --access-policy.
const accessPolicy = "accessPolicies/123456789"

// levelName is the full name of the level with this short name in accessPolicy.
func levelName(short string) string { return accessPolicy + "/accessLevels/" + short }

// googleLevel reads a level from the fake's admin API, as Google holds it; false when there is none.
func (s *system) googleLevel(full string) (*acmpb.AccessLevel, bool) {
	s.t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(s.fakeAdmin + adminapi.AccessLevelPath(full))
	if err != nil {
		s.t.Fatalf("read %s: %v", full, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	switch resp.StatusCode {
	case http.StatusNotFound:
		return nil, false
	case http.StatusOK:
	default:
		s.t.Fatalf("GET %s: %s: %s", adminapi.AccessLevelPath(full), resp.Status, raw)
	}
	l := &acmpb.AccessLevel{}
	if err := protojson.Unmarshal(raw, l); err != nil {
		s.t.Fatalf("parse %s: %v\n%s", full, err, raw)
	}
	return l, true
}

// mustGoogleLevel is googleLevel for a level that must exist.
func (s *system) mustGoogleLevel(full string) *acmpb.AccessLevel {
	s.t.Helper()
	l, ok := s.googleLevel(full)
	if !ok {
		s.t.Fatalf("the fake has no access level %s", full)
	}
	return l
}

// putLevelOutOfBand replaces a level through the fake's admin API, as the console or gcloud would:
// the fake logs an Admin Activity entry for it.
// It returns the level the fake stored.
func (s *system) putLevelOutOfBand(l *acmpb.AccessLevel) *acmpb.AccessLevel {
	s.t.Helper()
	raw := s.admin(http.MethodPut, adminapi.AccessLevelPath(l.GetName()), s.levelJSON(l))
	stored := &acmpb.AccessLevel{}
	if err := protojson.Unmarshal(raw, stored); err != nil {
		s.t.Fatalf("parse the stored level: %v\n%s", err, raw)
	}
	return stored
}

// levelJSON is a level in protojson, as the fake's admin API takes it.
func (s *system) levelJSON(l *acmpb.AccessLevel) json.RawMessage {
	s.t.Helper()
	raw, err := protojson.Marshal(l)
	if err != nil {
		s.t.Fatal(err)
	}
	return raw
}

// ranges are the IP ranges of a basic level's conditions, sorted.
func ranges(l *acmpb.AccessLevel) []string {
	var out []string
	for _, c := range l.GetBasic().GetConditions() {
		out = append(out, c.GetIpSubnetworks()...)
	}
	slices.Sort(out)
	return out
}

// expectOwnedBy checks that the level carries runguard's mark naming the e2e cluster and the object.
func (s *system) expectOwnedBy(l *acmpb.AccessLevel, object string) {
	s.t.Helper()
	o, ok := accesslevel.OwnerOf(l)
	if want := (accesslevel.Owner{Cluster: "e2e", Name: object}); !ok || o != want {
		s.t.Errorf("%s: owner %+v (marked %v), want %+v; description %q", l.GetName(), o, ok, want, l.GetDescription())
	}
}

// levelCondition is one condition of an AccessLevel object: status, reason and message.
func (s *system) levelCondition(name, condition string) (status, reason, message string) {
	s.t.Helper()
	out := s.mustKubectl("get", "accesslevel", name, "-o",
		`jsonpath={.status.conditions[?(@.type=="`+condition+`")].status}|{.status.conditions[?(@.type=="`+condition+`")].reason}|{.status.conditions[?(@.type=="`+condition+`")].message}`)
	f := strings.SplitN(out, "|", 3)
	if len(f) != 3 {
		return "", "", out
	}
	return f[0], f[1], f[2]
}

// waitLevelConverged waits until an AccessLevel is Ready for its current generation.
func (s *system) waitLevelConverged(name string) {
	s.t.Helper()
	eventually(s.t, 60*time.Second, "AccessLevel "+name+" Ready for its current generation", func() error {
		out, err := s.kubectl("", "get", "accesslevel", name, "-o",
			`jsonpath={.metadata.generation} {.status.observedGeneration} {.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].observedGeneration}`)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		f := strings.Fields(out)
		if len(f) != 4 || f[0] != f[1] || f[2] != "True" || f[3] != f[0] {
			_, reason, msg := s.levelCondition(name, "Ready")
			return fmt.Errorf("generation, observedGeneration, Ready, Ready's observedGeneration = %q (%s: %s)", out, reason, msg)
		}
		return nil
	})
}

// waitLevelReason waits until an AccessLevel's condition is True with the reason.
func (s *system) waitLevelReason(name, condition, reason string) {
	s.t.Helper()
	eventually(s.t, 60*time.Second, "AccessLevel "+name+" "+condition+" with "+reason, func() error {
		if st, r, msg := s.levelCondition(name, condition); st != "True" || r != reason {
			return fmt.Errorf("%s=%s %s: %s", condition, st, r, msg)
		}
		return nil
	})
}

// psCondition is one condition of a ProtectedService: status, reason and message.
func (s *system) psCondition(ns, name, condition string) (status, reason, message string) {
	s.t.Helper()
	out := s.mustKubectl("get", "protectedservice", "-n", ns, name, "-o",
		`jsonpath={.status.conditions[?(@.type=="`+condition+`")].status}|{.status.conditions[?(@.type=="`+condition+`")].reason}|{.status.conditions[?(@.type=="`+condition+`")].message}`)
	f := strings.SplitN(out, "|", 3)
	if len(f) != 3 {
		return "", "", out
	}
	return f[0], f[1], f[2]
}

// levelWrites counts the fake's successful Access Context Manager writes on one level.
func levelWrites(s *system, full string) map[string]int {
	out := map[string]int{}
	for _, c := range s.calls() {
		if c.Write && c.Code == "OK" && c.Resource == full {
			out[c.Method]++
		}
	}
	return out
}

// watchStalled polls a ProtectedService's Stalled condition until the returned function is
// called; that returns the first "True REASON" seen, or "".
func (s *system) watchStalled(ns, name string) func() string {
	var seen atomic.Value
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			out, _ := s.kubectl("", "get", "protectedservice", "-n", ns, name, "-o",
				`jsonpath={.status.conditions[?(@.type=="Stalled")].status} {.status.conditions[?(@.type=="Stalled")].reason}`)
			if strings.HasPrefix(out, "True") {
				seen.CompareAndSwap(nil, out)
			}
		}
	}()
	return func() string {
		close(stop)
		<-done
		if v, ok := seen.Load().(string); ok {
			return v
		}
		return ""
	}
}

// waitQuiet waits until runguard has not read the level for quiet: the passes that follow a
// change are over.
func (s *system) waitQuiet(level string, quiet time.Duration) {
	s.t.Helper()
	eventually(s.t, 30*time.Second, "no read of "+level+" for "+quiet.String(), func() error {
		var last time.Time
		for _, c := range s.calls() {
			if c.Resource == level && c.Time.After(last) {
				last = c.Time
			}
		}
		if since := time.Since(last); since < quiet {
			return fmt.Errorf("last read %s ago", since.Round(time.Millisecond))
		}
		return nil
	})
}

// expectDemoLevelsInForce checks the access levels of the demo's manifests: the AccessLevels of
// config/samples/ and hack/demo/good/ are Ready with runguard's mark in Google, ops-console's sre
// group requires the latter two by full name, and the seed's corp_managed_device, which the
// samples require by full name, is still unmarked and unwritten.
func (s *system) expectDemoLevelsInForce() {
	s.t.Helper()
	for _, name := range []string{"office-or-oncall", "corp-network", "managed-device"} {
		s.waitLevelConverged(name)
		s.expectOwnedBy(s.mustGoogleLevel(levelName(strings.ReplaceAll(name, "-", "_"))), name)
	}
	for _, b := range s.service(opsConsole).IAPPolicy.Bindings {
		if b.Condition == nil || b.Condition.Title != "runguard:sre" {
			continue
		}
		for _, level := range []string{levelName("corp_network"), levelName("managed_device")} {
			if !strings.Contains(b.Condition.Expression, `"`+level+`" in request.auth.access_levels`) {
				s.t.Errorf("ops-console's sre condition %q does not require %s", b.Condition.Expression, level)
			}
		}
	}
	foreign := levelName("corp_managed_device")
	if _, owned := accesslevel.OwnerOf(s.mustGoogleLevel(foreign)); owned || len(levelWrites(s, foreign)) != 0 {
		s.t.Errorf("%s, another tool's level, was marked (%v) or written (%v) by runguard", foreign, owned, levelWrites(s, foreign))
	}
}
