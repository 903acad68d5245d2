package frontdoor

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"
)

// Answer is the JSON body of a request the front door lets through: what the service would have
// been asked, and by whom.
type Answer struct {
	// Service is the Cloud Run service's full name.
	Service string `json:"service"`
	Path    string `json:"path"`
	// IAP says whether IAP checked the request (false: IAP is off on the service).
	IAP bool `json:"iap"`
	// Email and UserID are the identity headers IAP passed on, "" when it names nobody.
	Email  string `json:"email,omitempty"`
	UserID string `json:"userId,omitempty"`
}

// ServeHTTP answers a request for a service's URL as IAP in front of it would.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := hostOf(r.Host)
	svc, ok := h.world.ServiceByHost(host)
	if !ok {
		h.logger.Info("gcpfake frontdoor", "host", host, "path", r.URL.Path, "status", http.StatusNotFound)
		http.Error(w, fmt.Sprintf("No Cloud Run service answers at %s.", host), http.StatusNotFound)
		return
	}
	if !svc.IAPEnabled {
		h.logger.Info("gcpfake frontdoor", "service", svc.Name, "path", r.URL.Path, "status", http.StatusOK, "reason", "IAP is off")
		writeAnswer(w, Answer{Service: svc.Name, Path: r.URL.Path})
		return
	}
	req, err := readRequest(r, h.world.Now())
	if err != nil {
		h.logger.Info("gcpfake frontdoor", "service", svc.Name, "path", r.URL.Path, "status", http.StatusBadRequest, "error", err)
		http.Error(w, "Malformed test header: "+err.Error(), http.StatusBadRequest)
		return
	}
	d := h.decide(svc, req)
	code := http.StatusOK
	switch {
	case !d.allowed && req.principal == "":
		code = http.StatusUnauthorized
	case !d.allowed:
		code = http.StatusForbidden
	}
	h.logger.Info("gcpfake frontdoor", "service", svc.Name, "path", req.path, "principal", describeCaller(req),
		"status", code, "reason", d.reason)
	switch code {
	case http.StatusUnauthorized:
		// IAP answers 401 where it cannot send the browser to sign in (https://cloud.google.com/iap/docs/faq).
		http.Error(w, "Unauthorized: the request carries no identity ("+HeaderPrincipal+").", code)
	case http.StatusForbidden:
		http.Error(w, "You don't have access to this resource.", code)
	default:
		a := Answer{Service: svc.Name, Path: req.path, IAP: true}
		if req.principal != "" {
			a.Email, a.UserID = identityPrefix+emailOf(req.principal), identityPrefix+userID(req.principal)
			w.Header().Set(HeaderUserEmail, a.Email)
			w.Header().Set(HeaderUserID, a.UserID)
		}
		writeAnswer(w, a)
	}
}

func writeAnswer(w http.ResponseWriter, a Answer) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(a)
}

// emailOf is what the email header carries: the account's email; a federated identity's
// principal identifier as it is (the fake's choice: no public sample shows IAP's form).
func emailOf(principal string) string {
	if _, email, ok := strings.Cut(principal, ":"); ok && !strings.HasPrefix(principal, "principal://") {
		return email
	}
	return principal
}

// userID is "a persistent, unique identifier for the user": Google's are decimal numbers; the
// fake derives 21 digits from the principal, so the same caller always gets the same ID.
func userID(principal string) string {
	sum := sha256.Sum256([]byte(principal))
	n := new(big.Int).SetBytes(sum[:])
	return fmt.Sprintf("1%020d", n.Mod(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil)))
}
