// Package electoral defines French electoral geography and its identifiers: communes,
// bureaux de vote, elections and results, with the rules that turn the many spellings
// found in public files into canonical keys. It does no I/O.
package electoral
