package wechat

import "gongdan/draft"

// Sample is the dry run (gongdan normalize, gongdan test): the envelope a message would make,
// given as the decrypted XML WeChat sends (the <xml> with ToUserName, FromUserName,
// CreateTime, MsgType, …). Signatures and encryption are the callback's business and are not
// part of a dry run.
func (c *Callback) Sample(payload []byte, _ map[string]string) ([]draft.Envelope, error) {
	m, err := parseMessage(payload)
	if err != nil {
		return nil, err
	}
	return []draft.Envelope{c.newEnvelope(m, payload)}, nil
}
