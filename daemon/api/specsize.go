package api

// MaxSpecSize is the largest app definition, in bytes of its JSON
// encoding (mostly its environment and arguments): a start whose definition
// is larger is refused. The daemon's runtime records are sized from it, so
// that every app it starts can be taken over by the next daemon.
const MaxSpecSize = 1 << 20
