// Package accesslevel decides everything runguard writes into one Access
// Context Manager (ACM) access level: the proto to send (Build), whether a
// level found in Google is runguard's and whose (OwnerOf), which top-level
// fields an update must name (Mask), the reverse for export (FromProto),
// whether a custom CEL expression compiles against ACM's documented
// attributes (ValidateCustom), whether required levels form a cycle
// (Cycle), and the level's meaning in one line for status (Describe).
//
// It is pure: plain values in, plain values and protos out, no Kubernetes
// types and no network, so the controller does the reads and writes and
// this package decides them; everything here can be unit-tested and fuzzed.
//
// Ownership lives in the description because ACM access levels carry no
// labels or annotations: the only free-form field ACM keeps for us is
// description. Build appends one final line naming the owning cluster and
// AccessLevel object after the user's own text (see marker.go for the exact
// format), and OwnerOf accepts a level as runguard's only when that last
// line parses exactly; a description that merely mentions runguard is not
// a claim of ownership.
package accesslevel
