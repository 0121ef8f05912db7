package notify

import "fmt"

func FmtTypeOf(err error) string { return fmt.Sprintf("%T", err) }

// MobileE164 is mobileE164, for its table.
func MobileE164(phone string) (string, bool) { return mobileE164(phone) }
