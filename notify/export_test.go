package notify

import "fmt"

func FmtTypeOf(err error) string { return fmt.Sprintf("%T", err) }
