// Package dictionaries holds the category dictionaries shipped inside the gongdan binary, for
// normalize.LoadDictionary.
package dictionaries

import _ "embed" // for go:embed

// Faults is faults.yaml: fault categories for plant and facility maintenance (急停故障, 设备过热,
// 设备离线, 漏水, …), each with the keywords and synonyms that point to it.
//
//go:embed faults.yaml
var Faults []byte
