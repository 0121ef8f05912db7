package track

import (
	"net/http"

	"gongdan/web/webkit"
)

// lang is the page's language (webkit.LangOf).
type lang = webkit.Lang

const (
	zh = webkit.ZH
	en = webkit.EN
)

const langCookie = webkit.LangCookie

func langOf(r *http.Request) lang { return webkit.LangOf(r) }

// words are the page's texts, by key, in each language.
var words = webkit.Words{ // [zh, en]
	"title":           {"报修进度", "Your service request"},
	"ticket":          {"工单号", "Ticket"},
	"request":         {"您的报修", "Your request"},
	"progress":        {"处理进度", "Progress"},
	"since":           {"已持续", "for"},
	"engineer":        {"维修工程师", "Engineer"},
	"promised":        {"承诺完成时间", "Promised by"},
	"expected":        {"预计完成时间", "Expected by"},
	"similar":         {"（按同类工单的通常用时）", "(as similar requests usually take)"},
	"overdue":         {"已超时，我们正在加急处理", "Overdue: we are hurrying"},
	"timeline":        {"动态", "History"},
	"add":             {"补充信息", "Add information"},
	"add_hint":        {"补充说明或上传照片（最多 %d 张，每张不超过 %s）", "Add a note or photos (up to %d, %s each)"},
	"photos":          {"照片", "Photos"},
	"send":            {"提交", "Send"},
	"urge":            {"催单", "Hurry up"},
	"urge_hint":       {"每小时可催单一次", "You can hurry once an hour"},
	"urged_at":        {"您已于 %s 催单，我们已通知工程师", "You asked at %s; the engineer was told"},
	"confirm":         {"请确认维修结果", "Please confirm the repair"},
	"solved":          {"问题解决了吗？", "Is the problem solved?"},
	"yes":             {"已解决", "Solved"},
	"no":              {"没有解决", "Not solved"},
	"timeliness":      {"响应及时性", "Timeliness"},
	"professionalism": {"专业程度", "Professionalism"},
	"comment":         {"其他意见（可选）", "Comments (optional)"},
	"submit":          {"提交评价", "Submit"},
	"thanks":          {"感谢您的评价！", "Thank you for your feedback!"},
	"disputed":        {"已收到：我们会继续处理您的问题。", "Noted: we keep working on it."},
	"auto":            {"您未在规定时间内确认，系统已自动确认。", "You did not answer in time; the system confirmed."},
	"followup":        {"回访：问题是否再次出现？", "Follow-up: has the problem come back?"},
	"came_back":       {"又出现了", "Yes, it came back"},
	"not_back":        {"没有再出现", "No, all good"},
	"what_now":        {"现在的情况（可选）", "What happens now (optional)"},
	"repeat_opened":   {"已为您新建工单 %s，我们会尽快处理。", "We opened ticket %s for you and are on it."},
	"followup_fine":   {"感谢回访反馈！", "Thank you for telling us!"},
	"confirmed":       {"已确认，待关闭", "Confirmed, closing soon"},
	"rejected":        {"该报修已被驳回", "This request was declined"},
	"done_note":       {"已收到您的补充信息。", "Your information was added."},
	"done_urge":       {"已催单，工程师已收到提醒。", "The engineer was asked to hurry."},
	"too_soon":        {"一小时内只能催单一次。", "You can hurry once an hour."},
	"stale":           {"页面已过期，请刷新后重试。", "This page is out of date: reload and try again."},
	"bad_photo":       {"只能上传图片（JPEG、PNG、GIF、WebP），且不超过大小限制。", "Only images (JPEG, PNG, GIF, WebP) within the size limit."},
	"state_wait":      {"等待备件", "Waiting for parts"},
	"state_pause":     {"暂停", "Paused"},
	"state_esc":       {"已升级处理", "Escalated"},
	"none_yet":        {"待分派", "Not assigned yet"},
	"lang_other":      {"English", "中文"},
	"step_new":        {"已受理", "Received"},
	"step_assigned":   {"已派单", "Assigned"},
	"step_accepted":   {"已接单", "Accepted"},
	"step_progress":   {"处理中", "In progress"},
	"step_resolved":   {"已完成", "Fixed"},
	"step_confirm":    {"待确认", "Your confirmation"},
	"step_closed":     {"已关闭", "Closed"},
	"ev_create":       {"报修已提交", "Request received"},
	"ev_source":       {"报修收到了新的信息", "More information came in"},
	"colon":           {"：", ": "},
	"n_photos":        {"（%d 张照片）", " (%d photos)"},
	"ev_assign":       {"已派单给 %s", "Assigned to %s"},
	"ev_accept":       {"工程师已接单", "The engineer accepted"},
	"ev_start":        {"工程师开始处理", "Work started"},
	"ev_parts":        {"等待备件", "Waiting for parts"},
	"ev_parts_ok":     {"备件已到", "Parts arrived"},
	"ev_pause":        {"暂停处理", "Paused"},
	"ev_resume":       {"继续处理", "Work resumed"},
	"ev_resolve":      {"工程师已完成维修，等待您确认", "Fixed: waiting for your confirmation"},
	"ev_confirm":      {"您已确认", "You confirmed"},
	"ev_dispute":      {"您反馈问题未解决，已重新处理", "You said it is not solved: work resumed"},
	"ev_auto":         {"系统自动确认", "Confirmed by the system"},
	"ev_close":        {"工单已关闭", "Closed"},
	"ev_reopen":       {"重新处理", "Reopened"},
	"ev_escalate":     {"已升级处理", "Escalated"},
	"ev_reject":       {"已驳回", "Declined"},
	"ev_note":         {"您补充了信息", "You added information"},
	"ev_urge":         {"您催单", "You asked us to hurry"},
	"ev_remind":       {"提醒您确认维修结果", "Reminder to confirm"},
	"ev_followup":     {"回访：询问问题是否复现", "Follow-up question"},
	"ev_followup_yes": {"您反馈问题复现，已新建工单 %s", "You reported it came back: ticket %s"},
	"ev_followup_no":  {"您反馈问题未复现", "You reported all is well"},
}
