package wxshot

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// SerialPatterns are the device-serial patterns the corpus's serials are written for, in the
// form normalize.CompileDevicePatterns takes (and configs/gongdan.yaml's device_patterns):
// a bare E-number (E202308001) and a code after SN (SN: ABC123456, whose value is ABC123456).
var SerialPatterns = []string{`\bE\d{9}\b`, `SN[:：]?\s*([A-Z0-9]{8,16})`}

// The people of the groups: customers, often with their organisation in brackets, staff, and
// plain two- and three-character, nickname and Latin names.
var (
	customerNames = []string{
		"刘经理(苏州精工)", "王工(华东运维)", "陈主管(恒信物业)", "周总(宏达机械)", "赵姐(锦绣花园)",
		"孙工(昆山厂区)", "李娜", "王磊", "赵敏", "孙强", "周洁", "吴昊", "刘建国", "陈晓燕", "黄志明",
		"Kevin", "Lily Wang", "Tony", "Amy Chen", "阿杰", "小美", "马骏", "郭靖", "何静(前台)",
		"徐师傅(设备科)", "林", "Jason Li",
	}
	staffNames = []string{
		"张工(售后)", "客服小王", "调度-陈", "李师傅", "售后经理 黄", "王强", "Eric(技术支持)", "小周",
	}
	groupNames = []string{
		"苏州精工设备售后群", "恒信物业报修群", "华东区空调维保对接群", "宏达机械客户服务群",
		"锦绣花园物业服务群", "园区设施维修群", "冷链设备运维群", "电梯维保沟通群", "昆山厂区设备报修",
	}
)

// A customer's request is assembled from these parts: what broke, where, how to reach them.
var (
	greetings = []string{"你好，", "您好，", "师傅你好，", "麻烦问下，", "", "在吗？", "客服你好，"}
	problems  = []struct{ device, fault string }{
		{"空压机", "今天早上开始频繁报高温停机"},
		{"中央空调外机", "不制冷了，出风口一直是热风"},
		{"3号电梯", "门关不上，一直在反复开关门"},
		{"消防水泵", "压力上不去，控制柜报E04故障"},
		{"冷库机组", "温度一直降不下来，现在零上5度"},
		{"配电柜", "有一路一直跳闸，合不上去"},
		{"净水设备", "漏水，地上一大滩水"},
		{"门禁一体机", "刷卡没反应，屏幕黑屏了"},
		{"燃气锅炉", "点火失败，显示故障代码F2"},
		{"叉车充电机", "充不进电，指示灯一直闪红灯"},
		{"新风机组", "噪音特别大，有咔咔的异响"},
		{"商用热水器", "不出热水，水温只有二十几度"},
		{"注塑机", "液压油温过高报警，已经停机"},
		{"地下车库排风机", "不转了，闻到一股焦味"},
	}
	places   = []string{"我们厂里", "我们这边", "二号车间的", "小区里", "我们公司", "一楼机房的", "仓库的", ""}
	closings = []string{
		"麻烦尽快安排师傅上门，谢谢！", "今天能来吗？比较急。", "生产线停着，急！", "请帮忙看下怎么处理。",
		"谢谢", "明天上午有人在。", "麻烦派人过来看看", "",
	}
	// addresses are province, city, district, street: each one ExtractAddress reads.
	addresses = [][4]string{
		{"江苏省", "苏州市", "工业园区", "星湖街"},
		{"浙江省", "杭州市", "滨江区", "江南大道"},
		{"广东省", "深圳市", "南山区", "科技园南路"},
		{"", "上海市", "浦东新区", "张江路"},
		{"", "北京市", "朝阳区", "酒仙桥路"},
		{"四川省", "成都市", "高新区", "天府大道"},
		{"山东省", "青岛市", "黄岛区", "长江中路"},
		{"福建省", "厦门市", "思明区", "湖滨南路"},
		{"河南省", "郑州市", "金水区", "花园路"},
		{"江苏省", "无锡市", "新吴区", "长江路"},
		{"湖北省", "武汉市", "洪山区", "珞喻路"},
		{"", "天津市", "滨海新区", "黄海路"},
	}
	buildings = []string{"", "", "3栋", "B座", "2号楼", "5幢101室", "A区"}
	contacts  = []string{"联系人%s，电话%s", "有事打我电话 %[2]s", "现场联系人%s %s", "联系电话：%[2]s", "电话%[2]s（%[1]s）", "手机%[2]s"}
	titles    = []string{"刘经理", "王工", "陈师傅", "李主管", "张姐", "小赵", "周先生"}
)

// Short messages: the owner's and staff's replies, customers' follow-ups.
var (
	ownerReplies = []string{
		"收到", "好的，马上安排", "已登记，今天下午安排师傅过去", "请问设备铭牌能拍一下吗？",
		"师傅大概2点到", "好的", "收到，稍等我确认一下配件", "已派单，工程师会提前电话联系您",
		"麻烦发一下具体位置", "这个型号需要换压缩机，我先报个价", "明天上午9点前到现场可以吗？",
		"好的，已经修好了请确认一下", "稍等", "在的，您说",
	}
	staffReplies = []string{
		"我这边跟进", "今天在昆山，明天上午过去可以吗", "配件已寄出，单号SF1423567890", "已到现场",
		"问题已处理，压力恢复正常", "这个需要厂家来人", "我下午有空，我去吧", "收到",
		"麻烦客户把故障代码拍一下", "已经联系客户了",
	}
	customerFollowups = []string{
		"好的谢谢", "什么时候能到？", "师傅到了吗", "已经修好了，谢谢", "好的，辛苦了",
		"今天下午能来吗", "还是不行，又报警了", "收到", "麻烦快一点", "门卫那边我打过招呼了",
		"发票怎么开？", "嗯嗯",
	}
	quoteReplies = []string{"这个是哪个厂区的？", "这台上次刚修过吧", "已安排", "型号是多少？", "地址收到", "这个我来处理"}
	files        = []struct{ name, size string }{
		{"报价单-空压机维修.pdf", "356.2K"}, {"设备巡检记录表2026.xlsx", "1.2M"},
		{"故障照片.zip", "8.4M"}, {"维保合同(2026版).docx", "88K"}, {"电梯年检报告.pdf", "2.3M"},
	}
	links = []struct{ title, desc string }{
		{"设备报修登记 - 在线填写", "点击填写报修信息，我们将尽快安排工程师上门"},
		{"空调不制冷的10个常见原因", "夏季来临，空调不制冷怎么办？先自查这几项"},
		{"2026年度维保服务说明", "服务范围、响应时间与收费标准"},
	}
	stickerWords = []string{"收到", "好的", "辛苦了", "谢谢老板", "OK", "在忙", "马上到"}
	greetingsRed = []string{"恭喜发财，大吉大利", "辛苦了", "谢谢师傅", "节日快乐"}
)

// pick returns one of xs.
func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// phone makes a mainland mobile and the way it is written: 13812345678, 138-1234-5678 or
// 138 1234 5678.
func phone(r *rand.Rand) (digits, written string) {
	d := fmt.Sprintf("1%d%d%08d", 3+r.IntN(7), r.IntN(10), r.IntN(100000000))
	switch r.IntN(4) {
	case 0:
		return d, d[:3] + "-" + d[3:7] + "-" + d[7:]
	case 1:
		return d, d[:3] + " " + d[3:7] + " " + d[7:]
	}
	return d, d
}

// serial makes a device serial in one of SerialPatterns' forms and its value.
func serial(r *rand.Rand) (value, written string) {
	const alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
	switch r.IntN(3) {
	case 0:
		v := fmt.Sprintf("E%d%02d%03d", 2019+r.IntN(8), 1+r.IntN(12), r.IntN(1000))
		return v, pick(r, []string{"设备编号%s", "编号%s", "机器上写的%s"})
	default:
		n := 8 + r.IntN(5)
		var b strings.Builder
		for i := range n {
			if i < 2 {
				b.WriteByte(alnum[r.IntN(24)]) // a letter first, as on nameplates
			} else {
				b.WriteByte(alnum[r.IntN(len(alnum))])
			}
		}
		return b.String(), pick(r, []string{"SN: %s", "SN：%s", "铭牌SN:%s", "序列号 SN %s"})
	}
}

// address makes an address ExtractAddress reads, as written.
func address(r *rand.Rand) string {
	a := pick(r, addresses)
	s := a[0] + a[1] + a[2] + a[3] + fmt.Sprintf("%d号", 1+r.IntN(999)) + pick(r, buildings)
	if a[0] != "" && r.IntN(4) == 0 {
		s = strings.TrimPrefix(s, a[0]) // the province left out, as people often do
	}
	return s
}

// request writes a customer's request: fault, serial, address, phone, in a shuffled order
// of the last three, long enough to wrap at the bubble's maximum width.
func request(r *rand.Rand) Message {
	p := pick(r, problems)
	ph, phWritten := phone(r)
	sn, snForm := serial(r)
	addr := address(r)
	parts := []string{
		fmt.Sprintf(snForm, sn),
		pick(r, []string{"地址：", "地址是", "在", "位置："}) + addr,
		fmt.Sprintf(pick(r, contacts), pick(r, titles), phWritten),
	}
	r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	text := pick(r, greetings) + pick(r, places) + p.device + p.fault + "，" + strings.Join(parts, "，") + "。" + pick(r, closings)
	return Message{Kind: Text, Text: text, Phones: []string{ph}, Serials: []string{sn}, Address: addr}
}

// separator writes the time WeChat shows above a message sent at t, seen at now: today's
// "10:32" (or 上午/下午 in twelve-hour mode), "昨天 18:05", "星期三 09:12" within the week,
// "2026年11月3日 上午9:41" before that.
func separator(t, now time.Time, twelve bool) string {
	clock := t.Format("15:04")
	if twelve {
		half, h := "上午", t.Hour()%12
		if t.Hour() >= 12 {
			half = "下午"
		}
		if h == 0 {
			h = 12
		}
		clock = fmt.Sprintf("%s%d:%02d", half, h, t.Minute())
	}
	day := func(x time.Time) time.Time { y, m, d := x.Date(); return time.Date(y, m, d, 0, 0, 0, 0, x.Location()) }
	days := int(day(now).Sub(day(t)).Hours() / 24)
	switch {
	case days == 0:
		return clock
	case days == 1:
		return "昨天 " + clock
	case days < 7:
		return [...]string{"星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"}[t.Weekday()] + " " + clock
	}
	return fmt.Sprintf("%d年%d月%d日 %s", t.Year(), t.Month(), t.Day(), clock)
}
