// Package health holds how GitOps tools judge a ProtectedService: the Argo CD health check in
// Lua (argocd_health.lua, shipped verbatim in docs/gitops.md) and a Go runner that evaluates it
// the way Argo CD does, so tests can check it against real status objects. Flux needs nothing
// from here: it computes kstatus from the Ready/Reconciling/Stalled conditions runguard writes.
package health

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// ArgoCDLua is the Argo CD health check for iap.runguard.dev/ProtectedService.
//
//go:embed argocd_health.lua
var ArgoCDLua string

// ArgoCDConfigKey is the argocd-cm key the check is installed under.
const ArgoCDConfigKey = "resource.customizations.health.iap.runguard.dev_ProtectedService"

// Argo CD's health status codes.
const (
	Healthy     = "Healthy"
	Progressing = "Progressing"
	Degraded    = "Degraded"
	Suspended   = "Suspended"
	Missing     = "Missing"
	Unknown     = "Unknown"
)

// ArgoCDHealth is what the check returned for one object.
type ArgoCDHealth struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// EvaluateArgoCD runs script against obj (an object as the API server returns it, decoded from
// JSON) under the restrictions Argo CD applies: only the base, table and package libraries, the
// object as the global `obj`, a one-second limit, and a returned table read as status + message.
func EvaluateArgoCD(script string, obj map[string]any) (ArgoCDHealth, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return ArgoCDHealth{}, fmt.Errorf("open Lua library %s: %w", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return ArgoCDHealth{}, fmt.Errorf("run health check: %w", err)
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return ArgoCDHealth{}, fmt.Errorf("health check returned %s, not a table", l.Get(-1).Type())
	}
	var hs ArgoCDHealth
	status, message := table.RawGetString("status"), table.RawGetString("message")
	if s, ok := status.(lua.LString); ok {
		hs.Status = string(s)
	}
	if m, ok := message.(lua.LString); ok {
		hs.Message = string(m)
	}
	switch hs.Status {
	case Healthy, Progressing, Degraded, Suspended, Missing, Unknown:
		return hs, nil
	}
	// Argo CD shows an invalid status as Unknown; a test should see the mistake instead.
	return hs, fmt.Errorf("health check returned invalid status %q", hs.Status)
}

// toLua converts a decoded JSON value into Lua values the way Argo CD does: objects become
// tables keyed by string, arrays 1-based tables, all numbers Lua numbers.
func toLua(l *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case string:
		return lua.LString(x)
	case float64:
		return lua.LNumber(x)
	case int64:
		return lua.LNumber(x)
	case int:
		return lua.LNumber(x)
	case int32:
		return lua.LNumber(x)
	case json.Number:
		return lua.LString(x)
	case []any:
		t := l.CreateTable(len(x), 0)
		for _, item := range x {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(x))
		for k, item := range x {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	}
	return lua.LNil
}
