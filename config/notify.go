package config

// Notify is the notify section: who is told what, outside gongdan, as tickets move.
type Notify struct {
	// Customers: the customer of a ticket that came in through a WeChat official account or
	// WeChat customer service is told there when it is accepted, resolved and escalated.
	Customers *NotifyCustomers `yaml:"customers"`
	// WeCom: staff (engineers, team leads, the people of SLA tiers) get WeCom app messages.
	WeCom *NotifyWeCom `yaml:"wecom"`
	// Channels are the ways a customer is reached beyond WeChat (SMS, email) and the order
	// they are tried in; without it, customers are told on WeChat only.
	Channels *NotifyChannels `yaml:"channels"`
}

// NotifyCustomers says which moves of their ticket customers hear of.
type NotifyCustomers struct {
	Accepted  *bool `yaml:"accepted"`
	Resolved  *bool `yaml:"resolved"`
	Escalated *bool `yaml:"escalated"`
	// RemindConfirm: a resolved ticket's customer is reminded to confirm (the core's
	// remind_confirm events, at confirm.remind). Default true.
	RemindConfirm *bool `yaml:"remind_confirm"`
	// FollowupAsked: the customer of a closed ticket is asked whether the problem came back
	// (the core's followup_asked events, followup.after). Default true.
	FollowupAsked *bool `yaml:"followup_asked"`
	// ConfirmURL is the link in the resolved message where the customer confirms and rates;
	// {id} is replaced with the ticket id. gongdan's own tracking page, when it has one
	// (server.public_url), comes first.
	ConfirmURL string `yaml:"confirm_url"`
	// Templates are the official account's template messages (模板消息), by kind (accepted,
	// resolved, escalated, remind_confirm, followup_asked): sent instead when a customer
	// service message cannot be (the customer has not written within 48 hours).
	Templates map[string]NotifyTemplate `yaml:"templates"`
}

// NotifyTemplate is a template message: the template's id in the account's 模板库, the link
// it opens, and its data by key. Values may use the placeholders of MessageKinds' messages:
// {id}, {title}, {engineer}, {confirm_url}, {tracking_url}, {time}, {nth}.
type NotifyTemplate struct {
	TemplateID string            `yaml:"template_id"`
	URL        string            `yaml:"url"`
	Data       map[string]string `yaml:"data"`
}

// NotifyWeCom sends staff notifications through a wechat.work connector's app.
type NotifyWeCom struct {
	// Connector names the wechat.work connector whose app (corp_id, agent_id, corp_secret)
	// sends.
	Connector string `yaml:"connector"`
	// Users maps gongdan's people (engineer and lead ids) to WeCom UserIDs; unlisted ids are
	// taken as UserIDs.
	Users map[string]string `yaml:"users"`
	// Assigned: an engineer is told of each ticket assigned to them (default true).
	Assigned *bool `yaml:"assigned"`
	// RoutingFailed: the team lead is told when routing finds no one (default true).
	RoutingFailed *bool `yaml:"routing_failed"`
	// SLA: the people of SLA warnings, breaches and tiers are told (default true).
	SLA *bool `yaml:"sla"`
	// Urged: the assignee is told when the customer urges on the tracking page (催单;
	// default true).
	Urged *bool `yaml:"urged"`
}

// On reports a switch that defaults to true.
func On(b *bool) bool { return b == nil || *b }

func (n *Notify) validate(connectors []Connector) []problem {
	var ps []problem
	if w := n.WeCom; w != nil {
		found := false
		for _, c := range connectors {
			if c.Name == w.Connector {
				found = true
				if c.Type != "wechat.work" {
					ps = append(ps, problemf("wecom.connector", "%s is a %s connector; WeCom app messages need a wechat.work one", c.Name, c.Type))
				}
			}
		}
		if w.Connector == "" {
			ps = append(ps, problemf("wecom.connector", "name the wechat.work connector whose app sends the messages"))
		} else if !found {
			ps = append(ps, problemf("wecom.connector", "no connector is named %q", w.Connector))
		}
	}
	if c := n.Customers; c != nil {
		for kind, tpl := range c.Templates {
			key := "customers.templates." + kind
			ps = append(ps, checkKind(key, kind)...)
			if tpl.TemplateID == "" {
				ps = append(ps, problemf(key+".template_id", "required: the template's id in the account's 模板库"))
			}
			if len(tpl.Data) == 0 {
				ps = append(ps, problemf(key+".data", "required: the template's keys (first, keyword1, …, remark) and their values"))
			}
			ps = append(ps, checkPlaceholders(key+".url", tpl.URL)...)
			for k, v := range tpl.Data {
				ps = append(ps, checkPlaceholders(key+".data."+k, v)...)
			}
		}
		found := false
		for _, con := range connectors {
			found = found || con.Type == "wechat.officialaccount" || con.Type == "wechat.kf"
		}
		if !found && !n.Channels.Configured(ChannelSMS) && !n.Channels.Configured(ChannelEmail) {
			ps = append(ps, problemf("customers", "customers are told where they wrote, and there is no wechat.officialaccount or wechat.kf connector; or add notify.channels.sms or email to reach them there"))
		}
	}
	if ch := n.Channels; ch != nil {
		if n.Customers == nil {
			ps = append(ps, problemf("channels", "reach customers, and there is no notify.customers section saying what they are told; add customers: {} for every message"))
		}
		ps = append(ps, under("channels", ch.validate())...)
	}
	return ps
}

func (n *Notify) setDefaults() {
	if n.Channels != nil {
		n.Channels.setDefaults()
	}
}
