// Package proc is opm's one home for facts about processes, read from
// /proc: a process's stat (state, parent, group, session, CPU ticks, RSS,
// start time), its argv and environment, the sessions apps lead, the
// clocks start times count on, and the resource counters the benchmark
// reads. The daemon, the benchmark and the tests all use it; it imports
// nothing of opm. (shm, which imports nothing of opm either, is handed the
// one fact it records — its owner's start time — by its callers.)
//
// It reads /proc by hand rather than through gopsutil (opm's dependency
// for host metrics, which the benchmark uses for the machine's facts):
// one pass over every process's stat, as `opm list` needs to sum each
// app's session, costs 0.62 ms for 66 processes on this project's
// development machine, where gopsutil's Processes with Times and
// MemoryInfo costs 6.5 ms — and gopsutil has no session id at all.
// Sessions does better still: it remembers which session each process is
// in, so that a pass reads only the processes of the sessions asked about
// and those it has not seen (on Linux 5.7 and newer, where a PID handed
// out again is told by the inode of its /proc entry). Times
// since boot come from CLOCK_BOOTTIME, to the tick: gopsutil's boot time
// is whole seconds, too coarse for a CPU rate over a young process's life.
//
// Files:
//
//	stat.go     /proc/<pid>/stat: Stat, ReadStat, Each, StartTime, Alive
//	clock.go    clock ticks since boot (Uptime) and the wall time of a start
//	environ.go  argv and environment: Argv, Environ, EnvValue, HasEnv
//	session.go  the processes of the sessions apps lead, summed
//	usage.go    resource counters of one process (memory, CPU, I/O, wake-ups)
package proc
