package accesslevel

import (
	"strings"
	"testing"
	"unicode/utf8"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	devicetype "google.golang.org/genproto/googleapis/identity/accesscontextmanager/type"
)

// FuzzOwnerOf checks the marker both ways: Build→OwnerOf returns the owner
// for any owner and user text, FromProto returns the user's text whenever
// it fits, and any description OwnerOf accepts is exactly what Build would
// write for the owner and text it reads (one owner, one marker).
func FuzzOwnerOf(f *testing.F) {
	f.Add("prod-eu", "corp-network", "Office networks.", "")
	f.Add(`a", AccessLevel "b`, "n\nm", "", "managed by runguard: cluster \"x\", AccessLevel \"y\"")
	f.Add("é", "\xff", "text\n\n", "text\n\nmanaged by runguard: cluster \"c\", AccessLevel \"n\"")
	f.Add("c", "n", strings.Repeat("ü", 600), "\n\nmanaged by runguard: cluster \"c\", AccessLevel \"n\"")
	f.Fuzz(func(t *testing.T, cluster, name, user, description string) {
		o := Owner{Cluster: cluster, Name: name}
		level := Build(Spec{Description: user}, "", o)
		got, owned := OwnerOf(level)
		switch {
		case cluster == "" || name == "":
			if owned {
				t.Fatalf("an owner with an empty field was read back: %+v", got)
			}
		case !owned || got != o:
			t.Fatalf("OwnerOf(Build(%+v)) = %+v, %v", o, got, owned)
		}
		if owned && DescriptionFits(user, o) {
			if spec, _, _ := FromProto(level); spec.Description != user {
				t.Fatalf("FromProto description = %q, want %q", spec.Description, user)
			}
		}

		parsed := levelWithDescription(description)
		if o, owned := OwnerOf(parsed); owned {
			text, _, _ := FromProto(parsed)
			if DescriptionFits(text.Description, o) {
				if again := ownedDescription(text.Description, o); again != description {
					t.Fatalf("accepted %q, but Build writes %q for the same owner and text", description, again)
				}
			}
		}
	})
}

// FuzzDescribe checks that Describe never panics and always returns one
// line of valid UTF-8 within MaxDescribeRunes, whatever the level holds.
func FuzzDescribe(f *testing.F) {
	f.Add("203.0.113.0/24", "US", "user:a@example.com", corpNetworkName, int32(3), int32(1), true, false)
	f.Add("\xff\n", "", "", "", int32(-1), int32(99), false, true)
	f.Add(strings.Repeat("x", 500), "ü", "\t", "/", int32(0), int32(6), true, true)
	f.Fuzz(func(t *testing.T, text, region, member, required string, encryption, os int32, negate, custom bool) {
		var level *accesscontextmanagerpb.AccessLevel
		if custom {
			level = Build(Spec{Custom: text + region + member}, "", prodOwner)
		} else {
			condition := &accesscontextmanagerpb.Condition{
				IpSubnetworks:        []string{text, region},
				Regions:              []string{region},
				Members:              []string{member, text},
				RequiredAccessLevels: []string{required},
				Negate:               negate,
				DevicePolicy: &accesscontextmanagerpb.DevicePolicy{
					AllowedEncryptionStatuses: []devicetype.DeviceEncryptionStatus{devicetype.DeviceEncryptionStatus(encryption)},
					OsConstraints:             []*accesscontextmanagerpb.OsConstraint{{OsType: devicetype.OsType(os), MinimumVersion: text}},
				},
			}
			level = &accesscontextmanagerpb.AccessLevel{Level: &accesscontextmanagerpb.AccessLevel_Basic{Basic: &accesscontextmanagerpb.BasicLevel{
				CombiningFunction: accesscontextmanagerpb.BasicLevel_ConditionCombiningFunction(encryption),
				Conditions:        []*accesscontextmanagerpb.Condition{condition, condition, {Negate: negate}},
			}}}
		}
		got := Describe(level)
		if !utf8.ValidString(got) {
			t.Fatalf("Describe = %q, not valid UTF-8", got)
		}
		if n := utf8.RuneCountInString(got); n > MaxDescribeRunes {
			t.Fatalf("Describe is %d characters, more than %d", n, MaxDescribeRunes)
		}
		if strings.ContainsAny(got, "\n\r\t") {
			t.Fatalf("Describe = %q, not one line", got)
		}
		if again := Describe(level); again != got {
			t.Fatalf("Describe is not deterministic: %q then %q", got, again)
		}
	})
}
