package main

import (
	"errors"
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"

	"gongdan/config"
	"gongdan/connectors"
)

// checkExposure refuses a server.http address other than loopback while any connector takes
// requests there from callers who prove nothing (DESIGN.md §11): on loopback only processes
// of this machine reach them; anywhere else, anyone who can reach the port could. Each such
// intake is named at its file:line, with the key that would close it.
func checkExposure(cfg *config.Config, addr string) error {
	where := "server.http " + addr + " is not loopback"
	if len(cfg.Server.TrustedProxies) > 0 {
		// A proxy in front says the address is reached from beyond this host, whatever it is.
		where = "server.trusted_proxies puts a proxy in front of " + addr
	} else if config.IsLoopback(addr) {
		return nil
	}
	var errs config.Errors
	for _, c := range cfg.Connectors {
		conn, _, err := connectors.Global.Build(cfg.File, c, connectors.Env{DataDir: cfg.DataDir})
		if err != nil {
			return userError(err) // validate reported it already; serve never gets here with it
		}
		oi, ok := conn.(connectors.OpenIntake)
		if !ok {
			continue
		}
		for _, e := range oi.OpenIntake() {
			var ce *config.Error
			if !errors.As(e, &ce) {
				ce = &config.Error{File: cfg.File, Line: c.Line, Path: c.Path, Msg: e.Error()}
			}
			ce.Msg = fmt.Sprintf("%s (connector %s takes requests from anyone; refused while %s: authenticate it with a signature or tokens)", ce.Msg, c.Name, where)
			errs = append(errs, ce)
		}
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b *config.Error) int { return a.Line - b.Line })
		return userError(errs)
	}
	return nil
}

// checkThreadsOf checks that each connector's trust.threads_of names other connectors of
// the config, at the name's file:line.
func checkThreadsOf(cfg *config.Config) error {
	names := map[string]bool{}
	for _, c := range cfg.Connectors {
		names[c.Name] = true
	}
	var errs config.Errors
	for _, c := range cfg.Connectors {
		list := yamlChild(yamlChild(c.Raw, "trust"), "threads_of")
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for i, n := range list.Content {
			switch {
			case n.Value == c.Name:
				errs = append(errs, &config.Error{File: cfg.File, Line: n.Line, Path: fmt.Sprintf("%s.trust.threads_of[%d]", c.Path, i),
					Msg: fmt.Sprintf("%q is this connector itself; its own threads need no trust", n.Value)})
			case !names[n.Value]:
				errs = append(errs, &config.Error{File: cfg.File, Line: n.Line, Path: fmt.Sprintf("%s.trust.threads_of[%d]", c.Path, i),
					Msg: fmt.Sprintf("no connector named %q in this config", n.Value)})
			}
		}
	}
	if len(errs) > 0 {
		return userError(errs)
	}
	return nil
}

// yamlChild is the value of key in mapping n, or nil.
func yamlChild(n *yaml.Node, key string) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}
