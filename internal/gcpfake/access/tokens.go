package access

import (
	"crypto/rand"
	"encoding/base64"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/runguard/runguard/internal/gcpfake/store"
)

// TokenPrefix starts every token the fake issues. Google's OAuth access tokens start with
// "ya29."; the rest is opaque and random.
const TokenPrefix = "ya29.gcpfake."

// Tokens issues and resolves access tokens, kept in the fake's store.
type Tokens struct {
	Store *store.Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Issue mints a token for principal (member form) that expires after lifetime.
func (t *Tokens) Issue(principal string, lifetime time.Duration) (token string, expires time.Time) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	expires = t.now().Add(lifetime).UTC()
	rec, _ := structpb.NewStruct(map[string]any{"principal": principal, "expireTime": expires.Format(time.RFC3339Nano)})
	_ = t.Store.Txn(func(tx *store.Tx) error {
		tx.Put(store.KindAccessToken, token, rec)
		return nil
	})
	return token, expires
}

// Lookup resolves a token to its principal; an unknown or expired token resolves to nothing
// (an expired one is forgotten).
func (t *Tokens) Lookup(token string) (principal string, ok bool) {
	_ = t.Store.Txn(func(tx *store.Tx) error {
		m, found := tx.Get(store.KindAccessToken, token)
		if !found {
			return nil
		}
		fields := m.(*structpb.Struct).GetFields()
		expires, err := time.Parse(time.RFC3339Nano, fields["expireTime"].GetStringValue())
		if err != nil || !t.now().Before(expires) {
			tx.Delete(store.KindAccessToken, token)
			return nil
		}
		principal, ok = fields["principal"].GetStringValue(), true
		return nil
	})
	return principal, ok
}

func (t *Tokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}
