package main

import (
	"testing"

	"github.com/runguard/runguard/internal/version/versiontest"
)

func TestMain(m *testing.M) { versiontest.Main(m, main) }

func TestVersionFlag_PrintsTheVersionAndExitsZero(t *testing.T) { versiontest.CheckFlag(t) }
