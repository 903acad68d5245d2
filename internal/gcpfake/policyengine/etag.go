package policyengine

import (
	"encoding/binary"
	"sync/atomic"
	"time"
)

// EmptyEtag is what Google returns for a resource whose policy was never
// set ("ACAB" in base64).
var EmptyEtag = []byte{0x00, 0x20, 0x01}

var lastEtag atomic.Uint64

// NewEtag returns a fresh 8-byte etag. Like Google's ("BwWWja0YfJA=") it
// starts with 0x07 and grows with time; it is unique within the process.
func NewEtag() []byte {
	for {
		prev := lastEtag.Load()
		next := uint64(0x07)<<56 | uint64(time.Now().UnixMicro())&(1<<56-1)
		if next <= prev {
			next = prev + 1
		}
		if lastEtag.CompareAndSwap(prev, next) {
			b := make([]byte, 8)
			binary.BigEndian.PutUint64(b, next)
			return b
		}
	}
}
