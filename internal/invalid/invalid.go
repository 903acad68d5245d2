// Package invalid is the error of a setting out of its bounds. The bounds live with the setting
// (controllers.Options.Validate, gcp.Rates.Validate); the error names the setting's field, so
// the manager can name the flag it came from without restating any bound.
package invalid

import "fmt"

// Option says a setting's value is out of its bounds.
type Option struct {
	// Field is the setting's Go field name, such as "MaxConcurrentReconciles".
	Field string
	Value any
	// Want says what values are accepted.
	Want string
}

func (e *Option) Error() string { return fmt.Sprintf("%s is %v: %s", e.Field, e.Value, e.Want) }
