// Package store holds the file formats of the state that outlives a
// daemon: the dump ($OPM_HOME/dump.json, the saved app list, written only
// on `opm save`, atomically) and the runtime records (<runtime>/apps/, in
// RAM, what a new daemon needs to take over live apps). It reads and
// writes them, checks what it reads, and never touches the app table; when
// the daemon writes them is the supervisor's rule.
//
// Files:
//
//	dump.go     the dump: WriteDump, ReadDump, SetAside, RemoveStaleTemps
//	records.go  the runtime records: Record, Records (one file per app)
package store
