package storetest

import (
	"encoding/json"
	"fmt"
	"time"

	"gongdan/core/ticket"
	"gongdan/draft"
)

// The people of the suite.
var (
	agent      = ticket.Actor{ID: "agent-zhou", Role: ticket.RoleAgent}
	dispatcher = ticket.Actor{ID: "disp-chen", Role: ticket.RoleDispatcher}
	supervisor = ticket.Actor{ID: "sup-wang", Role: ticket.RoleSupervisor}
	customer   = ticket.Actor{ID: "c-1001", Role: ticket.RoleCustomer}
	qa         = ticket.Actor{ID: "qa-sun", Role: ticket.RoleQA}
	system     = ticket.Actor{ID: "system", Role: ticket.RoleSystem}
)

func engineer(id string) ticket.Actor { return ticket.Actor{ID: id, Role: ticket.RoleEngineer} }

// newDraft is a plain request with a title.
func newDraft(title string) draft.Draft {
	return draft.Draft{
		Source:      draft.Source{Connector: "storetest", Type: "webhook"},
		Title:       title,
		Description: title + "，请安排工程师",
		Urgency:     draft.UrgencyBlue,
		Tags:        []string{},
	}
}

// fullDraft fills every field a draft has, so a round trip that drops or mangles one fails.
func fullDraft() draft.Draft {
	received := start.Add(-3*time.Minute - 7*time.Nanosecond)
	return draft.Draft{
		Source:     draft.Source{Connector: "plant-mqtt", Type: "mqtt", Kind: "alarm", ExternalID: "alm-7731"},
		DedupKey:   "plant-mqtt:alm-7731",
		ThreadKey:  "wx-thread-88",
		ReceivedAt: received,
		OccurredAt: received.Add(-90 * time.Second),
		Customer: draft.Customer{ID: "c-1001", Name: "王建国", Phone: "13812345678",
			WechatOpenID: "oAbC-123", WecomUserID: "wangjg", Org: "苏州精密机械有限公司"},
		Device:   draft.Device{ID: "PLC-3-07", Model: "S7-1200", Firmware: "4.5.2", ProductType: "plc"},
		Location: draft.Location{Address: "苏州工业园区星湖街328号 3号车间", City: "苏州", Lat: 31.298886, Lon: 120.585316},
		Title:    "3号线急停按钮失灵",
		Description: "按下急停无反应，产线已停。\n" +
			"报警代码 E-STOP-17；\"引号\" 与 <尖括号> & 符号。",
		Category:    "electrical",
		FaultCode:   "E-STOP-17",
		Tags:        []string{"急停故障", "产线停机"},
		Urgency:     draft.UrgencyRed,
		Attachments: []draft.Attachment{{Kind: "image", URI: "s3://gongdan/att/1.jpg", SHA256: "9f86d081884c7d65"}},
		Evidence:    []draft.Evidence{{Field: "urgency", Text: "产线已停", From: "description", Confidence: 0.93}},
	}
}

func rawJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("storetest: %v", err))
	}
	return b
}

func withID(cmd ticket.Command, commandID string) ticket.Command {
	cmd.CommandID = commandID
	return cmd
}

func assign(assignee, team string) ticket.Command {
	return ticket.Command{Action: ticket.ActionAssign, Actor: dispatcher,
		Data: rawJSON(ticket.AssignData{Assignee: assignee, Team: team})}
}

func accept(eng string) ticket.Command {
	return ticket.Command{Action: ticket.ActionAccept, Actor: engineer(eng)}
}

func startWork(eng string) ticket.Command {
	return ticket.Command{Action: ticket.ActionStart, Actor: engineer(eng)}
}

func resolve(eng, rootCause string) ticket.Command {
	return ticket.Command{Action: ticket.ActionResolve, Actor: engineer(eng),
		Data: rawJSON(ticket.ResolveData{RootCause: rootCause, Evidence: []string{"photo-1", "log-2"}})}
}

func confirm(solved bool) ticket.Command {
	return ticket.Command{Action: ticket.ActionConfirm, Actor: customer,
		Data: rawJSON(ticket.ConfirmData{Solved: &solved, Timeliness: 5, Professionalism: 4, Comment: "师傅很专业"})}
}

func closeTicket() ticket.Command {
	return ticket.Command{Action: ticket.ActionClose, Actor: agent}
}

func decline(eng string) ticket.Command {
	return ticket.Command{Action: ticket.ActionDecline, Actor: engineer(eng), Reason: "不在服务区域",
		Data: rawJSON(ticket.DeclineData{ReasonCode: "too_far"})}
}

func unfreeze() ticket.Command {
	return ticket.Command{Action: ticket.ActionUnfreeze, Actor: qa}
}

func reject(reason string) ticket.Command {
	return ticket.Command{Action: ticket.ActionReject, Actor: agent, Reason: reason}
}

func escalate(reason string) ticket.Command {
	return ticket.Command{Action: ticket.ActionEscalate, Actor: supervisor, Reason: reason, Rule: "sla-black"}
}

func pause(eng, reason string) ticket.Command {
	return ticket.Command{Action: ticket.ActionPause, Actor: engineer(eng), Reason: reason}
}

func forceClose(reason string) ticket.Command {
	return ticket.Command{Action: ticket.ActionForceClose, Actor: supervisor, Reason: reason}
}

func reopen(reason string) ticket.Command {
	return ticket.Command{Action: ticket.ActionReopen, Actor: agent, Reason: reason}
}

func archive() ticket.Command {
	return ticket.Command{Action: ticket.ActionArchive, Actor: supervisor}
}
