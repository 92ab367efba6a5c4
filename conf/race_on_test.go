//go:build race

package conf

// raceEnabled says the race detector is on: its costs grow with the heap,
// so timings under it say nothing about the code's own complexity.
const raceEnabled = true
