// Package iampolicy decides what runguard writes into IAM policies.
//
// It is pure: every function takes values (an *iampb.Policy read with
// requestedPolicyVersion 3, the desired access groups) and returns values
// (a fresh policy to write, the tuples added and removed). It never mutates
// its inputs and never talks to the network, so the controller does the
// read-modify-write with the etag and this package decides the "modify".
//
// Ownership is carried inside the policy itself: each access group becomes
// one binding of the accessor role whose condition title is
// "runguard:<group>" and whose description names the owning object
// ("managed-by=runguard cluster=<c> namespace=<ns> name=<n>"). A binding is
// runguard's only if both parse (see ParseMarker); everything else is left
// byte-for-byte as it was read. docs/ownership.md explains the rules with
// example policies.
package iampolicy
