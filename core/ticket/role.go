package ticket

import (
	"fmt"
	"strings"
)

// Role is what an actor is allowed to do. Each API token maps to one actor and one role.
type Role string

// The roles of DESIGN.md §6.
const (
	RoleAdmin      Role = "admin"
	RoleSupervisor Role = "supervisor"
	RoleDispatcher Role = "dispatcher"
	RoleEngineer   Role = "engineer"
	RoleAgent      Role = "agent"
	RoleQA         Role = "qa"
	RoleCustomer   Role = "customer"
	RoleSystem     Role = "system"
)

// Roles lists every role in a stable order.
var Roles = []Role{RoleAdmin, RoleSupervisor, RoleDispatcher, RoleEngineer, RoleAgent, RoleQA, RoleCustomer, RoleSystem}

// ParseRole returns the role named s, or an error that lists the valid ones.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return "", fmt.Errorf("unknown role %q (one of: %s)", s, strings.Join(names, ", "))
}

// SystemActor is gongdan itself: routing, SLA timers, automatic events.
var SystemActor = Actor{ID: "system", Role: RoleSystem}

// ConnectorActor is a connector as the author of what its drafts do (open, merge, resolve):
// the audit trail names the connector ("connector:plant-mqtt"), never a bare system.
func ConnectorActor(name string) Actor { return Actor{ID: "connector:" + name, Role: RoleSystem} }
