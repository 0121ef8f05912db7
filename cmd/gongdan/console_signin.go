package main

import (
	"gongdan/config"
	"gongdan/core/ticket"
	"gongdan/web/console"
)

// consoleSignIn sets the console's sign-in from the config: session lengths (console), the
// address WeCom sends people back to (server.public_url) and WeCom sign-in (console.wecom).
func consoleSignIn(cfg *config.Config, o *console.Options) {
	o.IdleTimeout, o.MaxAge = cfg.Console.IdleTimeout.Std(), cfg.Console.MaxAge.Std()
	o.PublicURL = cfg.Server.PublicURL
	w := cfg.Console.WeCom
	if w == nil {
		return
	}
	wc := &console.WeCom{CorpID: w.CorpID, AgentID: w.AgentID, Secret: w.Secret.Reveal(),
		Users: make(map[string]ticket.Actor, len(w.Users)), Names: map[string]string{}}
	for _, u := range w.Users {
		wc.Users[u.UserID] = ticket.Actor{ID: u.Actor, Role: ticket.Role(u.Role)}
		if u.Name != "" {
			wc.Names[u.UserID] = u.Name
		}
	}
	o.WeCom = wc
}
