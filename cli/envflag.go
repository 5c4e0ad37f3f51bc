package cli

import ucli "github.com/urfave/cli/v2"

// envFlag is the value of `opm start --env K=V`: every K=V exactly as
// typed, repeatable. urfave's StringSliceFlag would not do: it splits a
// value on commas ("--env HOSTS=a,b"), trims spaces, and copies itself to
// the flag's alias (-e) through JSON, which turns bytes that are not UTF-8
// into U+FFFD. An environment value is bytes, and reaches the app as
// such.
type envFlag struct{ kvs []string }

// aliasCopy is what Serialize gives urfave to copy the value to the flag's
// other names, which share this value already: Set ignores it. It holds a
// NUL, which no argument on the command line can.
const aliasCopy = "\x00opm: copy to an alias"

func (e *envFlag) Set(kv string) error {
	if kv != aliasCopy {
		e.kvs = append(e.kvs, kv)
	}
	return nil
}

func (e *envFlag) String() string { return "" }

// Serialize implements urfave's Serializer, used to copy a flag's value
// to its aliases.
func (e *envFlag) Serialize() string { return aliasCopy }

// envFlagValues returns the K=V values given to the flag name.
func envFlagValues(c *ucli.Context, name string) []string {
	if e, ok := c.Generic(name).(*envFlag); ok {
		return e.kvs
	}
	return nil
}
