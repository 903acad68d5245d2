// Package reach answers "would this member, from this context, get through
// IAP to this Cloud Run service?" from the allow-policy bindings that apply
// to the service (its own IAP resource and everything above it), the
// definitions of the Access Context Manager levels its conditions name, and
// what is known about the request.
//
// Answers are three-valued: ALLOW when some binding lets the request in for
// sure, DEPENDS when none does for sure but one might (and Depends says
// what would decide), DENY otherwise. Every step keeps that logic: a member
// matches, does not, or might (group membership unknown); an access level
// is satisfied, is not, or might be (device facts, IP or region not given);
// a condition holds, does not, or might (path, host or time not given, or a
// level undecided).
//
// It is pure: bindings, roles, level definitions and request facts in, an
// Answer out. The caller reads the policies, resolves custom roles and
// fetches the levels; this package never touches the network or Kubernetes.
// docs/effective-access.md describes the model, its sources and what it
// cannot see.
package reach
