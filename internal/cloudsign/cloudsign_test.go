package cloudsign

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Tencent's worked example of 签名方法 v3 (TC3-HMAC-SHA256), "签名方法 v3", CVM API docs
// (https://cloud.tencent.com/document/api/213/30654), also in Tencent's own demo
// (github.com/TencentCloud/signature-process-demo, signature-v3): DescribeInstances at
// cvm.tencentcloudapi.com, timestamp 1551113065, the key as the page masks it. The page's
// signature is 2230eefd…; the international site's page
// (https://www.tencentcloud.com/zh/document/api/1021/34193) gives 72e494ea… for the same
// request with its EXAMPLE key.
func TestTencentTC3MatchesTheDocumentedExample(t *testing.T) {
	payload := []byte(`{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`)
	for _, c := range []struct{ id, key, signature string }{
		{"AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", "Gu5t9xGARNpq86cd98joQYCN3*******", "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"},
		{"AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"},
	} {
		got := TencentTC3Authorization(c.id, c.key, "cvm", "cvm.tencentcloudapi.com", "application/json; charset=utf-8", 1551113065, payload)
		assert.Equal(t, "TC3-HMAC-SHA256 Credential="+c.id+"/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature="+c.signature, got)
	}
}

// Aliyun's worked example of the RPC (POP) signature, "Request signature"/"签名机制" of the ECS
// API reference (https://help.aliyun.com/document_detail/25492.html): DescribeRegions with
// AccessKeyId testid and secret testsecret signs to OLeaidS1JvxuMvnyHOwuJ+uX5qY=.
func TestAliyunPOPMatchesTheDocumentedExample(t *testing.T) {
	params := map[string]string{
		"Timestamp": "2016-02-23T12:46:24Z", "Format": "XML", "AccessKeyId": "testid", "Action": "DescribeRegions",
		"SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "Version": "2014-05-26",
		"SignatureVersion": "1.0",
	}
	assert.Equal(t, "OLeaidS1JvxuMvnyHOwuJ+uX5qY=", AliyunPOPSignature("GET", params, "testsecret"))
	params["Signature"] = "ignored: never part of what is signed"
	assert.Equal(t, "OLeaidS1JvxuMvnyHOwuJ+uX5qY=", AliyunPOPSignature("GET", params, "testsecret"))
	// Aliyun's percent-encoding: space %20, * %2A, ~ kept, / and : encoded.
	assert.Equal(t, "a%20b%2Ac~d%2F%3A", PercentEncode("a b*c~d/:"))
}
