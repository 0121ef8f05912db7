// Package all registers every connector type with connectors.Global. The binary imports it;
// a connector package that is not listed here does not exist for users.
package all

import (
	_ "gongdan/connectors/hotline"
	_ "gongdan/connectors/mqtt"
	_ "gongdan/connectors/ocr"
	_ "gongdan/connectors/webhook"
	_ "gongdan/connectors/wechat"
)
