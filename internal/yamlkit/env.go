package yamlkit

import (
	"fmt"
	"strings"
)

// ExpandEnv replaces ${NAME} with the environment variable NAME, ${NAME:-default} with default
// when NAME is unset or empty, and $$ with a single $. Any other $ is kept as it is, so a
// password with a $ in it needs no escaping unless a { or another $ follows.
//
// It returns one message per reference it could not expand. Messages name variables but never
// quote s or a variable's value: either may be a secret.
func ExpandEnv(s string, lookup func(string) (string, bool)) (string, []string) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var (
		b    strings.Builder
		errs []string
	)
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "$$"):
			b.WriteByte('$')
			s = s[2:]
		case strings.HasPrefix(s, "${"):
			end := strings.IndexByte(s, '}')
			if end < 0 {
				errs = append(errs, "unterminated ${ (close it with }, or write $$ for a literal $)")
				return "", errs
			}
			expr := s[2:end]
			s = s[end+1:]
			name, fallback, hasFallback := strings.Cut(expr, ":-")
			if !isEnvName(name) {
				errs = append(errs, "malformed ${...}: write ${NAME} or ${NAME:-default} with NAME made of letters, digits and _, or $$ for a literal $")
				continue
			}
			v, ok := lookup(name)
			switch {
			case hasFallback && v == "":
				v = fallback
			case !ok:
				errs = append(errs, fmt.Sprintf("environment variable %s is not set", name))
			}
			b.WriteString(v)
		default:
			b.WriteByte('$')
			s = s[1:]
		}
	}
	if errs != nil {
		return "", errs
	}
	return b.String(), nil
}

// isEnvName reports whether s is a portable environment variable name.
func isEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range []byte(s) {
		if c != '_' && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
