package config

import (
	"regexp"
	"strings"
	"time"

	"gongdan/core/ticket"
)

// Console configures the web console at /console/ (DESIGN.md §11): how long its sessions
// last and WeCom web sign-in. Every key is optional; without the section people sign in with
// their API tokens (server.tokens) and sessions keep the defaults.
type Console struct {
	// IdleTimeout ends a session nobody has used for this long. Default 8h.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxAge ends any session this long after its sign-in, used or not. Default 7d.
	MaxAge Duration `yaml:"max_age"`
	// WeCom turns on sign-in with WeCom (企业微信网页授权 inside WeCom, 扫码登录 in a desktop
	// browser) for the users it lists. Nil: tokens only.
	WeCom *ConsoleWeCom `yaml:"wecom"`
}

// ConsoleWeCom is console.wecom: the WeCom self-built app (自建应用) people sign in through,
// and who each WeCom user is in gongdan.
type ConsoleWeCom struct {
	// CorpID is the company's CorpID (企业ID). Required.
	CorpID string `yaml:"corp_id"`
	// AgentID is the app's AgentId. Required. The app's 可信域名 (or its Web 登录 callback
	// domain) must be the host of server.public_url.
	AgentID int64 `yaml:"agent_id"`
	// Secret is the app's Secret, to turn a sign-in's code into the WeCom userid. Required;
	// write ${ENV_VAR}.
	Secret Secret `yaml:"secret"`
	// Users are the WeCom users who may sign in, each as one actor with one console role.
	// A userid not listed is refused; taking one out ends that user's sessions.
	Users []ConsoleUser `yaml:"users"`
}

// ConsoleUser maps one WeCom userid to an actor.
type ConsoleUser struct {
	// UserID is the member's userid in WeCom (通讯录 账号). Required, unique.
	UserID string `yaml:"userid"`
	// Actor is the actor id the user acts as ("disp-chen"). Required.
	Actor string `yaml:"actor"`
	// Role is a console role: admin, supervisor, dispatcher, engineer, agent or qa. Required.
	Role string `yaml:"role"`
	// Name is shown in the console's header; default the actor id.
	Name string `yaml:"name"`
}

// Console defaults and bounds.
const (
	DefaultConsoleIdleTimeout = 8 * time.Hour
	DefaultConsoleMaxAge      = 7 * 24 * time.Hour
	minConsoleSession         = time.Minute
	maxConsoleMaxAge          = 90 * 24 * time.Hour
)

// consoleRoles are the roles that may sign in to the console: customers have their tracking
// page, and system is for connectors and scripts.
var consoleRoles = []ticket.Role{ticket.RoleAdmin, ticket.RoleSupervisor, ticket.RoleDispatcher, ticket.RoleEngineer, ticket.RoleAgent, ticket.RoleQA}

// corpIDPattern is a WeCom CorpID, as the wechat.work connector checks it too.
var corpIDPattern = regexp.MustCompile(`^w[wx][0-9A-Za-z]{14,30}$`)

func (c *Console) setDefaults() {
	if c.IdleTimeout == 0 {
		c.IdleTimeout = Duration(DefaultConsoleIdleTimeout)
	}
	if c.MaxAge == 0 {
		c.MaxAge = Duration(DefaultConsoleMaxAge)
	}
}

// validate checks the section; tokens are server.tokens, whose actors a WeCom user may share
// only with the same role.
func (c *Console) validate(tokens []Token) []problem {
	var ps []problem
	idle, age := c.IdleTimeout.Std(), c.MaxAge.Std()
	if age < minConsoleSession || age > maxConsoleMaxAge {
		ps = append(ps, problemf("max_age", "%v: want %v to %v (the default is %v)", age, minConsoleSession, maxConsoleMaxAge, DefaultConsoleMaxAge))
	}
	switch {
	case idle < minConsoleSession:
		ps = append(ps, problemf("idle_timeout", "%v: want at least %v (the default is %v)", idle, minConsoleSession, DefaultConsoleIdleTimeout))
	case idle > age && age >= minConsoleSession:
		ps = append(ps, problemf("idle_timeout", "%v: longer than max_age (%v), which ends every session first; make it shorter", idle, age))
	}
	if c.WeCom != nil {
		ps = append(ps, under("wecom", c.WeCom.validate(tokens))...)
	}
	return ps
}

func (w *ConsoleWeCom) validate(tokens []Token) []problem {
	var ps []problem
	switch {
	case w.CorpID == "":
		ps = append(ps, problemf("corp_id", "required: the company's CorpID (企业ID), ww followed by letters and digits"))
	case !corpIDPattern.MatchString(w.CorpID):
		ps = append(ps, problemf("corp_id", "%q is not a CorpID; want ww or wx followed by letters and digits (我的企业 → 企业信息)", w.CorpID))
	}
	if w.AgentID <= 0 {
		ps = append(ps, problemf("agent_id", "required: the AgentId of the self-built app people sign in through, like 1000002"))
	}
	if w.Secret == "" {
		ps = append(ps, problemf("secret", "required: the app's Secret, like secret: \"${WECOM_CONSOLE_SECRET}\""))
	}
	if len(w.Users) == 0 {
		ps = append(ps, problemf("users", "required: list the WeCom users who may sign in, like [{userid: LiGong, actor: eng-li, role: engineer}]"))
	}
	roleOfToken := map[string]int{}
	for i, t := range tokens {
		if _, seen := roleOfToken[t.Actor]; !seen && t.Actor != "" {
			roleOfToken[t.Actor] = i
		}
	}
	firstWithUserID := map[string]int{}
	for i, u := range w.Users {
		key := indexPath("users", i)
		ps = append(ps, under(key, u.validate())...)
		if j, ok := roleOfToken[u.Actor]; ok && u.Role != "" && tokens[j].Role != u.Role {
			// One actor, two roles: the audit trail could no longer say what the actor may do.
			ps = append(ps, problemf(key+".role", "%q: actor %q is server.tokens[%d]'s, with role %s; one actor has one role", u.Role, u.Actor, j, tokens[j].Role))
		}
		if u.UserID == "" {
			continue
		}
		if j, dup := firstWithUserID[u.UserID]; dup {
			ps = append(ps, problemf(key+".userid", "%q is users[%d]'s already; each WeCom user is one actor", u.UserID, j))
			continue
		}
		firstWithUserID[u.UserID] = i
	}
	return ps
}

func (u *ConsoleUser) validate() []problem {
	var ps []problem
	if strings.TrimSpace(u.UserID) == "" {
		ps = append(ps, problemf("userid", "required: the member's userid in WeCom (通讯录 → 成员 → 账号)"))
	}
	switch {
	case strings.TrimSpace(u.Actor) == "":
		ps = append(ps, problemf("actor", "required: the actor id the user acts as, like disp-chen"))
	case strings.HasPrefix(u.Actor, "connector:"):
		ps = append(ps, problemf("actor", "%q: actor ids starting connector: are the connectors' own in the audit trail; pick another id", u.Actor))
	case strings.HasPrefix(u.Actor, "tracking:"):
		ps = append(ps, problemf("actor", "%q: actor ids starting tracking: are the customers' tracking links; pick another id", u.Actor))
	}
	role, err := ticket.ParseRole(u.Role)
	switch {
	case u.Role == "":
		ps = append(ps, problemf("role", "required: %s", consoleRoleList()))
	case err != nil:
		ps = append(ps, problemf("role", "unknown role %q (%s)", u.Role, consoleRoleList()))
	case role == ticket.RoleCustomer || role == ticket.RoleSystem:
		ps = append(ps, problemf("role", "%q cannot sign in to the console (customers have their tracking page; system is for connectors and scripts): %s", u.Role, consoleRoleList()))
	}
	return ps
}

func consoleRoleList() string {
	names := make([]string, len(consoleRoles))
	for i, r := range consoleRoles {
		names[i] = string(r)
	}
	return "one of " + strings.Join(names, ", ")
}
