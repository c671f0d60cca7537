// Command dashcheck checks a Grafana dashboard (classic JSON model) the way Grafana's own
// schema reads it, and its Prometheus queries the way Prometheus parses them:
//
//   - the JSON is decoded strictly into the Grafana Foundation SDK's generated dashboard model,
//     with the SDK's panel and query plugins registered: a missing required field, a wrongly
//     typed one or an unknown one fails;
//   - the model's validation constraints are checked;
//   - every panel target's `expr` (and every query variable's query) is parsed by Prometheus's
//     PromQL parser, after Grafana's variables are replaced by sample values.
//
// On success it prints the metric names the queries select, one per line, sorted.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/promql/parser"
)

var (
	rangeVariable  = regexp.MustCompile(`\$\{?__(rate_interval|interval|range)\}?`)
	otherVariable  = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)
	labelValuesArg = regexp.MustCompile(`^label_values\(\s*(.*?)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)$`)
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "dashcheck: "+format+"\n", args...)
	os.Exit(1)
}

// real turns the SDK's empty error list (returned as a non-nil error) into no error.
func real(err error) error {
	if errs, ok := err.(cog.BuildErrors); ok && len(errs) == 0 {
		return nil
	}
	return err
}

// promql replaces Grafana's variables with values PromQL accepts in their place.
func promql(expr string) string {
	expr = rangeVariable.ReplaceAllString(expr, "5m")
	return otherVariable.ReplaceAllString(expr, "x")
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: dashcheck <dashboard.json>")
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard
	if err := real(d.UnmarshalJSONStrict(raw)); err != nil {
		fail("%s is not a valid Grafana dashboard: %v", os.Args[1], err)
	}
	if err := real(d.Validate()); err != nil {
		fail("%s breaks the dashboard schema's constraints: %v", os.Args[1], err)
	}
	// The queries, read generically: the SDK keeps them behind a plugin interface.
	var doc struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		fail("%v", err)
	}
	metrics := map[string]bool{}
	promParser := parser.NewParser(parser.Options{})
	check := func(where, expr string) {
		e, err := promParser.ParseExpr(promql(expr))
		if err != nil {
			fail("%s: %q is not valid PromQL: %v", where, expr, err)
		}
		parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
			if v, ok := node.(*parser.VectorSelector); ok {
				metrics[v.Name] = true
			}
			return nil
		})
	}
	queries := 0
	for _, p := range doc.Panels {
		for _, t := range p.Targets {
			if strings.TrimSpace(t.Expr) == "" {
				fail("panel %q has a target without an expr", p.Title)
			}
			check("panel "+p.Title, t.Expr)
			queries++
		}
	}
	for _, v := range doc.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			fail("variable %q: %v", v.Name, err)
		}
		m := labelValuesArg.FindStringSubmatch(q.Query)
		if m == nil {
			fail("variable %q: %q is not label_values(<selector>, <label>)", v.Name, q.Query)
		}
		check("variable "+v.Name, m[1])
		queries++
	}
	if queries == 0 {
		fail("%s has no Prometheus queries", os.Args[1])
	}
	names := make([]string, 0, len(metrics))
	for n := range metrics {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Println(n)
	}
}
