package console

import (
	"fmt"

	"gongdan/web/webkit"
)

// words are the console's texts, by key: [Chinese, English]. Pages add theirs with addWords.
var words = webkit.Words{
	"nav":                      {"导航", "Navigation"},
	"signin":                   {"登录", "Sign in"},
	"signout":                  {"退出", "Sign out"},
	"api_token":                {"API 令牌", "API token"},
	"wecom_signin":             {"企业微信登录", "Sign in with WeCom"},
	"bad_token":                {"令牌无效", "That token is not valid"},
	"not_console_role":         {"该令牌的角色不能使用控制台", "This token's role cannot use the console"},
	"signed_out":               {"请先登录", "Please sign in"},
	"signed_out_detail":        {"会话已过期或已退出，请重新登录。", "Your session ended; please sign in again."},
	"forbidden":                {"无权访问", "Not allowed"},
	"forbidden_detail":         {"您的角色不能查看或执行此操作。", "Your role may not see or do this."},
	"csrf":                     {"请求被拒绝", "Request refused"},
	"csrf_detail":              {"表单已失效或来自其他网站，请刷新页面后重试。", "The form expired or came from another site; reload the page and try again."},
	"not_found":                {"页面不存在", "Not found"},
	"not_found_detail":         {"没有这个页面。", "There is no such page."},
	"internal":                 {"服务暂时不可用", "Temporarily unavailable"},
	"internal_detail":          {"请稍后再试。", "Please try again shortly."},
	"bad_form":                 {"表单无法读取", "The form could not be read"},
	"bad_form_detail":          {"请刷新页面后重试。", "Reload the page and try again."},
	"back":                     {"返回控制台", "Back to the console"},
	"live_on":                  {"实时", "Live"},
	"live_off":                 {"重新连接中…", "Reconnecting…"},
	"role_admin":               {"管理员", "admin"},
	"role_supervisor":          {"主管", "supervisor"},
	"role_dispatcher":          {"调度", "dispatcher"},
	"role_engineer":            {"工程师", "engineer"},
	"role_agent":               {"客服", "agent"},
	"role_qa":                  {"质检", "QA"},
	"state_new":                {"新建", "new"},
	"state_assigned":           {"已分派", "assigned"},
	"state_accepted":           {"已受理", "accepted"},
	"state_in_progress":        {"处理中", "in progress"},
	"state_awaiting_parts":     {"需补料", "awaiting parts"},
	"state_paused":             {"暂停", "paused"},
	"state_resolved":           {"已完成", "resolved"},
	"state_customer_confirmed": {"客户确认", "customer confirmed"},
	"state_closed":             {"已关闭", "closed"},
	"state_rejected":           {"已驳回", "rejected"},
	"state_escalated":          {"已升级", "escalated"},
	"state_archived":           {"归档", "archived"},
}

// addWords adds a page's texts (from its init). A key two pages define differently is a
// mistake that would show one page the other's words: it stops the program at start (and
// so every test).
func addWords(w webkit.Words) {
	for k, v := range w {
		if old, ok := words[k]; ok && old != v {
			panic(fmt.Sprintf("console: the text %q is defined twice: %q and %q", k, old, v))
		}
		words[k] = v
	}
}
