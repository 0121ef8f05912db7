//go:build !(linux && cgo && msgaudit)

package wechat

import "errors"

// SDKBuilt: this binary does not link WeCom's Finance SDK.
const SDKBuilt = false

// errNoSDK says how to get a binary that reads the archive.
const errNoSDK = "wechat.archive needs gongdan built with WeCom's Finance SDK: go build -tags msgaudit ./cmd/gongdan " +
	"(Linux, cgo; the SDK ships in github.com/silenceper/wechat/v2/work/msgaudit/lib and must be on LD_LIBRARY_PATH at run time)"

// sdk refuses: without the SDK the archive cannot be read.
func (a *Archive) sdk() (archiveSource, error) { return nil, errors.New(errNoSDK) }
