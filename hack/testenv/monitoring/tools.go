//go:build tools

// Package tools pins promtool, built by hack/testenv/build.sh to check the chart's alert rules.
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
